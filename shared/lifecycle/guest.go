package lifecycle

import (
	"context"
	"fmt"
	"slices"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// guestLookupDeliveries is how many deliveries a message waits for a new
// guest to appear: Graph replicates a user created by an invitation within
// seconds, so the first deliveries retry; after that the message is
// rejected as naming a user who does not exist.
const guestLookupDeliveries = 3

// GuestInvited is the input of ActivateGuest: an invitation-sent message
// (roles normalized by the edge) and how often it has been delivered.
type GuestInvited struct {
	InvitationSent
	DeliveryCount int
}

// ActivateGuest records a B2B guest's grant: the guest must exist in the
// customer tenant, each allowed role is assigned to it (once, however often
// the message comes), and the grant becomes active until occurredAt +
// durationDays. Roles outside policy refuse the whole grant: nothing is
// assigned and every party is told.
func (s *Service) ActivateGuest(ctx context.Context, in GuestInvited) (Outcome, error) {
	m, p := in.InvitationSent, s.opts.Policy
	grantID := access.GrantID(access.B2B, m.InvitedUserID)
	ctx, _ = traced(ctx, "eventId", m.EventID, "customerTenantId", m.CustomerTenantID)
	actor := actorOf(m.Ticket, "invitation-sent")

	return s.apply(ctx, m.CustomerTenantID, grantID, m.EventID, func(ctx context.Context, g access.Grant) (decision, error) {
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

		if err := p.CheckRoles(m.Roles); err != nil {
			if g.Status == access.StatusActive {
				// An active grant is not taken away by a later bad message.
				return decision{}, err
			}
			return s.transition(ctx, g, access.Event{Type: access.EvRefuse, Roles: m.Roles, Reason: refusal(err), Actor: actor}, m.EventID, Refused, words{})
		}
		expiresAt, err := p.B2BExpiry(m.OccurredAt, m.DurationDays)
		if err != nil {
			return decision{}, err
		}
		expiresAt = seconds(expiresAt)
		if g.Status == access.StatusActive && g.ExpiresAt.Equal(expiresAt) && slices.Equal(g.Roles, m.Roles) {
			return decision{outcome: Duplicate}, nil
		}

		user, err := s.guests.User(ctx, m.CustomerTenantID, m.InvitedUserID)
		if access.IsKind(err, access.KindNotFound) && in.DeliveryCount < guestLookupDeliveries {
			return decision{}, access.WrapKind(access.KindTransient, err, "guest %s not visible yet in %s", m.InvitedUserID, m.CustomerTenantID)
		}
		if err != nil {
			return decision{}, fmt.Errorf("verify guest %s: %w", m.InvitedUserID, err)
		}
		var audit []access.AuditEntry
		for _, role := range m.Roles {
			a, err := s.guests.AssignRole(ctx, m.CustomerTenantID, user.ID, role)
			if err != nil {
				return decision{}, fmt.Errorf("assign %s to %s: %w", access.RoleName(role), user.ID, err)
			}
			audit = append(audit, access.AuditEntry{At: s.Now(), Action: "graph:assign-role", EventID: m.EventID,
				Detail: fmt.Sprintf("%s assigned to %s (assignment %s)", access.RoleName(role), user.ID, a.ID)})
		}

		ev := access.Event{Type: access.EvActivate, ExpiresAt: expiresAt, Roles: m.Roles, PrincipalID: user.ID, Actor: actor}
		if g.Status == access.StatusActive {
			ev = access.Event{Type: access.EvExtend, ExpiresAt: expiresAt, Actor: actor}
			g.Roles = m.Roles
		}
		dec, err := s.transition(ctx, g, ev, m.EventID, Processed, words{})
		if err != nil {
			return decision{}, err
		}
		dec.audit = append(audit, dec.audit...)
		return dec, nil
	})
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
