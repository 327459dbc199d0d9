package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
)

// maxAnswer bounds what devhost reads of the handler's answer: an HTTP
// function's body travels inside it, possibly escaped.
const maxAnswer = 32 << 20

// answer is the handler's reply to one invocation:
// {"Outputs":{…},"Logs":[…],"ReturnValue":…} and its HTTP status, which
// for the host is the invocation's outcome.
type answer struct {
	status      int
	outputs     map[string]json.RawMessage
	logs        []string
	returnValue json.RawMessage
}

func (a answer) ok() bool { return a.status >= 200 && a.status <= 299 }

// output returns the output binding called name ("$return" is the
// ReturnValue), looked up ignoring case as the host does.
func (a answer) output(name string) (json.RawMessage, bool) {
	if name == "$return" {
		return a.returnValue, len(a.returnValue) > 0 && string(a.returnValue) != "null"
	}
	if v, ok := a.outputs[name]; ok {
		return v, true
	}
	for k, v := range a.outputs {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// invoker sends invocations to the handler.
type invoker struct {
	worker *worker
	client *http.Client
	// timeout is host.json's functionTimeout; 0 means none.
	timeout time.Duration
	log     *slog.Logger
}

// invoke POSTs payload (built with hostcall) to /<function> with the
// invocation id header and reads the answer. A transport failure, or a 2xx answer that is not the host's
// JSON (which the host would fail too), is an error; any other non-2xx
// answer is an answer whose ok is false.
func (iv *invoker) invoke(ctx context.Context, function, invocationID string, payload []byte) (answer, error) {
	if iv.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, iv.timeout)
		defer cancel()
	}
	base, err := iv.worker.baseURL(ctx)
	if err != nil {
		return answer{}, err
	}
	resp, err := hostcall.Invoke(ctx, iv.client, base, function, invocationID, payload)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && iv.timeout > 0 {
			return answer{}, fmt.Errorf("the invocation exceeded host.json functionTimeout %s: %w", iv.timeout, err)
		}
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return answer{status: resp.StatusCode}, fmt.Errorf("read the handler's answer: %w", err)
	}
	if len(b) > maxAnswer {
		return answer{status: resp.StatusCode}, fmt.Errorf("the handler's answer is over %d bytes", maxAnswer)
	}
	a := answer{status: resp.StatusCode}
	var wire struct {
		Outputs     map[string]json.RawMessage `json:"Outputs"`
		Logs        []json.RawMessage          `json:"Logs"`
		ReturnValue json.RawMessage            `json:"ReturnValue"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		if !a.ok() {
			return a, nil // a failure either way; the status says it
		}
		return a, fmt.Errorf("the handler answered %d with a body that is not the host's JSON {\"Outputs\",\"Logs\",\"ReturnValue\"}: %v (body starts %q)", a.status, err, head(b, 120))
	}
	a.outputs, a.returnValue = wire.Outputs, wire.ReturnValue
	for _, l := range wire.Logs {
		var s string
		if json.Unmarshal(l, &s) != nil {
			s = string(l)
		}
		a.logs = append(a.logs, s)
	}
	return a, nil
}

// logInvocation writes the one line an invocation gets: what ran, what it
// was triggered by, how it ended, and what the handler logged.
func (iv *invoker) logInvocation(function, trigger, invocationID, outcome string, status int, start time.Time, a answer, err error, attrs ...any) {
	level := slog.LevelInfo
	if err != nil || !strings.HasPrefix(outcome, "completed") && outcome != "succeeded" {
		level = slog.LevelWarn
	}
	args := append([]any{
		"function", function, "trigger", trigger, "invocationId", invocationID,
		"outcome", outcome, "status", status, "durationMs", time.Since(start).Milliseconds(),
	}, attrs...)
	if len(a.logs) > 0 {
		args = append(args, "handlerLogs", a.logs)
	}
	if err != nil {
		args = append(args, "error", err.Error())
	}
	iv.log.Log(context.Background(), level, "invocation", args...)
}

func head(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
