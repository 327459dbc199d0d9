package reliability

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// Delays processes every event once while the simulator takes its time as
// Microsoft's services do: each guest stays invisible to reads and role
// assignment for ReplicationDelay after its invitation, and each GDAP
// relationship, approved at the start, goes approved, activating, then
// active over ActivationDelay. The first deliveries meet a world that is
// not ready: they must be answered deferred (200, never a failure), and the
// re-checks the handler schedules for itself, delivered when due as the
// host would, must bring every grant to active in the end, with nothing
// rejected and nothing dead-lettered.
func Delays(ctx context.Context, env Env, opts Options) (Result, error) {
	start := time.Now()
	invited := time.Now().UTC()
	s, err := newStack(ctx, env, opts, "delays", opts.Events, func(w *workload) {
		for i := range w.Customers {
			for j := range w.Customers[i].Users {
				w.Customers[i].Users[j].CreatedDateTime = invited
			}
		}
		for i := range w.Rels {
			w.Rels[i].Status = access.RelApprovalPending
		}
	})
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	res := Result{Name: "delays", Seed: opts.Seed}
	if err := s.sim.SetDelays(graphsim.Delays{Activation: opts.ActivationDelay, Replication: opts.ReplicationDelay}); err != nil {
		return res, err
	}
	for _, r := range s.work.Rels {
		if err := s.sim.ApproveRelationship(r.ID); err != nil {
			return res, fmt.Errorf("approve %s: %w", r.ID, err)
		}
	}
	if err := s.clearQueues(ctx); err != nil {
		return res, err
	}
	h, err := startHandler(ctx, env.Bins.Handler, s.settings, s.output("handler stderr"))
	if err != nil {
		return res, err
	}
	var d deliveries
	var deferredFirst atomic.Int64
	forEach(ctx, s.events(), opts.Concurrency, func(e event) {
		s.deliver(ctx, h, &d, e, 1, opts.MaxDeliveries)
		if strings.Contains(s.lastOutcome(e.ID), "deferred") {
			deferredFirst.Add(1)
		}
	})
	// The re-checks: the handler published them to its own queues, due
	// later; deliver each when it is due, until every grant is active.
	rechecks := 0
	deadline := time.Now().Add(opts.Settle)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		done, err := s.allActive(ctx)
		if err != nil {
			return res, err
		}
		if done {
			break
		}
		for _, q := range []string{fnInvitationSent, fnGDAPApproved} {
			ds, err := s.queues.Receive(ctx, q, 32, time.Minute)
			if err != nil {
				return res, fmt.Errorf("receive %s: %w", q, err)
			}
			for _, dl := range ds {
				e := event{Function: q, ID: dl.Envelope.MessageID, Body: dl.Envelope.Body}
				rechecks++
				if s.deliver(ctx, h, &d, e, 1, opts.MaxDeliveries) {
					if err := s.queues.Delete(ctx, dl); err != nil {
						return res, fmt.Errorf("delete %s: %w", e.ID, err)
					}
				}
			}
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
	h.Stop(30 * time.Second)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Notes = append(res.Notes, fmt.Sprintf("replication %s, activation %s: %d of %d first deliveries deferred, %d re-checks delivered",
		opts.ReplicationDelay, opts.ActivationDelay, deferredFirst.Load(), len(s.events()), rechecks))
	res, err = s.conclude(ctx, res, start, &d, nil)
	if err != nil {
		return res, err
	}
	if rej, err := s.rejectedCount(ctx); err != nil {
		return res, err
	} else if rej > 0 {
		res.Violations = append(res.Violations, Finding{Kind: kindNotFinal, Detail: fmt.Sprintf("%d message(s) rejected while the world caught up", rej)})
		res.ViolationsTotal++
		res.Pass = false
	}
	if res.Failed > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d deliveries failed: waiting must answer deferred, not fail", res.Failed))
		res.Pass = false
	}
	return res, nil
}

// allActive reports whether every event's grant is active.
func (s *stack) allActive(ctx context.Context) (bool, error) {
	for _, e := range s.events() {
		g, _, err := s.store.Grant(ctx, e.Customer, e.GrantID)
		if access.IsKind(err, access.KindNotFound) || (err == nil && g.Status != access.StatusActive) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// rejectedCount counts this scenario's messages that the queue functions
// kept in Rejected today.
func (s *stack) rejectedCount(ctx context.Context) (int, error) {
	n := 0
	for _, fn := range []string{fnInvitationSent, fnGDAPApproved} {
		rej, err := s.store.Rejections(ctx, fn, time.Now())
		if err != nil {
			return 0, err
		}
		for _, r := range rej {
			if strings.HasPrefix(r.MessageID, "rel-"+s.name+"-") {
				n++
			}
		}
	}
	return n, nil
}

// lastOutcome is how the last delivery of an event ended.
func (s *stack) lastOutcome(eventID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.history[eventID]; len(h) > 0 {
		return h[len(h)-1]
	}
	return ""
}
