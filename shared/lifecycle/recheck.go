package lifecycle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Deferred is the outcome of a message the world is not ready for yet (a
// relationship still activating, a new guest not visible yet): the use case
// has scheduled its own re-check, and the message is done with.
const Deferred Outcome = "deferred"

// How long the lifecycle waits for the world, and how often it looks.
const (
	// firstRecheck is how soon a deferred message is looked at again; each
	// wait after it doubles, up to maxRecheck.
	firstRecheck = 30 * time.Second
	maxRecheck   = time.Hour
	// GuestWait is how long a new guest may stay invisible after its
	// invitation before the grant is given up: directory replication takes
	// seconds to minutes.
	GuestWait = 30 * time.Minute
	// ApprovalWait is how long a GDAP request may wait for the customer:
	// Partner Center lets an unapproved request lapse after 90 days.
	ApprovalWait = 90 * access.Day
	// AutoExtendWait is how long after a relationship's end the app waits
	// for Partner Center to move the end of an auto-extending relationship
	// before it records the expiry.
	AutoExtendWait = 24 * time.Hour
)

// nextCheck is when to look again at something waited for since `since`:
// the first checkpoint after now on the schedule since+30s, +1m, +2m, …,
// then every hour. It depends only on since and now, so that two copies of
// one deferred message pick the same checkpoint (and the same message id).
func nextCheck(since, now time.Time) time.Time {
	if since.After(now) {
		since = now
	}
	step, at := firstRecheck, since.Add(firstRecheck)
	for !at.After(now) {
		if step < maxRecheck {
			step = min(2*step, maxRecheck)
		}
		at = at.Add(step)
	}
	return access.WholeSeconds(at)
}

// recheckID is the message id of the re-check of event eventID due at
// `at`.
func recheckID(eventID string, at time.Time) string {
	return eventID + "~r" + strconv.FormatInt(at.Unix(), 10)
}

// recheck schedules deferred event eventID again at its next checkpoint:
// body, unchanged, published to queue under a message id of its own (so
// that Service Bus duplicate detection does not drop it as the original),
// and a due-index entry holding it, so that the sweep sends it again if the
// queue loses it. The event keeps its id: when it is applied at last, the
// ledger records the event itself, and a late copy of it is a duplicate.
func (s *Service) recheck(ctx context.Context, customer, grantID, eventID string, since time.Time, why, queue string, body []byte) error {
	return s.recheckAt(ctx, customer, grantID, eventID, nextCheck(since, s.Now()), why, queue, body)
}

// recheckAt is recheck at a checkpoint the caller chose.
func (s *Service) recheckAt(ctx context.Context, customer, grantID, eventID string, at time.Time, why, queue string, body []byte) error {
	m := access.Message{Queue: queue, ID: recheckID(eventID, at), Body: body}
	m.NotBefore = at
	if m.Properties == nil {
		m.Properties = map[string]any{}
	}
	m.Properties["grantId"], m.Properties["recheck"] = grantID, true
	if err := s.store.SetDue(ctx, access.DueEntry{Due: at, CustomerTenantID: customer, GrantID: grantID,
		Stage: access.StageRecheck, Message: &m}); err != nil {
		return fmt.Errorf("record the re-check of %s: %w", grantID, err)
	}
	if err := s.pub.Publish(ctx, m); err != nil {
		return fmt.Errorf("schedule the re-check of %s: %w", grantID, err)
	}
	TraceOf(ctx).Linef("deferred: %s; looking again at %s", why, at.Format(time.RFC3339))
	return nil
}
