package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// earlyTolerance is how early an expiry may arrive and still be carried
// out: clocks differ a little between Service Bus and us.
const earlyTolerance = time.Minute

// Expiring sends a notice stage of a grant once, or carries out its expiry
// (stage 0): what the app granted is removed (removeAccess), except that a
// GDAP grant whose relationship Partner Center auto-extended follows the
// new end instead. A message about an expiry the grant no longer has is
// stale.
func (s *Service) Expiring(ctx context.Context, m GrantExpiring) (Outcome, error) {
	if m.Check == CheckDelegation {
		return s.watchDelegation(ctx, m)
	}
	stage := m.stage()
	expiresAt := access.WholeSeconds(m.ExpiresAt)
	ctx, tr := traced(ctx, "eventId", m.EventID, "grantId", m.GrantID, "noticeDays", stage)

	if stage == 0 && s.Now().Add(earlyTolerance).Before(expiresAt) {
		// Delivered early (a local queue caps delays at 7 days): send it
		// again for the right time, under an id of its own.
		again := GrantExpiring{Event: Event{EventID: m.EventID + "-deferred", OccurredAt: s.Now()}, CustomerTenantID: m.CustomerTenantID,
			GrantID: m.GrantID, NoticeDays: &stage, ExpiresAt: expiresAt}
		if err := s.pub.Publish(ctx, again.message(expiresAt)); err != nil {
			return "", fmt.Errorf("defer early expiry: %w", err)
		}
		return Stale, nil
	}

	return s.apply(ctx, m.CustomerTenantID, m.GrantID, m.EventID, func(ctx context.Context, g access.Grant) (decision, error) {
		entry := access.DueEntry{Due: expiresAt.Add(-time.Duration(stage) * access.Day),
			CustomerTenantID: m.CustomerTenantID, GrantID: m.GrantID, Stage: stage}
		switch {
		case g.Status == access.StatusNew:
			s.forgetDue(ctx, entry)
			return decision{}, access.Errorf(access.KindNotFound, "no grant %s for customer %s", m.GrantID, m.CustomerTenantID)
		case !live(g), !g.ExpiresAt.Equal(expiresAt):
			tr.Linef("stale: grant is %s until %s", g.Status, g.ExpiresAt.Format(time.RFC3339))
			s.forgetDue(ctx, entry)
			return decision{outcome: Stale}, nil
		case stage > 0 && g.NoticeSent(stage):
			return decision{outcome: Duplicate}, nil
		case stage > 0:
			dec, err := s.transition(ctx, g, access.Event{Type: access.EvNotice, Stage: stage, Actor: "schedule"}, m.EventID, Processed, words{})
			dec.done = []access.DueEntry{entry}
			return dec, err
		}
		return s.expire(ctx, g, m.EventID)
	})
}

// expire carries out the end of a live grant.
func (s *Service) expire(ctx context.Context, g access.Grant, eventID string) (decision, error) {
	reason := "the grant reached its end date"
	switch g.Method {
	case access.GDAP:
		_, relID, _ := access.SplitGrantID(g.ID)
		rel, err := s.gdap.Relationship(ctx, g.PartnerTenantID, relID)
		switch {
		case access.IsKind(err, access.KindNotFound):
			reason = "the relationship no longer exists"
		case err != nil:
			return decision{}, fmt.Errorf("read relationship %s: %w", relID, err)
		case rel.Status == access.RelActive && rel.EndDateTime.After(g.ExpiresAt) && rel.EndDateTime.After(s.Now()):
			// Partner Center auto-extended it: follow the new end.
			return s.transition(ctx, g, access.Event{Type: access.EvExtend, ExpiresAt: access.WholeSeconds(rel.EndDateTime),
				Actor: "Partner Center auto-extend " + rel.AutoExtendDuration}, eventID, Processed, words{})
		case rel.Status == access.RelActive && autoExtends(rel) && s.Now().Before(g.ExpiresAt.Add(AutoExtendWait)):
			// Partner Center moves the end of an auto-extending
			// relationship some time after the old end: look again.
			stage := 0
			m := ExpiringMessage(g.CustomerTenantID, g.ID, g.ExpiresAt, stage, s.Now())
			err := s.recheck(ctx, g.CustomerTenantID, g.ID, m.EventID, g.ExpiresAt, "relationship "+relID+" has not auto-extended yet",
				QueueGrantExpiring, mustJSON(m))
			return decision{outcome: Deferred}, err
		case rel.Status == access.RelActive && autoExtends(rel):
			reason = fmt.Sprintf("the relationship did not auto-extend within %s of its end", AutoExtendWait)
		default:
			reason = "the GDAP relationship ended (" + rel.Status + ")"
		}
	case access.Lighthouse:
		reason = "the grant reached its end date"
		if s.delegations == nil {
			reason = "the delegation reached the end date the app tracks; the customer must remove it"
		}
	}
	dec, err := s.transition(ctx, g, access.Event{Type: access.EvExpire, Reason: reason, Actor: "schedule"}, eventID, Processed, words{})
	if err != nil {
		return decision{}, err
	}
	dec.done = []access.DueEntry{{Due: g.ExpiresAt, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID}}
	return dec, nil
}

// autoExtends reports whether Partner Center extends the relationship by
// itself at its end.
func autoExtends(rel access.Relationship) bool {
	return rel.AutoExtendDuration != "" && rel.AutoExtendDuration != access.AutoExtendNone
}
