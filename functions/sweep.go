package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// expirySweep is the safety net behind the scheduled grant-expiring
// messages: it reads only the due-index days up to now and publishes a
// grant-expiring message for every notice or expiry still recorded as due,
// including those missed while the app was down. The messages' ids are the
// scheduled ones, so Service Bus duplicate detection and the ledger drop
// whatever was already handled; the grant-expiring function checks each
// against the grant (an extended grant makes old entries stale) and
// forgets the entry once done. A due GDAP grant's relationship is read
// again first, so that a relationship terminated or auto-extended in
// Partner Center is recorded as such rather than noticed as expiring.
// sweepWorkers bounds how many due entries the sweep handles at once.
const sweepWorkers = 8

func (d Deps) expirySweep(ctx context.Context, c *call, t funchost.TimerInfo) error {
	now := d.now()
	var (
		mu               sync.Mutex
		published, drift int
		errs             []error
		wg               sync.WaitGroup
		slots            = make(chan struct{}, sweepWorkers)
	)
	// Each due entry is independent: up to sweepWorkers are published (or
	// checked for drift) at once, while the index is still being read.
	work := func(e access.DueEntry) {
		// A call of its own: recording drift changes its logger and lines.
		wc := &call{d: c.d, name: c.name, id: c.id, log: c.log, start: c.start}
		defer func() {
			mu.Lock()
			c.logs = append(c.logs, wc.logs...)
			mu.Unlock()
			<-slots
			wg.Done()
		}()
		if m, _, _ := access.SplitGrantID(e.GrantID); m == access.GDAP {
			changed, err := d.gdapDrift(ctx, wc, e)
			if err != nil || changed {
				if changed {
					d.forgetDue(ctx, wc, e)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					drift++
				}
				mu.Unlock()
				return
			}
		}
		expiresAt := e.Due.Add(time.Duration(e.Stage) * access.Day)
		g := access.Grant{ID: e.GrantID, CustomerTenantID: e.CustomerTenantID, ExpiresAt: expiresAt}
		m := expiringMessage(g, e.Stage, now)
		err := d.Publisher.Publish(ctx, access.Message{Queue: FnGrantExpiring, ID: m.EventID, Body: mustJSON(m),
			Properties: map[string]any{"grantId": e.GrantID, "noticeDays": e.Stage, "source": "sweep"}})
		mu.Lock()
		if err != nil {
			errs = append(errs, fmt.Errorf("publish %d-day action of %s: %w", e.Stage, e.GrantID, err))
		} else {
			published++
		}
		mu.Unlock()
	}
	read, err := d.Store.DueUntil(ctx, now, func(e access.DueEntry) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		slots <- struct{}{}
		wg.Add(1)
		go work(e)
		return nil
	})
	wg.Wait()
	c.logf("sweep: %d due entries read, %d published, %d drifted", read, published, drift)
	c.log.Info("sweep done", "read", read, "published", published, "drift", drift, "pastDue", t.IsPastDue)
	if err != nil {
		return fmt.Errorf("read due entries: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		// The entries stay in the index: the next run tries them again.
		return access.WrapKind(access.KindTransient, err, "sweep incomplete")
	}
	return nil
}

// gdapDrift re-reads the relationship of a due GDAP grant and records a
// change Partner Center made: terminated or expired there (the grant ends),
// or auto-extended (the grant follows the new end). It reports whether it
// recorded one. The due entry says which end the grant expects, so the
// grant itself is read only when the relationship disagrees: the sweep
// stays at one table entity per due action.
func (d Deps) gdapDrift(ctx context.Context, c *call, e access.DueEntry) (bool, error) {
	_, relID, _ := access.SplitGrantID(e.GrantID)
	expected := e.Due.Add(time.Duration(e.Stage) * access.Day)
	rel, err := d.Directory.Relationship(ctx, d.Config.PartnerTenantID, relID)
	if err != nil && !access.IsKind(err, access.KindNotFound) {
		return false, fmt.Errorf("read relationship %s: %w", relID, err)
	}
	var ev access.Event
	switch {
	case access.IsKind(err, access.KindNotFound):
		ev = access.Event{Type: access.EvRevoke, Reason: "the relationship no longer exists in Partner Center", Actor: "expiry-sweep"}
	case rel.Status == access.RelTerminated || rel.Status == access.RelTerminating || rel.Status == access.RelTerminationReq:
		ev = access.Event{Type: access.EvRevoke, Reason: "the relationship was terminated in Partner Center (" + rel.Status + ")", Actor: "expiry-sweep"}
	case rel.Status == access.RelExpired:
		ev = access.Event{Type: access.EvExpire, Reason: "the relationship expired in Partner Center", Actor: "expiry-sweep"}
	case rel.Status == access.RelActive && rel.EndDateTime.Truncate(time.Second).After(expected.Truncate(time.Second)):
		ev = access.Event{Type: access.EvExtend, ExpiresAt: rel.EndDateTime, Actor: "Partner Center auto-extend " + rel.AutoExtendDuration}
	default:
		return false, nil
	}
	h := sha256.Sum256([]byte(e.GrantID + "\n" + string(ev.Type) + "\n" + rel.Status + "\n" + rel.EndDateTime.UTC().Format(time.RFC3339)))
	eventID := "drift-" + hex.EncodeToString(h[:12])
	outcome, err := c.applyEvent(ctx, e.CustomerTenantID, e.GrantID, eventID, func(ctx context.Context, cur access.Grant) (decision, error) {
		if cur.Status != access.StatusActive || (ev.Type == access.EvExtend && !rel.EndDateTime.After(cur.ExpiresAt)) {
			return decision{outcome: outcomeStale}, nil
		}
		return c.transition(cur, ev, eventID, outcomeProcessed, "")
	})
	if err != nil {
		return false, fmt.Errorf("record drift of %s: %w", e.GrantID, err)
	}
	return outcome != outcomeStale, nil
}
