package functions

import (
	"context"
	"fmt"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// earlyTolerance is how early an expiry may arrive and still be carried
// out: clocks differ a little between Service Bus and us.
const earlyTolerance = time.Minute

// grantExpiring sends a notice stage of a grant once, or carries out its
// expiry (stage 0): B2B roles the app assigned are removed, a GDAP grant is
// recorded expired unless auto-extend moved the relationship's end (then
// it is rescheduled), a Lighthouse customer is told to remove the
// delegation. A message about an expiry the grant no longer has is stale.
func (d Deps) grantExpiring(ctx context.Context, c *call, msg funchost.QueueMessage) (string, error) {
	m, err := parseGrantExpiring(msg.Body, d.policy())
	if err != nil {
		return "", err
	}
	stage := *m.NoticeDays
	c.log = c.log.With("eventId", m.EventID, "grantId", m.GrantID, "noticeDays", stage)

	if stage == 0 && d.now().Add(earlyTolerance).Before(m.ExpiresAt) {
		// Delivered early (a local queue caps delays at 7 days): send it
		// again for the right time, under an id of its own.
		again := expiringBody{EventID: m.EventID + "-deferred", OccurredAt: d.now(), CustomerTenantID: m.CustomerTenantID,
			GrantID: m.GrantID, NoticeDays: 0, ExpiresAt: m.ExpiresAt}
		if err := d.Publisher.Publish(ctx, access.Message{Queue: FnGrantExpiring, ID: again.EventID,
			Body: mustJSON(again), NotBefore: m.ExpiresAt}); err != nil {
			return "", fmt.Errorf("defer early expiry: %w", err)
		}
		return outcomeStale, nil
	}

	return c.applyEvent(ctx, m.CustomerTenantID, m.GrantID, m.EventID, func(ctx context.Context, g access.Grant) (decision, error) {
		entry := access.DueEntry{Due: m.ExpiresAt.Add(-time.Duration(stage) * access.Day),
			CustomerTenantID: m.CustomerTenantID, GrantID: m.GrantID, Stage: stage}
		switch {
		case g.Status == access.StatusNew:
			d.forgetDue(ctx, c, entry)
			return decision{}, access.Errorf(access.KindNotFound, "no grant %s for customer %s", m.GrantID, m.CustomerTenantID)
		case !live(g), !g.ExpiresAt.Equal(m.ExpiresAt.UTC()):
			c.logf("stale: grant is %s until %s", g.Status, g.ExpiresAt.Format(time.RFC3339))
			d.forgetDue(ctx, c, entry)
			return decision{outcome: outcomeStale}, nil
		case stage > 0 && g.NoticeSent(stage):
			return decision{outcome: outcomeDuplicate}, nil
		case stage > 0:
			dec, err := c.transition(g, access.Event{Type: access.EvNotice, Stage: stage, Actor: "schedule"}, m.EventID, outcomeProcessed, "")
			dec.done = []access.DueEntry{entry}
			return dec, err
		}
		return d.expire(ctx, c, g, m.EventID)
	})
}

// expire carries out the end of an active grant.
func (d Deps) expire(ctx context.Context, c *call, g access.Grant, eventID string) (decision, error) {
	var audit []access.AuditEntry
	reason := "the grant reached its end date"
	switch g.Method {
	case access.B2B:
		removed, err := d.removeGuestRoles(ctx, g)
		if err != nil {
			return decision{}, err
		}
		for _, r := range removed {
			audit = append(audit, access.AuditEntry{At: d.now().Add(-time.Nanosecond), Action: "graph:remove-role", EventID: eventID, Detail: r})
		}
	case access.GDAP:
		_, relID, _ := access.SplitGrantID(g.ID)
		rel, err := d.Directory.Relationship(ctx, g.PartnerTenantID, relID)
		switch {
		case access.IsKind(err, access.KindNotFound):
			reason = "the relationship no longer exists"
		case err != nil:
			return decision{}, fmt.Errorf("read relationship %s: %w", relID, err)
		case rel.Status == access.RelActive && rel.EndDateTime.After(g.ExpiresAt) && rel.EndDateTime.After(d.now()):
			// Partner Center auto-extended it: follow the new end.
			return c.transition(g, access.Event{Type: access.EvExtend, ExpiresAt: rel.EndDateTime,
				Actor: "Partner Center auto-extend " + rel.AutoExtendDuration}, eventID, outcomeProcessed, "")
		default:
			reason = "the GDAP relationship ended (" + rel.Status + ")"
		}
	case access.Lighthouse:
		reason = "the delegation reached the end date the app tracks; the customer must remove it"
	}
	dec, err := c.transition(g, access.Event{Type: access.EvExpire, Reason: reason, Actor: "schedule"}, eventID, outcomeProcessed, "")
	if err != nil {
		return decision{}, err
	}
	dec.audit = append(audit, dec.audit...)
	dec.done = []access.DueEntry{{Due: g.ExpiresAt, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID}}
	return dec, nil
}

// forgetDue drops a due-index entry that no longer stands for anything, so
// that the sweep stops publishing it. Failing to is harmless: the next
// sweep publishes it again and it is found stale again.
func (d Deps) forgetDue(ctx context.Context, c *call, e access.DueEntry) {
	if err := d.Store.DeleteDue(ctx, e); err != nil {
		c.log.Warn("could not forget a stale due entry", "grantId", e.GrantID, "stage", e.Stage, "err", err.Error())
	}
}

// removeGuestRoles removes the directory roles the grant gave the guest,
// and only those: roles the customer gave the guest by other means stay.
func (d Deps) removeGuestRoles(ctx context.Context, g access.Grant) ([]string, error) {
	assignments, err := d.Directory.RoleAssignments(ctx, g.CustomerTenantID, g.PrincipalID)
	if err != nil {
		return nil, fmt.Errorf("list role assignments of %s: %w", g.PrincipalID, err)
	}
	var done []string
	for _, a := range assignments {
		if !containsFold(g.Roles, a.RoleID) {
			continue
		}
		if err := d.Directory.RemoveRoleAssignment(ctx, g.CustomerTenantID, a.ID); err != nil {
			return nil, fmt.Errorf("remove %s from %s: %w", access.RoleName(a.RoleID), g.PrincipalID, err)
		}
		done = append(done, fmt.Sprintf("%s removed from %s (assignment %s)", access.RoleName(a.RoleID), g.PrincipalID, a.ID))
	}
	return done, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if lower(x) == lower(s) {
			return true
		}
	}
	return false
}
