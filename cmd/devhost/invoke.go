package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// maxAnswer bounds what devhost reads of the handler's answer: an HTTP
// function's body travels inside it, possibly escaped.
const maxAnswer = 32 << 20

// envelope is one invocation as the host POSTs it to /<function>:
// {"Data":{<trigger binding>:…},"Metadata":{…,"sys":{…}}}.
type envelope struct {
	Data     map[string]any `json:"Data"`
	Metadata map[string]any `json:"Metadata"`
}

// sysMetadata is Metadata.sys, which the host adds to every invocation.
type sysMetadata struct {
	MethodName string `json:"MethodName"`
	UtcNow     string `json:"UtcNow"`
	RandGuid   string `json:"RandGuid"`
}

func newSys(function string, now time.Time) sysMetadata {
	return sysMetadata{MethodName: function, UtcNow: hostNow(now), RandGuid: newGUID()}
}

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

// invoke POSTs env to /<function> with the invocation id header and reads
// the answer. A transport failure, or a 2xx answer that is not the host's
// JSON (which the host would fail too), is an error; any other non-2xx
// answer is an answer whose ok is false.
func (iv *invoker) invoke(ctx context.Context, function, invocationID string, env envelope) (answer, error) {
	if iv.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, iv.timeout)
		defer cancel()
	}
	base, err := iv.worker.baseURL(ctx)
	if err != nil {
		return answer{}, err
	}
	body, err := marshal(env)
	if err != nil {
		return answer{}, fmt.Errorf("encode the invocation: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/"+function, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(funchost.InvocationIDHeader, invocationID)
	resp, err := iv.client.Do(req)
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

// marshal encodes without HTML escaping, as the host's serializer does.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonQuoted renders s as a JSON string, which is how the host sends string
// metadata: "MessageId":"\"abc\"".
func jsonQuoted(s string) string {
	b, _ := marshal(s) // a string always encodes
	return string(b)
}

// Times in the host's formats (.NET's round-trip format): sys.UtcNow with
// seven fraction digits and a Z, *Utc metadata without a zone, the other
// times with +00:00.
func hostNow(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func hostUTC(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.9999999") }

func hostZoned(t time.Time) string { return hostUTC(t) + "+00:00" }

// newGUID returns a random (version 4) GUID, the form of the host's
// invocation ids, RandGuid and lock tokens.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func head(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
