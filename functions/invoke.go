package functions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// Size limits. An HTTP function's body is refused over funchost.MaxHTTPBody
// (256 KiB, 413); the envelope around it is JSON with the body as an
// escaped string, so it may be several times larger.
const maxEnvelope = funchost.DefaultLimit

// outcomeRejected is the outcome of a message kept in Rejected.
const outcomeRejected = "rejected"

// call is one invocation: its trace carries the invocation id and function
// name, and collects the lines the host shows.
type call struct {
	name  string
	trace *lifecycle.Trace
	start time.Time
}

func newCall(d Deps, name string, r *http.Request) (*call, context.Context) {
	id := r.Header.Get(funchost.InvocationIDHeader)
	tr := lifecycle.NewTrace(d.Logger).With("function", name, "invocationId", id)
	return &call{name: name, trace: tr, start: time.Now()}, lifecycle.WithTrace(r.Context(), tr)
}

func (c *call) log() *slog.Logger { return c.trace.Log() }

func (c *call) ms() int64 { return time.Since(c.start).Milliseconds() }

// readEnvelope reads the raw invocation so that a message that cannot be
// decoded can still be kept whole.
func readEnvelope(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxEnvelope+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxEnvelope {
		return b[:maxEnvelope], funchost.ErrTooLarge
	}
	return b, nil
}

// queueHandler processes one decoded queue message and returns its outcome.
type queueHandler func(ctx context.Context, msg funchost.QueueMessage) (lifecycle.Outcome, error)

// queueFunction decodes a Service Bus invocation, runs h, and answers the
// host: 200 when the message is done with (processed, duplicate, stale,
// refused, or rejected and kept in Rejected), non-2xx when it must be
// redelivered.
func queueFunction(d Deps, name string, h queueHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ctx := newCall(d, name, r)
		raw, err := readEnvelope(r)
		var msg funchost.QueueMessage
		if err == nil {
			var inv funchost.Invocation
			inv, err = funchost.Decode(bytes.NewReader(raw), maxEnvelope)
			if err == nil {
				msg, err = inv.Queue("msg")
			}
		}
		if err != nil {
			// The envelope itself is unreadable: keep all of it.
			c.finishQueue(ctx, d, w, "", raw, access.WrapKind(access.KindInvalid, err, "decode invocation"))
			return
		}
		c.trace = c.trace.With("messageId", msg.ID, "deliveryCount", msg.DeliveryCount)
		ctx = lifecycle.WithTrace(ctx, c.trace)
		outcome, err := h(ctx, msg)
		if err != nil {
			c.finishQueue(ctx, d, w, msg.ID, msg.Body, err)
			return
		}
		c.trace.Linef("%s: %s", msg.ID, outcome)
		c.log().Info("invocation done", "outcome", string(outcome), "ms", c.ms())
		_ = funchost.WriteOutcome(w, http.StatusOK, c.trace.Lines())
	})
}

// finishQueue answers a failed queue invocation: bad input is kept whole in
// Rejected and completed; anything else fails the invocation so that the
// message is redelivered (and dead-lettered after maxDeliveryCount).
func (c *call) finishQueue(ctx context.Context, d Deps, w http.ResponseWriter, messageID string, body []byte, err error) {
	status := outcomeStatus(err)
	if status == http.StatusOK {
		rerr := errors.New("no lifecycle to keep the rejected message")
		if d.Lifecycle != nil {
			rerr = d.Lifecycle.Reject(ctx, c.name, messageID, body, err)
		}
		if rerr == nil {
			c.trace.Linef("%s: rejected: %v", messageID, err)
			c.log().Warn("message rejected", "outcome", outcomeRejected, "reason", err.Error(), "ms", c.ms())
			_ = funchost.WriteOutcome(w, http.StatusOK, c.trace.Lines())
			return
		}
		err, status = rerr, http.StatusServiceUnavailable
	}
	c.trace.Linef("%s: failed, will be retried: %v", messageID, err)
	c.failed(status, err)
	_ = funchost.WriteOutcome(w, status, c.trace.Lines())
}

func (c *call) failed(status int, err error) {
	c.log().Error("invocation failed", "status", status, "kind", access.KindOf(err).String(), "err", err.Error(), "ms", c.ms())
}

// outcomeStatus is the one place that decides what an error means to the
// host for a queue or timer function. 200 means "done with it": only bad
// input that no retry can fix. Everything else asks for a redelivery (a
// timer's failure is logged by the host and the next run tries again).
func outcomeStatus(err error) int {
	switch access.KindOf(err) {
	case access.KindInvalid, access.KindRefused, access.KindNotFound:
		return http.StatusOK
	case access.KindTransient, access.KindConflict:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// decodeBinding reads the host's request and decodes its binding called
// name with get (funchost.Invocation.Timer or HTTP).
func decodeBinding[T any](r *http.Request, get func(funchost.Invocation, string) (T, error), name string) (T, error) {
	inv, err := funchost.DecodeRequest(r, maxEnvelope)
	if err != nil {
		var zero T
		return zero, err
	}
	return get(inv, name)
}

// timerHandler runs one timer invocation.
type timerHandler func(ctx context.Context, t funchost.TimerInfo) error

func timerFunction(d Deps, name string, h timerHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ctx := newCall(d, name, r)
		t, err := decodeBinding(r, funchost.Invocation.Timer, "timer")
		if err == nil {
			err = h(ctx, t)
		}
		status := http.StatusOK
		if err != nil {
			// A timer has no message to keep: a bad invocation and a failed
			// run both fail it, whatever their kind.
			if status = outcomeStatus(err); status == http.StatusOK {
				status = http.StatusInternalServerError
			}
			c.trace.Linef("failed: %v", err)
			c.failed(status, err)
		} else {
			c.log().Info("invocation done", "ms", c.ms())
		}
		_ = funchost.WriteOutcome(w, status, c.trace.Lines())
	})
}

// httpHandler answers one HTTP trigger.
type httpHandler func(ctx context.Context, req funchost.HTTPRequest) (funchost.HTTPResponse, error)

// httpFunction decodes an HTTP trigger invocation (without request
// forwarding), runs h, and answers through Outputs.res; errors become
// problem responses.
func httpFunction(d Deps, name string, h httpHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ctx := newCall(d, name, r)
		req, err := decodeBinding(r, funchost.Invocation.HTTP, "req")
		var res funchost.HTTPResponse
		switch {
		case errors.Is(err, funchost.ErrTooLarge):
			res = funchost.Problem(http.StatusRequestEntityTooLarge, "Body too large",
				fmt.Sprintf("the request body is limited to %d KiB", funchost.MaxHTTPBody>>10), nil)
		case err != nil:
			res = funchost.Problem(http.StatusBadRequest, "Malformed invocation", err.Error(), nil)
		default:
			res, err = h(ctx, req)
			if err != nil {
				res = problem(err)
			}
		}
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelWarn
			if res.StatusCode >= 500 {
				level = slog.LevelError
			}
		}
		c.log().Log(ctx, level, "invocation done", "status", res.StatusCode, "ms", c.ms(), "err", errString(err))
		_ = funchost.WriteHTTP(w, res, c.trace.Lines())
	})
}
