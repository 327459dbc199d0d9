package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// GuestInvited is the input of ActivateGuest: an invitation-sent message,
// roles normalized by the edge.
type GuestInvited struct {
	InvitationSent
}

// maxClockAhead is how far ahead of the app's clock a message's time may
// be (clocks differ a little); a later one is refused, not trusted.
const maxClockAhead = 5 * time.Minute

// ActivateGuest records a B2B guest's grant: the guest must exist in the
// customer tenant, each allowed role is assigned to it (once, however often
// the message comes), and the grant becomes active until occurredAt +
// durationDays. Roles outside policy refuse the whole grant: nothing is
// assigned and every party is told.
//
// A guest invited moments ago may not be visible yet (directory
// replication): the message is deferred and looked at again, for
// GuestWait after the invitation, before the grant is given up (refused,
// everyone told, and the message rejected as naming no guest).
func (s *Service) ActivateGuest(ctx context.Context, in GuestInvited) (Outcome, error) {
	m, p := in.InvitationSent, s.opts.Policy
	if m.OccurredAt.After(s.Now().Add(maxClockAhead)) {
		return "", access.Invalid("invalid message", map[string]string{
			"occurredAt": fmt.Sprintf("%s is more than %s ahead of now", m.OccurredAt.UTC().Format(time.RFC3339), maxClockAhead)})
	}
	grantID := access.GrantID(access.B2B, m.InvitedUserID)
	ctx, _ = traced(ctx, "eventId", m.EventID, "customerTenantId", m.CustomerTenantID)
	actor := actorOf(m.Ticket, "invitation-sent")

	var gaveUp error
	outcome, err := s.apply(ctx, m.CustomerTenantID, grantID, m.EventID, func(ctx context.Context, g access.Grant) (decision, error) {
		gaveUp = nil
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

		// The message never widens access: a grant the ticket requested gets
		// exactly the requested roles, and a live grant keeps its own.
		switch {
		case g.Status == access.StatusRequested && len(g.Roles) > 0 && !sameSet(g.Roles, m.Roles):
			return decision{}, access.Invalid("the message's roles differ from the request", map[string]string{
				"roles": "must be exactly the requested " + strings.Join(roleNames(g.Roles), ", ")})
		case g.Status == access.StatusActive && !sameSet(g.Roles, m.Roles):
			return decision{}, access.Invalid("the message would change the roles of a live grant", map[string]string{
				"roles": "the grant holds " + strings.Join(roleNames(g.Roles), ", ") + "; ask for a new grant through the ticket"})
		}
		err := p.CheckRoles(m.Roles)
		if err == nil && m.InvitedUserEmail != "" && g.Status == access.StatusNew {
			// A guest the ticket did not ask for: from the MSSP only.
			if derr := s.checkGuestDomain(ctx, m.InvitedUserEmail); access.IsKind(derr, access.KindRefused) {
				err = derr
			} else if derr != nil {
				return decision{}, derr
			}
		}
		if err != nil {
			if g.Status == access.StatusActive {
				// An active grant is not taken away by a later bad message.
				return decision{}, err
			}
			return s.transition(ctx, g, access.Event{Type: access.EvRefuse, Roles: m.Roles, Reason: refusal(err), Actor: actor}, m.EventID, Refused, words{})
		}
		// The end counts from the invitation, or from now if the message
		// claims a later one: never past now + B2B_MAX_DAYS.
		start := m.OccurredAt
		if now := s.Now(); start.After(now) {
			start = now
		}
		expiresAt, err := p.B2BExpiry(start, m.DurationDays)
		if err != nil {
			return decision{}, err
		}
		expiresAt = access.WholeSeconds(expiresAt)
		if g.Status == access.StatusActive && g.ExpiresAt.Equal(expiresAt) {
			return decision{outcome: Duplicate}, nil
		}

		user, err := s.guests.User(ctx, m.CustomerTenantID, m.InvitedUserID)
		if access.IsKind(err, access.KindNotFound) {
			return s.guestNotYet(ctx, g, m, err, &gaveUp)
		}
		if err != nil {
			return decision{}, fmt.Errorf("verify guest %s: %w", m.InvitedUserID, err)
		}
		var audit []access.AuditEntry
		if g.Status.Final() {
			// A grant that ended before: its guest may be disabled.
			if audit, err = s.reviveGuest(ctx, g, user.ID, m.EventID); err != nil {
				return decision{}, err
			}
		}
		directory := m.Roles
		if s.pim() {
			made, fellBack, err := s.assignTimeBound(ctx, m.CustomerTenantID, user.ID, m.Roles, expiresAt, m.EventID)
			if err != nil {
				return decision{}, err
			}
			audit = append(audit, made...)
			if !fellBack {
				directory = nil
			}
		}
		for _, role := range directory {
			a, err := s.guests.AssignRole(ctx, m.CustomerTenantID, user.ID, role)
			if access.IsKind(err, access.KindNotFound) {
				// The user reads, but role assignment does not see it yet.
				return s.guestNotYet(ctx, g, m, err, &gaveUp)
			}
			if err != nil {
				return decision{}, fmt.Errorf("assign %s to %s: %w", access.RoleName(role), user.ID, err)
			}
			audit = append(audit, access.AuditEntry{At: s.Now(), Action: access.ActionAssignRole, EventID: m.EventID,
				Ref: a.ID, Role: role, Detail: fmt.Sprintf("%s assigned to %s (assignment %s)", access.RoleName(role), user.ID, a.ID)})
		}

		dec, err := s.granted(ctx, g, access.Event{Type: access.EvActivate, ExpiresAt: expiresAt, Roles: m.Roles, PrincipalID: user.ID, Actor: actor}, m.EventID, audit)
		if err == nil && dec.next != nil {
			// Before the commit: a stale check finds the grant not active.
			err = s.scheduleIdleCheck(ctx, *dec.next, s.Now())
		}
		return dec, err
	})
	if err == nil && gaveUp != nil && outcome != Duplicate {
		return "", gaveUp
	}
	return outcome, err
}

// guestNotYet defers a message whose guest is not visible yet, or, once
// GuestWait has passed since the invitation, gives the grant up: refused
// with the reason, everyone told, and *gaveUp set to the KindInvalid error
// that rejects the message once the refusal is committed.
func (s *Service) guestNotYet(ctx context.Context, g access.Grant, m InvitationSent, cause error, gaveUp *error) (decision, error) {
	now := s.Now()
	since := m.OccurredAt
	if since.IsZero() || since.After(now) {
		since = now
	}
	if now.Sub(since) < GuestWait {
		err := s.recheck(ctx, m.CustomerTenantID, g.ID, m.EventID, since, "guest "+m.InvitedUserID+" not visible yet",
			QueueInvitationSent, mustJSON(m))
		return decision{outcome: Deferred}, err
	}
	reason := fmt.Sprintf("guest %s did not appear in tenant %s within %s of its invitation", m.InvitedUserID, m.CustomerTenantID, GuestWait)
	*gaveUp = access.WrapKind(access.KindInvalid, cause, "%s", reason)
	if g.Status == access.StatusActive {
		// An active grant is not taken away by a late copy of its message.
		return decision{}, *gaveUp
	}
	return s.transition(ctx, g, access.Event{Type: access.EvRefuse, Roles: m.Roles, Reason: reason, Actor: "invitation-sent"}, m.EventID, Refused, words{})
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
