package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// sweepWorkers bounds how many due entries the sweep handles at once.
const sweepWorkers = 8

// SweepResult counts what a sweep did.
type SweepResult struct {
	Read      int // due-index entries read
	Published int // grant-expiring messages published
	Drift     int // GDAP grants whose relationship Partner Center changed, recorded
	Rechecked int // deferred messages sent again
	Reviewed  int // access review requests and deadlines handled
	Guests    int // idle checks and deletions of disabled guests handled (idle.go, guestlife.go)
}

// Sweep is the safety net behind the scheduled grant-expiring messages: it
// reads only the due-index days up to now and publishes a grant-expiring
// message for every notice or expiry still recorded as due, including
// those missed while the app was down. The messages' ids are the scheduled
// ones, so Service Bus duplicate detection and the ledger drop whatever
// was already handled; Expiring checks each against the grant (an extended
// grant makes old entries stale) and forgets the entry once done. A due
// GDAP grant's relationship is read again first, so that a relationship
// terminated or auto-extended in Partner Center is recorded as such rather
// than noticed as expiring.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	now := s.Now()
	var (
		mu    sync.Mutex
		res   SweepResult
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, sweepWorkers)
	)
	count := func(n *int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		*n++
	}
	// Each due entry is independent: up to sweepWorkers are published (or
	// checked for drift) at once, while the index is still being read.
	work := func(e access.DueEntry) {
		defer func() { <-slots; wg.Done() }()
		if e.Stage == access.StageRecheck {
			count(&res.Rechecked, s.resend(ctx, e))
			return
		}
		if e.Stage == StageIdleCheck {
			count(&res.Guests, s.idleDue(ctx, e))
			return
		}
		if e.Stage == StageGuestDelete {
			count(&res.Guests, s.guestDeleteDue(ctx, e))
			return
		}
		if e.Stage == StageReview || e.Stage == StageReviewDeadline {
			count(&res.Reviewed, s.reviewDue(ctx, e))
			return
		}
		if m, _, _ := access.SplitGrantID(e.GrantID); m == access.GDAP {
			changed, err := s.gdapDrift(ctx, e)
			if changed {
				s.forgetDue(ctx, e)
			}
			if err != nil || changed {
				count(&res.Drift, err)
				return
			}
		}
		expiresAt := e.Due.Add(time.Duration(e.Stage) * access.Day)
		msg := ExpiringMessage(e.CustomerTenantID, e.GrantID, expiresAt, e.Stage, now).message(time.Time{})
		msg.Properties = map[string]any{"grantId": e.GrantID, "noticeDays": e.Stage, "source": "sweep"}
		err := s.pub.Publish(ctx, msg)
		if err != nil {
			err = fmt.Errorf("publish %d-day action of %s: %w", e.Stage, e.GrantID, err)
		}
		count(&res.Published, err)
	}
	read, err := s.store.DueUntil(ctx, now, func(e access.DueEntry) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		slots <- struct{}{}
		wg.Add(1)
		go work(e)
		return nil
	})
	wg.Wait()
	res.Read = read
	TraceOf(ctx).Linef("sweep: %d due entries read, %d published, %d drifted, %d re-checked", res.Read, res.Published, res.Drift, res.Rechecked)
	if err != nil {
		return res, fmt.Errorf("read due entries: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		// The entries stay in the index: the next run tries them again.
		return res, access.WrapKind(access.KindTransient, err, "sweep incomplete")
	}
	return res, nil
}

// gdapDrift re-reads the relationship of a due GDAP grant and records a
// change Partner Center made: terminated or expired there (the grant ends),
// or auto-extended (the grant follows the new end). It reports whether it
// recorded one. The due entry says which end the grant expects, so the
// grant itself is read only when the relationship disagrees: the sweep
// stays at one table entity per due action.
func (s *Service) gdapDrift(ctx context.Context, e access.DueEntry) (bool, error) {
	_, relID, _ := access.SplitGrantID(e.GrantID)
	expected := e.Due.Add(time.Duration(e.Stage) * access.Day)
	rel, err := s.gdap.Relationship(ctx, s.opts.PartnerTenantID, relID)
	if err != nil && !access.IsKind(err, access.KindNotFound) {
		return false, fmt.Errorf("read relationship %s: %w", relID, err)
	}
	const actor = "expiry-sweep"
	var ev access.Event
	switch {
	case access.IsKind(err, access.KindNotFound):
		ev = access.Event{Type: access.EvRevoke, Reason: "the relationship no longer exists in Partner Center", Actor: actor}
	case rel.Status == access.RelTerminated || rel.Status == access.RelTerminating || rel.Status == access.RelTerminationReq:
		ev = access.Event{Type: access.EvRevoke, Reason: "the relationship was terminated in Partner Center (" + rel.Status + ")", Actor: actor}
	case rel.Status == access.RelExpired:
		ev = access.Event{Type: access.EvExpire, Reason: "the relationship expired in Partner Center", Actor: actor}
	case rel.Status == access.RelActive && access.WholeSeconds(rel.EndDateTime).After(access.WholeSeconds(expected)):
		ev = access.Event{Type: access.EvExtend, ExpiresAt: access.WholeSeconds(rel.EndDateTime), Actor: "Partner Center auto-extend " + rel.AutoExtendDuration}
	default:
		return false, nil
	}
	h := sha256.Sum256([]byte(e.GrantID + "\n" + string(ev.Type) + "\n" + rel.Status + "\n" + rel.EndDateTime.UTC().Format(time.RFC3339)))
	eventID := "drift-" + hex.EncodeToString(h[:12])
	outcome, err := s.apply(ctx, e.CustomerTenantID, e.GrantID, eventID, func(ctx context.Context, cur access.Grant) (decision, error) {
		if cur.Status != access.StatusActive || (ev.Type == access.EvExtend && !ev.ExpiresAt.After(cur.ExpiresAt)) {
			return decision{outcome: Stale}, nil
		}
		return s.transition(ctx, cur, ev, eventID, Processed, words{})
	})
	if err != nil {
		return false, fmt.Errorf("record drift of %s: %w", e.GrantID, err)
	}
	return outcome != Stale, nil
}

// resend publishes a due re-check's deferred message again (its scheduled
// copy may be lost), then forgets the entry: the message, if it is deferred
// again, records the next one.
func (s *Service) resend(ctx context.Context, e access.DueEntry) error {
	if e.Message != nil {
		m := *e.Message
		m.NotBefore = time.Time{}
		if err := s.pub.Publish(ctx, m); err != nil {
			return fmt.Errorf("publish the re-check of %s: %w", e.GrantID, err)
		}
	}
	s.forgetDue(ctx, e)
	return nil
}
