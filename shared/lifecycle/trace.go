package lifecycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// Trace is what one invocation tells: its structured log, with the
// invocation's attributes, and the short lines the host shows with the
// invocation. Use cases find it in their context; a child trace (With)
// adds attributes and shares the lines.
type Trace struct {
	log   *slog.Logger
	lines *lines
}

type lines struct {
	mu   sync.Mutex
	list []string
}

// NewTrace returns a trace logging to l (nil: nowhere).
func NewTrace(l *slog.Logger) *Trace {
	if l == nil {
		l = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return &Trace{log: l, lines: &lines{}}
}

// Log is the trace's structured logger.
func (t *Trace) Log() *slog.Logger { return t.log }

// With returns a child trace whose log carries args too.
func (t *Trace) With(args ...any) *Trace { return &Trace{log: t.log.With(args...), lines: t.lines} }

// Linef adds a line for the host.
func (t *Trace) Linef(format string, args ...any) {
	t.lines.mu.Lock()
	t.lines.list = append(t.lines.list, fmt.Sprintf(format, args...))
	t.lines.mu.Unlock()
}

// Lines are the lines so far.
func (t *Trace) Lines() []string {
	t.lines.mu.Lock()
	defer t.lines.mu.Unlock()
	return append([]string(nil), t.lines.list...)
}

type traceKey struct{}

// WithTrace returns ctx carrying t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceOf returns the trace ctx carries, or one that keeps nothing.
func TraceOf(ctx context.Context) *Trace {
	if t, ok := ctx.Value(traceKey{}).(*Trace); ok {
		return t
	}
	return NewTrace(nil)
}

// traced returns ctx with a child trace carrying args, and that trace.
func traced(ctx context.Context, args ...any) (context.Context, *Trace) {
	t := TraceOf(ctx).With(args...)
	return WithTrace(ctx, t), t
}
