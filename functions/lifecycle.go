package functions

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

// How many times a state change is re-read and re-decided after losing an
// ETag race before the invocation gives up and lets the host redeliver.
const maxAttempts = 5

// claimFor is how long a sender holds an outbox row: longer than any one
// send may take (sendTimeout), so that two senders never send the same row.
// A sender that fails releases its claims at once; one that crashes holds
// them this long, and a redelivery then waits for them to lapse.
const (
	claimFor    = 45 * time.Second
	sendTimeout = 20 * time.Second
	// waitPoll is how often a duplicate delivery looks again at rows
	// another sender holds.
	waitPoll = 250 * time.Millisecond
)

// decision is what a handler decided for one event on one grant.
type decision struct {
	outcome string
	// next is the grant after the event; nil when nothing is written
	// (a stale notice, an event that changes nothing).
	next   *access.Grant
	audit  []access.AuditEntry
	outbox []access.Notification
	// done are due-index entries this event completes, forgotten once the
	// change is committed (not before: a failed commit keeps them for the
	// sweep).
	done []access.DueEntry
}

// decideFunc decides an event against the grant as stored now (Status
// StatusNew if there is none). It may call Graph; whatever it does there
// must be idempotent, since a lost race decides again.
type decideFunc func(ctx context.Context, g access.Grant) (decision, error)

// applyEvent is the one path by which an event changes a grant: it decides
// against the stored grant and commits grant + audit + ledger + outbox as
// one transaction guarded by the grant's ETag, deciding again on a lost
// race. An event already in the ledger is answered as a duplicate, after
// finishing what its first delivery left undone. After the commit it sends
// the outbox: the notifications, the promised queue messages and the
// grant's next scheduled action (its due entry and its message).
func (c *call) applyEvent(ctx context.Context, customerTenantID, grantID, eventID string, decide decideFunc) (string, error) {
	st := c.d.Store
	c.log = c.log.With("grantId", grantID)
	for attempt := 1; ; attempt++ {
		// The ledger is not read first: the commit adds the event's ledger
		// row, so a duplicate cannot be applied twice, and the ledger is read
		// only when the commit loses or the decision writes nothing, which
		// is when a duplicate shows.
		g, version, err := st.Grant(ctx, customerTenantID, grantID)
		switch {
		case access.IsKind(err, access.KindNotFound):
			g, version = access.Grant{ID: grantID, CustomerTenantID: customerTenantID}, ""
		case err != nil:
			return "", fmt.Errorf("read grant %s: %w", grantID, err)
		}
		dec, err := decide(ctx, g)
		if err != nil {
			return "", err
		}
		if dec.next == nil {
			// Nothing to write: the event may be one already applied whose
			// first delivery did not finish sending.
			if dup, err := c.ifApplied(ctx, customerTenantID, eventID); dup || err != nil {
				return outcomeDuplicate, err
			}
			return dec.outcome, nil
		}
		next := *dec.next
		// This invocation sends what it commits: the rows are written
		// already claimed, so that a concurrent copy of the message that
		// finds the event in the ledger does not send them too.
		for i := range dec.outbox {
			dec.outbox[i].ClaimedUntil = c.d.now().Add(claimFor)
		}
		_, err = st.Commit(ctx, access.Change{
			Grant: next, Version: version, EventID: eventID, Outcome: dec.outcome,
			Audit: dec.audit, Outbox: dec.outbox,
		})
		if access.IsKind(err, access.KindConflict) {
			if dup, lerr := c.ifApplied(ctx, customerTenantID, eventID); dup || lerr != nil {
				return outcomeDuplicate, lerr
			}
			if attempt < maxAttempts {
				c.log.Info("lost a race, deciding again", "attempt", attempt)
				continue
			}
		}
		if err != nil {
			return "", fmt.Errorf("commit %s of %s: %w", dec.outcome, grantID, err)
		}
		c.logf("grant %s: %s -> %s", grantID, statusWord(g.Status), next.Status)
		for _, due := range dec.done {
			if err := st.DeleteDue(ctx, due); err != nil {
				// Harmless: the sweep finds the grant past this stage.
				c.log.Warn("could not forget a due entry", "stage", due.Stage, "err", err.Error())
			}
		}
		return dec.outcome, c.send(ctx, next, dec.outbox)
	}
}

// ifApplied reports whether the event is in the ledger already and, if so,
// finishes what its first delivery may have left undone.
func (c *call) ifApplied(ctx context.Context, customerTenantID, eventID string) (bool, error) {
	entry, seen, err := c.d.Store.Processed(ctx, customerTenantID, eventID)
	if err != nil {
		return false, fmt.Errorf("read ledger: %w", err)
	}
	if !seen {
		return false, nil
	}
	c.log.Info("event already applied", "outcome", entry.Outcome, "at", entry.At)
	return true, c.finishDuplicate(ctx, customerTenantID, entry)
}

// finishDuplicate completes what the first delivery of an event may not
// have done before it failed: whatever is still unsent in its outbox
// (notifications, and the publishing of the grant's schedule). Rows another
// sender holds are left to it while its claim runs; if they are still
// unsent when the claim lapses (that sender died), they are sent here.
func (c *call) finishDuplicate(ctx context.Context, customerTenantID string, entry access.LedgerEntry) error {
	deadline := time.Now().Add(claimFor + 5*time.Second)
	var g access.Grant
	for loaded := false; ; {
		unsent, err := c.d.Store.Unsent(ctx, customerTenantID, entry.EventID)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(unsent) == 0 {
			return nil
		}
		if !loaded && entry.GrantID != "" {
			if g, _, err = c.d.Store.Grant(ctx, customerTenantID, entry.GrantID); err != nil && !access.IsKind(err, access.KindNotFound) {
				return fmt.Errorf("read grant %s: %w", entry.GrantID, err)
			}
			loaded = true
		}
		var mine []access.Notification
		for _, n := range unsent {
			ok, err := c.d.Store.Claim(ctx, n, c.d.now().Add(claimFor))
			if err != nil {
				return fmt.Errorf("claim notification %s: %w", n.ID, err)
			}
			if ok {
				mine = append(mine, n)
			}
		}
		if err := c.send(ctx, g, mine); err != nil {
			return err
		}
		if len(mine) == len(unsent) {
			return nil
		}
		if time.Now().After(deadline) {
			return access.Errorf(access.KindTransient, "%d notifications of event %s are held by another sender", len(unsent)-len(mine), entry.EventID)
		}
		select {
		case <-ctx.Done():
			return access.WrapKind(access.KindTransient, ctx.Err(), "waiting for another sender")
		case <-time.After(waitPoll):
		}
	}
}

// send delivers the outbox rows this invocation holds, all at once (they
// are independent), then records those that went out in one transaction.
// A row that fails stays unsent, its claim released, and fails the
// invocation so that the redelivery sends it; the others are not repeated.
func (c *call) send(ctx context.Context, g access.Grant, ns []access.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.sendOne(ctx, g, ns[i])
		}()
	}
	wg.Wait()
	var sent []access.Notification
	var failed []error
	for i, n := range ns {
		if errs[i] != nil {
			c.log.Warn("outbox row not sent", "channel", n.Channel, "audience", n.Audience, "err", errs[i].Error())
			failed = append(failed, errs[i])
			c.release(ctx, n)
			continue
		}
		n.Sent, n.SentAt = true, c.d.now()
		sent = append(sent, n)
		if n.Channel == access.ChannelPublish || n.Channel == access.ChannelSchedule {
			c.logf("%s", n.Subject)
		} else {
			c.logf("notified %s by %s", n.Audience, n.Channel)
		}
	}
	if len(sent) > 0 {
		if err := c.d.Store.MarkAllSent(ctx, sent); err != nil {
			failed = append(failed, fmt.Errorf("record notifications sent: %w", err))
		}
	}
	if err := errors.Join(failed...); err != nil {
		// Whatever the channel said, the outbox keeps the row: retry.
		return access.WrapKind(access.KindTransient, err, "notifications pending")
	}
	return nil
}

// sendOne carries out one outbox row: a notification through its channel,
// a promised queue message, or the grant's schedule (its due-index entry,
// then its scheduled message).
func (c *call) sendOne(ctx context.Context, g access.Grant, n access.Notification) error {
	switch {
	case n.Channel == access.ChannelSchedule:
		// The grant as it is now: if it ended since, nothing is due.
		if !live(g) {
			return nil
		}
		if err := c.recordSchedule(ctx, g); err != nil {
			return err
		}
		return c.publishSchedule(ctx, g)
	case n.Channel == access.ChannelPublish && n.Message != nil:
		if err := c.d.Publisher.Publish(ctx, *n.Message); err != nil {
			return fmt.Errorf("publish %s to %s: %w", n.Message.ID, n.Message.Queue, err)
		}
		return nil
	case c.d.Notifier == nil:
		return access.Errorf(access.KindInternal, "no notifier for %s", n.Channel)
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	if err := c.d.Notifier.Notify(sctx, n); err != nil {
		return fmt.Errorf("notify %s by %s: %w", n.Audience, n.Channel, err)
	}
	return nil
}

// nextAction is the grant's next scheduled action: the next notice stage
// not sent yet, or the expiry. Only the next one is scheduled: each action,
// once done, schedules the one after it, so that an extension or an end
// leaves at most one stale message and one stale due entry behind.
//
// Stages are counted from when the grant began, not from now: a 10-day
// grant never gets a 30-day notice, but a notice missed while the app was
// down is still due, and is published at once.
func (c *call) nextAction(g access.Grant) access.Notice {
	from := g.CreatedAt
	if from.IsZero() {
		from = c.d.now()
	}
	return c.d.policy().Schedule(from, g.ExpiresAt, g.NoticesSent)[0]
}

// release gives back the claim on a row whose send failed, so that the
// redelivery the failure causes can send it at once. If the release fails
// too, the claim lapses by itself.
func (c *call) release(ctx context.Context, n access.Notification) {
	if err := c.d.Store.Release(ctx, n); err != nil {
		c.log.Warn("could not release a notification", "notification", n.ID, "err", err.Error())
	}
}

// recordSchedule writes the due-index entry of the grant's next action, so
// that the sweep finds it if the queue loses it. It runs after the commit,
// as part of the outbox, so the index holds only committed schedules (an
// extension or an end leaves stale entries, which the sweep's messages find
// stale and drop).
func (c *call) recordSchedule(ctx context.Context, g access.Grant) error {
	n := c.nextAction(g)
	d := access.DueEntry{Due: n.Due, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, Stage: n.Stage}
	if err := c.d.Store.SetDue(ctx, d); err != nil {
		return fmt.Errorf("record due %d-day action of %s: %w", n.Stage, g.ID, err)
	}
	return nil
}

// publishSchedule schedules the grant-expiring message of the grant's next
// action. Its id derives from grant, expiry and stage, so a repeat is
// dropped by Service Bus duplicate detection or by the ledger.
func (c *call) publishSchedule(ctx context.Context, g access.Grant) error {
	n := c.nextAction(g)
	m := expiringMessage(g, n.Stage, c.d.now())
	if err := c.d.Publisher.Publish(ctx, access.Message{
		Queue: FnGrantExpiring, ID: m.EventID, Body: mustJSON(m), NotBefore: n.Due,
		Properties: map[string]any{"grantId": g.ID, "noticeDays": n.Stage},
	}); err != nil {
		return fmt.Errorf("schedule %d-day action of %s: %w", n.Stage, g.ID, err)
	}
	return nil
}

// expiringMessage is the grant-expiring message of one stage of a grant.
type expiringBody struct {
	EventID          string    `json:"eventId"`
	OccurredAt       time.Time `json:"occurredAt"`
	CustomerTenantID string    `json:"customerTenantId"`
	GrantID          string    `json:"grantId"`
	NoticeDays       int       `json:"noticeDays"`
	ExpiresAt        time.Time `json:"expiresAt"`
}

func expiringMessage(g access.Grant, stage int, now time.Time) expiringBody {
	return expiringBody{
		EventID: expiringID(g.CustomerTenantID, g.ID, g.ExpiresAt, stage), OccurredAt: now,
		CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, NoticeDays: stage, ExpiresAt: g.ExpiresAt.UTC(),
	}
}

// expiringID derives a grant-expiring message id from what makes the
// action unique; an extended grant gets new ids for its new expiry.
func expiringID(customer, grantID string, expiresAt time.Time, stage int) string {
	h := sha256.Sum256([]byte(customer + "\n" + grantID + "\n" + expiresAt.UTC().Format(time.RFC3339) + "\n" + strconv.Itoa(stage)))
	return "exp-" + hex.EncodeToString(h[:12]) + "-" + strconv.Itoa(stage)
}

// live reports whether a grant has an end date still to be acted on: an
// active grant, or a Lighthouse grant whose template went out.
func live(g access.Grant) bool {
	return g.Status == access.StatusActive || (g.Status == access.StatusPending && g.Method == access.Lighthouse && !g.ExpiresAt.IsZero())
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // only our own plain structs reach here
	}
	return b
}

func statusWord(s access.Status) string {
	if s == access.StatusNew {
		return "new"
	}
	return string(s)
}

// transition applies ev to g and fills a decision with the new grant, its
// audit line and the notifications of its effects.
func (c *call) transition(g access.Grant, ev access.Event, eventID, outcome, link string, extra ...string) (decision, error) {
	now := c.d.now()
	next, effects, err := access.Apply(g, ev, now)
	if err != nil {
		return decision{}, err
	}
	dec := decision{outcome: outcome, next: &next,
		audit: []access.AuditEntry{access.AuditFor(g, next, ev, now)}}
	dec.audit[0].EventID = eventID
	for _, e := range effects {
		if e.Kind == access.EffectSchedule {
			dec.outbox = append(dec.outbox, scheduleRow(eventID, next))
			continue
		}
		dec.outbox = append(dec.outbox, access.Compose(next, e, eventID, len(dec.outbox), c.d.channels(), link, extra...)...)
	}
	return dec, nil
}
