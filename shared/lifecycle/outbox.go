package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// claimFor is how long a sender holds an outbox entry: longer than any one
// send may take (sendTimeout), so that two senders never send the same
// entry. A sender that fails releases its claims at once; one that crashes
// holds them this long, and a redelivery then waits for them to lapse.
const (
	claimFor    = 45 * time.Second
	sendTimeout = 20 * time.Second
	// waitPoll is how often a duplicate delivery looks again at entries
	// another sender holds.
	waitPoll = 250 * time.Millisecond
)

// send carries out the outbox entries this invocation holds, all at once
// (they are independent), then records those that were done in one
// transaction. An entry that fails stays unsent, its claim released, and
// fails the use case so that the redelivery does it; the others are not
// repeated.
func (s *Service) send(ctx context.Context, g access.Grant, es []access.OutboxEntry) error {
	if len(es) == 0 {
		return nil
	}
	tr := TraceOf(ctx)
	errs := make([]error, len(es))
	var wg sync.WaitGroup
	for i := range es {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.carryOut(ctx, g, es[i])
		}()
	}
	wg.Wait()
	var done []access.OutboxEntry
	var failed []error
	for i, e := range es {
		if errs[i] != nil {
			tr.Log().Warn("outbox entry not done", "entry", e.ID, "what", e.Describe(), "err", errs[i].Error())
			failed = append(failed, errs[i])
			s.release(ctx, e)
			continue
		}
		e.Sent, e.SentAt = true, s.Now()
		done = append(done, e)
		if e.Kind == access.OutboxNotify {
			tr.Linef("notified %s", e.Describe())
		} else {
			tr.Linef("%s", e.Describe())
		}
	}
	if len(done) > 0 {
		if err := s.store.MarkAllSent(ctx, done); err != nil {
			failed = append(failed, fmt.Errorf("record outbox entries done: %w", err))
		}
	}
	if err := errors.Join(failed...); err != nil {
		// Whatever the channel said, the outbox keeps the entry: retry.
		return access.WrapKind(access.KindTransient, err, "outbox entries pending")
	}
	return nil
}

// carryOut is the one executor of each kind of outbox entry.
func (s *Service) carryOut(ctx context.Context, g access.Grant, e access.OutboxEntry) error {
	switch e.Kind {
	case access.OutboxSchedule:
		return s.schedule(ctx, g)
	case access.OutboxPublish:
		if e.Message == nil {
			return access.Errorf(access.KindInternal, "outbox entry %s has no message", e.ID)
		}
		if err := s.pub.Publish(ctx, *e.Message); err != nil {
			return fmt.Errorf("publish %s to %s: %w", e.Message.ID, e.Message.Queue, err)
		}
		return nil
	case access.OutboxNotify:
		if e.Notification == nil || s.notifier == nil {
			return access.Errorf(access.KindInternal, "outbox entry %s: no notification or no notifier", e.ID)
		}
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		defer cancel()
		if err := s.notifier.Notify(sctx, *e.Notification); err != nil {
			return fmt.Errorf("notify %s: %w", e.Describe(), err)
		}
		return nil
	}
	return access.Errorf(access.KindInternal, "outbox entry %s has an unknown kind %q", e.ID, e.Kind)
}

// release gives back the claim on an entry whose send failed, so that the
// redelivery the failure causes can send it at once. If the release fails
// too, the claim lapses by itself.
func (s *Service) release(ctx context.Context, e access.OutboxEntry) {
	if err := s.store.Release(ctx, e); err != nil {
		TraceOf(ctx).Log().Warn("could not release an outbox entry", "entry", e.ID, "err", err.Error())
	}
}

// schedule records the due-index entry of the grant's next action, so that
// the sweep finds it if the queue loses it, then publishes its
// grant-expiring message for when it is due. It runs after the commit, as
// part of the outbox, so the index holds only committed schedules (an
// extension or an end leaves stale entries, which the sweep's messages find
// stale and drop). The grant is as it is now: if it ended since, nothing is
// due.
func (s *Service) schedule(ctx context.Context, g access.Grant) error {
	if !live(g) {
		return nil
	}
	n := s.nextAction(g)
	d := access.DueEntry{Due: n.Due, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, Stage: n.Stage}
	if err := s.store.SetDue(ctx, d); err != nil {
		return fmt.Errorf("record due %d-day action of %s: %w", n.Stage, g.ID, err)
	}
	m := ExpiringMessage(g.CustomerTenantID, g.ID, g.ExpiresAt, n.Stage, s.Now())
	msg := m.message(n.Due)
	msg.Properties = map[string]any{"grantId": g.ID, "noticeDays": n.Stage}
	if err := s.pub.Publish(ctx, msg); err != nil {
		return fmt.Errorf("schedule %d-day action of %s: %w", n.Stage, g.ID, err)
	}
	return s.scheduleReview(ctx, g)
}

// nextAction is the grant's next scheduled action: the next notice stage
// not sent yet, or the expiry. Only the next one is scheduled: each action,
// once done, schedules the one after it, so that an extension or an end
// leaves at most one stale message and one stale due entry behind.
//
// Stages are counted from when the grant began, not from now: a 10-day
// grant never gets a 30-day notice, but a notice missed while the app was
// down is still due, and is published at once.
func (s *Service) nextAction(g access.Grant) access.Notice {
	from := g.CreatedAt
	if from.IsZero() {
		from = s.Now()
	}
	return s.opts.Policy.Schedule(from, g.ExpiresAt, g.NoticesSent)[0]
}

// ExpiringMessage is the grant-expiring message of one stage of a grant.
// Its id derives from grant, expiry and stage, so a repeat is dropped by
// Service Bus duplicate detection or by the ledger; an extended grant gets
// new ids for its new expiry.
func ExpiringMessage(customer, grantID string, expiresAt time.Time, stage int, now time.Time) GrantExpiring {
	h := sha256.Sum256([]byte(customer + "\n" + grantID + "\n" + expiresAt.UTC().Format(time.RFC3339) + "\n" + strconv.Itoa(stage)))
	return GrantExpiring{
		Event:            Event{EventID: "exp-" + hex.EncodeToString(h[:12]) + "-" + strconv.Itoa(stage), OccurredAt: now},
		CustomerTenantID: customer, GrantID: grantID, NoticeDays: &stage, ExpiresAt: expiresAt.UTC(),
	}
}

// publishEntry is the outbox entry that publishes m once the change is
// committed.
func publishEntry(eventID string, g access.Grant, m access.Message) access.OutboxEntry {
	return access.OutboxEntry{ID: eventID + "/publish", CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, EventID: eventID,
		Kind: access.OutboxPublish, Message: &m}
}

// scheduleEntry is the outbox entry that schedules the grant's next action
// once the change is committed.
func scheduleEntry(eventID string, g access.Grant) access.OutboxEntry {
	return access.OutboxEntry{ID: eventID + "/schedule", CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, EventID: eventID,
		Kind: access.OutboxSchedule}
}

// live reports whether a grant has an end date still to be acted on: an
// active grant, or a Lighthouse grant whose template went out.
func live(g access.Grant) bool {
	return g.Status == access.StatusActive || (g.Status == access.StatusPending && g.Method == access.Lighthouse && !g.ExpiresAt.IsZero())
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // only the package's own plain structs reach here
	}
	return b
}
