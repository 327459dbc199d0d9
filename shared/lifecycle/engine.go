package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// How many times a state change is re-read and re-decided after losing an
// ETag race before the use case gives up and lets the host redeliver.
const maxAttempts = 5

// decision is what a use case decided for one event on one grant.
type decision struct {
	outcome Outcome
	// next is the grant after the event; nil when nothing is written (a
	// stale notice, an event that changes nothing).
	next   *access.Grant
	audit  []access.AuditEntry
	outbox []access.OutboxEntry
	// done are due-index entries this event completes, forgotten once the
	// change is committed (not before: a failed commit keeps them for the
	// sweep).
	done []access.DueEntry
	// reply is a ticket command's answer, kept in the ledger.
	reply *access.Reply
}

// decideFunc decides an event against the grant as stored now (Status
// StatusNew if there is none). Whatever it does outside the store must be
// idempotent, since a lost race decides again.
type decideFunc func(ctx context.Context, g access.Grant) (decision, error)

// apply is the one path by which an event changes a grant: it decides
// against the stored grant and commits grant + audit + ledger + outbox as
// one transaction guarded by the grant's ETag, deciding again on a lost
// race. An event already in the ledger is answered as a duplicate, after
// finishing what its first delivery left undone. After the commit it
// carries out the outbox.
func (s *Service) apply(ctx context.Context, customerTenantID, grantID, eventID string, decide decideFunc) (Outcome, error) {
	ctx, tr := traced(ctx, "grantId", grantID)
	for attempt := 1; ; attempt++ {
		// The ledger is not read first: the commit adds the event's ledger
		// row, so a duplicate cannot be applied twice, and the ledger is read
		// only when the commit loses or the decision writes nothing, which
		// is when a duplicate shows.
		g, version, err := s.store.Grant(ctx, customerTenantID, grantID)
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
			// first delivery did not finish.
			if dup, err := s.ifApplied(ctx, customerTenantID, eventID); dup || err != nil {
				return Duplicate, err
			}
			return dec.outcome, nil
		}
		next := *dec.next
		// This invocation carries out what it commits: the entries are
		// written already claimed, so that a concurrent copy of the message
		// that finds the event in the ledger does not send them too.
		for i := range dec.outbox {
			dec.outbox[i].ClaimedUntil = s.Now().Add(claimFor)
		}
		err = s.store.Commit(ctx, access.Change{
			Grant: next, Version: version, EventID: eventID, Outcome: string(dec.outcome), Reply: dec.reply,
			Audit: dec.audit, Outbox: dec.outbox,
		})
		if access.IsKind(err, access.KindConflict) {
			if dup, lerr := s.ifApplied(ctx, customerTenantID, eventID); dup || lerr != nil {
				return Duplicate, lerr
			}
			if attempt < maxAttempts {
				tr.Log().Info("lost a race, deciding again", "attempt", attempt)
				continue
			}
		}
		if err != nil {
			return "", fmt.Errorf("commit %s of %s: %w", dec.outcome, grantID, err)
		}
		tr.Linef("grant %s: %s -> %s", grantID, statusWord(g.Status), next.Status)
		for _, due := range dec.done {
			s.forgetDue(ctx, due)
		}
		return dec.outcome, s.send(ctx, next, dec.outbox)
	}
}

// ifApplied reports whether the event is in the ledger already and, if so,
// finishes what its first delivery may have left undone.
func (s *Service) ifApplied(ctx context.Context, customerTenantID, eventID string) (bool, error) {
	entry, seen, err := s.store.Processed(ctx, customerTenantID, eventID)
	if err != nil {
		return false, fmt.Errorf("read ledger: %w", err)
	}
	if !seen {
		return false, nil
	}
	TraceOf(ctx).Log().Info("event already applied", "outcome", entry.Outcome, "at", entry.At)
	return true, s.finish(ctx, customerTenantID, entry)
}

// finish completes what the first delivery of an event may not have done
// before it failed: whatever is still unsent in its outbox. Entries another
// sender holds are left to it while its claim runs; if they are still
// unsent when the claim lapses (that sender died), they are done here.
func (s *Service) finish(ctx context.Context, customerTenantID string, entry access.LedgerEntry) error {
	deadline := time.Now().Add(claimFor + 5*time.Second)
	var g access.Grant
	for loaded := false; ; {
		unsent, err := s.store.Unsent(ctx, customerTenantID, entry.EventID)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(unsent) == 0 {
			return nil
		}
		if !loaded && entry.GrantID != "" {
			if g, _, err = s.store.Grant(ctx, customerTenantID, entry.GrantID); err != nil && !access.IsKind(err, access.KindNotFound) {
				return fmt.Errorf("read grant %s: %w", entry.GrantID, err)
			}
			loaded = true
		}
		var mine []access.OutboxEntry
		for _, e := range unsent {
			ok, err := s.store.Claim(ctx, e, s.Now().Add(claimFor))
			if err != nil {
				return fmt.Errorf("claim outbox entry %s: %w", e.ID, err)
			}
			if ok {
				mine = append(mine, e)
			}
		}
		if err := s.send(ctx, g, mine); err != nil {
			return err
		}
		if len(mine) == len(unsent) {
			return nil
		}
		if time.Now().After(deadline) {
			return access.Errorf(access.KindTransient, "%d outbox entries of event %s are held by another sender", len(unsent)-len(mine), entry.EventID)
		}
		select {
		case <-ctx.Done():
			return access.WrapKind(access.KindTransient, ctx.Err(), "waiting for another sender")
		case <-time.After(waitPoll):
		}
	}
}

// forgetDue drops a due-index entry that no longer stands for anything, so
// that the sweep stops publishing it. Failing to is harmless: the next
// sweep publishes it again and it is found stale again.
func (s *Service) forgetDue(ctx context.Context, e access.DueEntry) {
	if err := s.store.DeleteDue(ctx, e); err != nil {
		TraceOf(ctx).Log().Warn("could not forget a due entry", "grantId", e.GrantID, "stage", e.Stage, "err", err.Error())
	}
}

func statusWord(st access.Status) string {
	if st == access.StatusNew {
		return "new"
	}
	return string(st)
}
