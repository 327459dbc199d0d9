package functions

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// guestLookupDeliveries is how many deliveries a message waits for a new
// guest to appear: Graph replicates a user created by an invitation within
// seconds, so the first deliveries retry; after that the message is
// rejected as naming a user who does not exist.
const guestLookupDeliveries = 3

// invitationSent records a B2B guest's grant: the guest must exist in the
// customer tenant, each allowed role is assigned to it (once, however often
// the message comes), and the grant becomes active until occurredAt +
// durationDays. Roles outside policy refuse the whole grant: nothing is
// assigned and every party is told.
func (d Deps) invitationSent(ctx context.Context, c *call, msg funchost.QueueMessage) (string, error) {
	p := d.policy()
	m, roles, err := parseInvitationSent(msg.Body, p)
	if err != nil {
		return "", err
	}
	grantID := access.GrantID(access.B2B, m.InvitedUserID)
	c.log = c.log.With("eventId", m.EventID, "customerTenantId", m.CustomerTenantID)
	actor := actorOf(m.Ticket, "invitation-sent")

	return c.applyEvent(ctx, m.CustomerTenantID, grantID, m.EventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if g.Status.Final() {
			// A new invitation for a guest whose earlier grant ended starts a
			// new lifecycle on the same row; the trail keeps the old one.
			g = access.Grant{ID: g.ID, CustomerTenantID: g.CustomerTenantID}
		}
		g.Method, g.PartnerTenantID, g.PrincipalID = access.B2B, m.PartnerTenantID, m.InvitedUserID
		g.CapacityPlan = access.CapacityPlanOf(access.B2B)
		g.InviteeEmail = firstNonEmpty(m.InvitedUserEmail, g.InviteeEmail)
		g.Ticket = ticketOr(m.Ticket, g.Ticket)
		g.PartnerContacts = listOr(m.PartnerContacts, g.PartnerContacts)
		g.CustomerContacts = listOr(m.CustomerContacts, g.CustomerContacts)
		g.AutoExtend = access.AutoExtendNone

		if err := p.CheckRoles(roles); err != nil {
			if g.Status == access.StatusActive {
				// An active grant is not taken away by a later bad message.
				return decision{}, err
			}
			return c.transition(g, access.Event{Type: access.EvRefuse, Roles: roles, Reason: refusal(err), Actor: actor}, m.EventID, outcomeRefused, "")
		}
		expiresAt, err := p.B2BExpiry(m.OccurredAt, m.DurationDays)
		if err != nil {
			return decision{}, err
		}
		if g.Status == access.StatusActive && g.ExpiresAt.Equal(expiresAt) && slices.Equal(g.Roles, roles) {
			return decision{outcome: outcomeDuplicate}, nil
		}

		user, err := d.Directory.User(ctx, m.CustomerTenantID, m.InvitedUserID)
		if access.IsKind(err, access.KindNotFound) && msg.DeliveryCount < guestLookupDeliveries {
			return decision{}, access.WrapKind(access.KindTransient, err, "guest %s not visible yet in %s", m.InvitedUserID, m.CustomerTenantID)
		}
		if err != nil {
			return decision{}, fmt.Errorf("verify guest %s: %w", m.InvitedUserID, err)
		}
		var audit []access.AuditEntry
		for _, role := range roles {
			a, err := d.Directory.AssignRole(ctx, m.CustomerTenantID, user.ID, role)
			if err != nil {
				return decision{}, fmt.Errorf("assign %s to %s: %w", access.RoleName(role), user.ID, err)
			}
			audit = append(audit, access.AuditEntry{At: d.now(), Action: "graph:assign-role", EventID: m.EventID,
				Detail: fmt.Sprintf("%s assigned to %s (assignment %s)", access.RoleName(role), user.ID, a.ID)})
		}

		ev := access.Event{Type: access.EvActivate, ExpiresAt: expiresAt, Roles: roles, PrincipalID: user.ID, Actor: actor}
		if g.Status == access.StatusActive {
			ev = access.Event{Type: access.EvExtend, ExpiresAt: expiresAt, Actor: actor}
			g.Roles = roles
		}
		dec, err := c.transition(g, ev, m.EventID, outcomeProcessed, "")
		if err != nil {
			return decision{}, err
		}
		dec.audit = append(audit, dec.audit...)
		return dec, nil
	})
}

// actorOf names who caused an event, for the audit trail.
func actorOf(t access.Ticket, source string) string {
	if s := t.String(); s != "" {
		return "ticket " + s
	}
	return source
}

// refusal is the reason of a policy refusal, without the error's kind.
func refusal(err error) string {
	var e *access.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return err.Error()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func ticketOr(a, b access.Ticket) access.Ticket {
	if a.ID != "" {
		return a
	}
	return b
}

func listOr(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}
