package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Templates renders the Azure Lighthouse onboarding template the customer
// deploys.
type Templates interface {
	// Onboarding returns the template that delegates the subscription to
	// the partner group, and the Azure role definition ids it grants.
	Onboarding(partnerTenantID, groupID, subscriptionID string) (template []byte, roles []string, err error)
}

// Request starts a grant: B2B invites the guest and publishes
// invitation-sent; GDAP creates the relationship request, locks it for
// approval and sends the customer the approval link; Lighthouse renders
// the onboarding template and sends it to the customer. A request outside
// policy is refused whole, recorded and notified, and returns the
// KindRefused error. The creates Graph does not make idempotent (the
// invitation, the relationship) are reserved first, so that a redelivery
// resumes instead of creating again.
func (s *Service) Request(ctx context.Context, cmd Command) (access.Reply, error) {
	base := access.Grant{
		Method: cmd.Method, CustomerTenantID: cmd.CustomerTenantID, PartnerTenantID: cmd.PartnerTenantID,
		CapacityPlan: access.CapacityPlanOf(cmd.Method), Ticket: cmd.Ticket, InviteeEmail: cmd.InviteeEmail,
		PartnerContacts: cmd.PartnerContacts, CustomerContacts: cmd.CustomerContacts, AutoExtend: access.AutoExtendNone,
	}
	r := request{s: s, cmd: cmd, base: base, actor: actorOf(cmd.Ticket, "ticket-webhook"), eventID: cmd.eventID(), days: cmd.DurationDays}
	p := s.opts.Policy
	if r.days == 0 {
		r.days = p.B2BDefaultDays
	}
	var refuse error
	switch cmd.Method {
	case access.B2B, access.GDAP:
		r.roles = cmd.Roles
		refuse = p.CheckRoles(r.roles)
		if refuse == nil && cmd.Method == access.GDAP {
			r.base.AutoExtend = firstNonEmpty(cmd.AutoExtend, access.AutoExtendNone)
			refuse = access.CheckAutoExtend(r.base.AutoExtend, r.roles)
		}
		if refuse == nil && cmd.Method == access.B2B {
			_, refuse = p.B2BExpiry(s.Now(), r.days)
		}
		if refuse == nil && cmd.Method == access.B2B {
			if err := s.checkGuestDomain(ctx, cmd.InviteeEmail); access.IsKind(err, access.KindRefused) {
				refuse = err
			} else if err != nil {
				return access.Reply{}, err
			}
		}
	case access.Lighthouse:
		if r.days > p.B2BMaxDays {
			refuse = &access.Error{Kind: access.KindRefused, Code: "DurationOverCap",
				Msg: fmt.Sprintf("refused by policy: %d days is longer than the %d-day cap", r.days, p.B2BMaxDays)}
		}
	default:
		return access.Reply{}, access.Invalid("invalid command", map[string]string{"method": "must be b2b, gdap or lighthouse"})
	}
	if refuse != nil {
		return r.refuse(ctx, refuse)
	}
	switch cmd.Method {
	case access.B2B:
		return r.b2b(ctx)
	case access.GDAP:
		return r.gdap(ctx)
	}
	return r.lighthouse(ctx)
}

// request is one request-access command on its way.
type request struct {
	s       *Service
	cmd     Command
	base    access.Grant
	roles   []string
	days    int
	actor   string
	eventID string
}

// refuse records a request outside policy under the delivery (nothing was
// created to name it by), notifies, and returns the refusal.
func (r request) refuse(ctx context.Context, refusalErr error) (access.Reply, error) {
	r.base.ID = access.GrantID(r.cmd.Method, "request-"+r.cmd.DeliveryID)
	reply := access.Reply{GrantID: r.base.ID, Status: string(access.StatusRefused)}
	_, err := r.s.apply(ctx, r.cmd.CustomerTenantID, r.base.ID, r.eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		ev := access.Event{Type: access.EvRefuse, Roles: r.roles, Reason: refusal(refusalErr), Actor: r.actor}
		dec, err := r.s.transition(ctx, withBase(g, r.base), ev, r.eventID, Refused, words{})
		dec.reply = &reply
		return dec, err
	})
	if err != nil {
		return access.Reply{}, err
	}
	return access.Reply{}, refusalErr
}

// What the invitation's reservation keeps beside the guest's id: whether
// the address was a user of the tenant before the invitation.
const (
	resultCreated = ";created"
	resultExisted = ";existed"
)

func (r request) b2b(ctx context.Context) (access.Reply, error) {
	cmd, s := r.cmd, r.s
	var inv access.InvitationResult
	res, err := s.once(ctx, cmd.CustomerTenantID, "invite/"+cmd.DeliveryID, cmd.InviteeEmail, func(ctx context.Context, _ string) (string, error) {
		// Whether the address was a user already is read before the
		// invitation and kept with its result: after it, the user exists
		// either way.
		known := ""
		if s.accounts != nil {
			existed, err := s.inviteeBefore(ctx, cmd.CustomerTenantID, cmd.InviteeEmail)
			if err != nil {
				return "", err
			}
			known = resultCreated
			if existed {
				known = resultExisted
			}
		}
		var err error
		inv, err = s.guests.Invite(ctx, cmd.CustomerTenantID, access.Invitation{
			Email: cmd.InviteeEmail, DisplayName: cmd.InviteeDisplayName,
			RedirectURL: access.TenantSwitchLink(cmd.CustomerTenantID), SendMessage: true,
		})
		if err != nil {
			return "", fmt.Errorf("invite %s: %w", cmd.InviteeEmail, err)
		}
		return lower(inv.UserID) + known, nil
	})
	if err != nil {
		return access.Reply{}, err
	}
	guestID, known, _ := strings.Cut(res.Result, ";")
	res.Result = guestID
	invited := fmt.Sprintf("invited %s as guest %s (invitation %s)", cmd.InviteeEmail, res.Result, inv.ID)
	if !res.Created {
		invited = fmt.Sprintf("%s was invited as guest %s by an earlier delivery of this request", cmd.InviteeEmail, res.Result)
	}
	r.base.ID = access.GrantID(access.B2B, res.Result)
	r.base.PrincipalID = res.Result
	sent := InvitationSent{
		Event: Event{EventID: "invitation-" + cmd.DeliveryID, OccurredAt: s.Now()}, CustomerTenantID: cmd.CustomerTenantID,
		PartnerTenantID: cmd.PartnerTenantID, InvitationID: inv.ID, InvitedUserID: r.base.PrincipalID,
		InvitedUserEmail: cmd.InviteeEmail, Roles: r.roles, DurationDays: r.days,
		Contacts: Contacts{Ticket: cmd.Ticket, PartnerContacts: cmd.PartnerContacts, CustomerContacts: cmd.CustomerContacts},
	}
	var reply access.Reply
	_, err = s.apply(ctx, cmd.CustomerTenantID, r.base.ID, r.eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if g.Status == access.StatusActive || g.Status == access.StatusPending || g.Status == access.StatusRequested {
			return decision{}, access.Errorf(access.KindConflict, "%s already has a %s grant %s: use extend-access or revoke-access", cmd.InviteeEmail, g.Status, g.ID)
		}
		reply = access.Reply{GrantID: r.base.ID, Status: string(access.StatusRequested)}
		dec, err := s.transition(ctx, withBase(g, r.base), access.Event{Type: access.EvRequest, Roles: r.roles, Actor: r.actor}, r.eventID, Processed, words{})
		if err != nil {
			return decision{}, err
		}
		dec.reply = &reply
		dec.audit = append([]access.AuditEntry{{At: s.Now(), Action: "graph:invite", EventID: r.eventID, Detail: invited}}, dec.audit...)
		if known != "" {
			dec.audit = append(dec.audit, invitationLine(s.Now(), r.eventID, cmd.InviteeEmail, guestID, ";"+known == resultExisted))
		}
		if g.Status.Final() {
			// A new grant for a guest whose last one ended: enabled again
			// if the app disabled it.
			revived, err := s.reviveGuest(ctx, g, guestID, r.eventID)
			if err != nil {
				return decision{}, err
			}
			dec.audit = append(dec.audit, revived...)
		}
		dec.outbox = append(dec.outbox, publishEntry(r.eventID, r.base, access.Message{
			Queue: QueueInvitationSent, ID: sent.EventID, Body: mustJSON(sent), Properties: map[string]any{"grantId": r.base.ID}}))
		return dec, nil
	})
	return reply, err
}

func (r request) gdap(ctx context.Context) (access.Reply, error) {
	cmd, s := r.cmd, r.s
	name := relationshipName(cmd)
	var rel access.Relationship
	res, err := s.once(ctx, cmd.CustomerTenantID, "gdap/"+cmd.DeliveryID, name, func(ctx context.Context, name string) (string, error) {
		var err error
		rel, err = s.gdap.CreateRelationship(ctx, cmd.PartnerTenantID, access.RelationshipRequest{
			DisplayName: name, CustomerTenantID: cmd.CustomerTenantID, Roles: r.roles,
			Duration: fmt.Sprintf("P%dD", r.days), AutoExtendDuration: r.base.AutoExtend,
		})
		if access.IsKind(err, access.KindInvalid) || access.IsKind(err, access.KindConflict) {
			// The name is taken: by a copy of this request (the name is the
			// request's own), which is resumed, or by something else.
			found, ferr := s.gdap.RelationshipByName(ctx, cmd.PartnerTenantID, name)
			switch {
			case ferr == nil && lower(found.CustomerTenantID) == cmd.CustomerTenantID:
				rel, err = found, nil
			case ferr != nil && !access.IsKind(ferr, access.KindNotFound):
				return "", fmt.Errorf("find relationship %q: %w", name, ferr)
			}
		}
		if err != nil {
			return "", fmt.Errorf("create GDAP relationship %q: %w", name, err)
		}
		return rel.ID, nil
	})
	if err != nil {
		return access.Reply{}, err
	}
	if !res.Created || rel.ID == "" {
		// An earlier delivery created it: carry on with it.
		if rel, err = s.gdap.Relationship(ctx, cmd.PartnerTenantID, res.Result); err != nil {
			return access.Reply{}, fmt.Errorf("read relationship %s created earlier: %w", res.Result, err)
		}
	}
	link, err := s.gdap.LockForApproval(ctx, cmd.PartnerTenantID, rel)
	if err != nil {
		return access.Reply{}, fmt.Errorf("lock relationship %s for approval: %w", rel.ID, err)
	}
	r.base.ID = access.GrantID(access.GDAP, rel.ID)
	r.base.PrincipalID = cmd.SecurityGroupID
	var reply access.Reply
	_, err = s.apply(ctx, cmd.CustomerTenantID, r.base.ID, r.eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		reply = access.Reply{GrantID: r.base.ID, Status: string(access.StatusPending), ApprovalURL: link}
		reqEv := access.Event{Type: access.EvRequest, Roles: r.roles, Actor: r.actor}
		req, _, err := access.Apply(withBase(g, r.base), reqEv, s.Now())
		if err != nil {
			return decision{}, err
		}
		dec, err := s.transition(ctx, req, access.Event{Type: access.EvAwait, Reason: "approval link sent to the customer", Actor: r.actor}, r.eventID, Processed, words{link: link})
		if err != nil {
			return decision{}, err
		}
		dec.reply = &reply
		dec.audit = append([]access.AuditEntry{
			access.AuditFor(g, req, access.Event{Type: access.EvRequest, Actor: r.actor}, s.Now()),
			{At: s.Now(), Action: "graph:create-relationship", EventID: r.eventID,
				Detail: fmt.Sprintf("relationship %s (%s, P%dD, auto-extend %s) created and locked for approval", rel.ID, rel.DisplayName, r.days, r.base.AutoExtend)},
		}, dec.audit...)
		return dec, nil
	})
	return reply, err
}

func (r request) lighthouse(ctx context.Context) (access.Reply, error) {
	cmd, s := r.cmd, r.s
	if cmd.SecurityGroupID == "" {
		return access.Reply{}, access.Invalid("no security group", map[string]string{
			"securityGroupId": "is required when PARTNER_SECURITY_GROUP_ID is not set"})
	}
	if s.templates == nil {
		return access.Reply{}, access.Errorf(access.KindInternal, "no Lighthouse templates configured")
	}
	template, roles, err := s.templates.Onboarding(cmd.PartnerTenantID, cmd.SecurityGroupID, cmd.SubscriptionID)
	if err != nil {
		return access.Reply{}, err
	}
	r.base.ID = access.GrantID(access.Lighthouse, cmd.SubscriptionID)
	r.base.PrincipalID = cmd.SecurityGroupID
	expires := s.Now().Add(time.Duration(r.days) * access.Day)
	var reply access.Reply
	_, err = s.apply(ctx, cmd.CustomerTenantID, r.base.ID, r.eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if live(g) || g.Status == access.StatusRequested {
			return decision{}, access.Errorf(access.KindConflict, "subscription %s already has a %s grant: use extend-access or revoke-access", cmd.SubscriptionID, g.Status)
		}
		reply = access.Reply{GrantID: r.base.ID, Status: string(access.StatusPending), ExpiresAt: rfc3339(expires)}
		start := withBase(g, r.base)
		start.ExpiresAt = expires
		reqEv := access.Event{Type: access.EvRequest, Roles: roles, Actor: r.actor}
		req, _, err := access.Apply(start, reqEv, s.Now())
		if err != nil {
			return decision{}, err
		}
		dec, err := s.transition(ctx, req, access.Event{Type: access.EvAwait, Reason: "onboarding template sent to the customer", Actor: r.actor},
			r.eventID, Processed, words{extra: []string{"Azure Lighthouse onboarding template (deploy it in subscription " + cmd.SubscriptionID + "):", string(template)}})
		if err != nil {
			return decision{}, err
		}
		dec.reply = &reply
		if s.delegations == nil {
			// The delegation never ends by itself: the app tracks its end.
			dec.outbox = append(dec.outbox, scheduleEntry(r.eventID, *dec.next))
		} else if err := s.watch(ctx, *dec.next, watchID("pending", r.base.ID, r.eventID), s.Now(), "waiting for the customer to deploy the template"); err != nil {
			// The app watches ARM for the delegation (DESIGN §15): it
			// becomes active when it appears, from then on.
			return decision{}, err
		}
		dec.audit = append([]access.AuditEntry{access.AuditFor(g, req, access.Event{Type: access.EvRequest, Actor: r.actor}, s.Now())}, dec.audit...)
		return dec, nil
	})
	return reply, err
}

// withBase fills a grant read from the store (or a new one) with the
// request's facts; a grant that ended starts a new lifecycle.
func withBase(g, base access.Grant) access.Grant {
	if g.Status.Final() {
		g = access.Grant{}
	}
	status, created, updated, notices := g.Status, g.CreatedAt, g.UpdatedAt, g.NoticesSent
	g = base
	g.Status, g.CreatedAt, g.UpdatedAt, g.NoticesSent = status, created, updated, notices
	return g
}

// relationshipName is the GDAP relationship's display name. Partner
// Center keeps display names unique across all of the partner's
// relationships and at most 50 characters, so the name is the request's
// own: the ticket id (or the delivery id) and a short hash of customer and
// delivery. Two tickets with the same id for two customers, or a new
// request on a ticket whose earlier grant ended, get names of their own; a
// redelivery of one request gets the same name. The ticket id is cut on a
// character boundary to fit.
func relationshipName(cmd Command) string {
	h := sha256.Sum256([]byte(cmd.CustomerTenantID + "\n" + cmd.DeliveryID))
	suffix := " " + hex.EncodeToString(h[:4])
	prefix := "Security Copilot "
	id := firstNonEmpty(cmd.Ticket.ID, cmd.DeliveryID)
	for len(prefix)+len(id)+len(suffix) > maxRelationshipName {
		_, size := utf8.DecodeLastRuneInString(id)
		id = id[:len(id)-size]
	}
	return prefix + id + suffix
}

// maxRelationshipName is Partner Center's limit on a display name.
const maxRelationshipName = 50

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
