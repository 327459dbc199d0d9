package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// deliveries counts what the harness, standing in for the host, delivered.
type deliveries struct {
	total, failed, deadLettered atomic.Int64
}

// deliver hands one message to the handler as the host does, and again
// with a higher delivery count after every non-2xx answer or broken
// connection, until it is completed or its delivery count passes last
// (then Service Bus would dead-letter it). first is the delivery count of
// the first attempt. It returns whether the message was completed.
func (s *stack) deliver(ctx context.Context, h *handler, d *deliveries, e event, first, last int) bool {
	for n := first; n <= last; n++ {
		if ctx.Err() != nil {
			return false
		}
		env := queueEnvelope(e.Function, e.ID, n, e.Body, s.now)
		status, body, err := h.invoke(ctx, e.Function, newGUID(), env)
		d.total.Add(1)
		s.keep(fmt.Sprintf("answer to %s delivery %d", e.ID, n), body)
		if err != nil {
			s.record(e.ID, fmt.Sprintf("#%d %v", n, err))
		} else {
			s.record(e.ID, fmt.Sprintf("#%d %d %s", n, status, outcomeOf(body, e.ID)))
		}
		if err == nil && okStatus(status) {
			return true
		}
		d.failed.Add(1)
		if n < last {
			select {
			case <-time.After(s.opts.RetryDelay):
			case <-ctx.Done():
				return false
			}
		}
	}
	d.deadLettered.Add(1)
	return false
}

// forEach runs f for every event, n at a time.
func forEach(ctx context.Context, events []event, n int, f func(e event)) {
	work := make(chan event)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				f(e)
			}
		}()
	}
	for _, e := range events {
		if ctx.Err() != nil {
			break
		}
		work <- e
	}
	close(work)
	wg.Wait()
}

// Duplicates delivers every event three times to the handler process, two
// of the copies at the same moment (which pair is drawn from the seed: the
// first two, racing each other for the grant's ETag, or the last two, both
// finding the event in the ledger), and checks that each event changed its
// grant once: one activation in the audit trail, one role assignment per
// role, one notification per party and channel.
func Duplicates(ctx context.Context, env Env, opts Options) (Result, error) {
	start := time.Now()
	s, err := newStack(ctx, env, opts, "duplicates", opts.Events, nil)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	res := Result{Name: "duplicates", Seed: opts.Seed}
	h, err := startHandler(ctx, env.Bins.Handler, s.settings, s.output("handler stderr"))
	if err != nil {
		return res, err
	}
	pairFirst := make(map[string]bool, len(s.events()))
	for _, e := range s.events() {
		pairFirst[e.ID] = s.rng.IntN(2) == 0
	}
	var d deliveries
	var done atomic.Int64
	forEach(ctx, s.events(), opts.Concurrency, func(e event) {
		pair := func(a, b int) {
			var wg sync.WaitGroup
			for _, n := range []int{a, b} {
				wg.Add(1)
				go func() { defer wg.Done(); s.deliver(ctx, h, &d, e, n, opts.MaxDeliveries+n-1) }()
			}
			wg.Wait()
		}
		if pairFirst[e.ID] {
			pair(1, 2)
			s.deliver(ctx, h, &d, e, 3, opts.MaxDeliveries+2)
		} else {
			s.deliver(ctx, h, &d, e, 1, opts.MaxDeliveries)
			pair(2, 3)
		}
		if n := done.Add(1); n%100 == 0 {
			env.progress("duplicates: %d/%d events delivered three times", n, len(s.events()))
		}
	})
	h.Stop(30 * time.Second)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return s.conclude(ctx, res, start, &d, nil)
}

// Faults processes every event once, delivering it again after each failed
// delivery as the host would (up to MaxDeliveries), while the proxies in
// front of Table Storage, the queues, Graph and the webhook sinks break a
// share of all requests: 503, 429 with Retry-After 1 or 0, a reset
// connection, or 2 s of latency. Every event must reach its final state
// once, with every notification delivered once.
func Faults(ctx context.Context, env Env, opts Options) (Result, error) {
	start := time.Now()
	s, err := newStack(ctx, env, opts, "faults", opts.Events, nil)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	res := Result{Name: "faults", Seed: opts.Seed, FaultRate: opts.FaultRate}
	h, err := startHandler(ctx, env.Bins.Handler, s.settings, s.output("handler stderr"))
	if err != nil {
		return res, err
	}
	env.progress("faults: seed %d, fault rate %.2f, latency %s", opts.Seed, opts.FaultRate, opts.Latency)
	s.in.setRate(opts.FaultRate)
	var d deliveries
	var done atomic.Int64
	forEach(ctx, s.events(), opts.Concurrency, func(e event) {
		s.deliver(ctx, h, &d, e, 1, opts.MaxDeliveries)
		if n := done.Add(1); n%100 == 0 {
			env.progress("faults: %d/%d events settled", n, len(s.events()))
		}
	})
	s.in.setRate(0)
	h.Stop(30 * time.Second)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	f := s.in.figures()
	res.Faults = &f
	return s.conclude(ctx, res, start, &d, nil)
}

// conclude verifies the final state, scans for secrets and fills res.
// explained picks out the findings a crash accounts for: a duplicate
// notification, or one that arrived but is still unsent in the outbox, of
// an event whose delivery a kill cut short.
func (s *stack) conclude(ctx context.Context, res Result, start time.Time, d *deliveries, explained func(Finding) bool) (Result, error) {
	res.Deliveries, res.Failed, res.DeadLettered = int(d.total.Load()), int(d.failed.Load()), int(d.deadLettered.Load())
	t, findings, err := verify(ctx, s, s.events())
	if err != nil {
		return res, err
	}
	res.Tally = &t
	var violations []Finding
	for _, f := range findings {
		switch {
		case explained != nil && f.Kind == kindDupNotification && explained(f):
			res.CrashDuplicates = append(res.CrashDuplicates, f)
		case explained != nil && f.Kind == kindPendingOutbox && explained(f):
			res.SentNotRecorded = append(res.SentNotRecorded, f)
		default:
			violations = append(violations, f)
		}
	}
	scan := scanSecrets(s)
	res.Secrets = &scan
	if res.DeadLettered > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d message(s) failed all %d deliveries and would be dead-lettered", res.DeadLettered, s.opts.MaxDeliveries))
	}
	res.finish(start, violations)
	return res, nil
}

// outcomeOf reads the handler's own account of a delivery from the Logs
// of its answer ("<message id>: duplicate"), for the evidence.
func outcomeOf(answer []byte, messageID string) string {
	var a struct{ Logs []string }
	if json.Unmarshal(answer, &a) != nil {
		return ""
	}
	for _, l := range a.Logs {
		if rest, ok := strings.CutPrefix(l, messageID+": "); ok {
			if len(rest) > 120 {
				rest = rest[:120] + "…"
			}
			return "(" + rest + ")"
		}
	}
	return ""
}

// okStatus reports a 2xx status.
func okStatus(code int) bool { return code >= http.StatusOK && code <= 299 }
