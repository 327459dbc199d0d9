package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/lighthouse"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// ticketCommand is a ticketing system's command (DESIGN.md section 5).
type ticketCommand struct {
	DeliveryID       string        `json:"deliveryId"`
	Action           string        `json:"action"`
	Ticket           access.Ticket `json:"ticket"`
	Method           string        `json:"method"`
	CustomerTenantID string        `json:"customerTenantId"`
	PartnerTenantID  string        `json:"partnerTenantId"`
	Invitee          struct {
		Email       string `json:"email"`
		DisplayName string `json:"displayName"`
	} `json:"invitee"`
	Roles            []string `json:"roles"`
	DurationDays     int      `json:"durationDays"`
	GrantID          string   `json:"grantId"`
	SubscriptionID   string   `json:"subscriptionId"`  // lighthouse: the subscription to delegate
	SecurityGroupID  string   `json:"securityGroupId"` // gdap, lighthouse: default PARTNER_SECURITY_GROUP_ID
	AutoExtend       string   `json:"autoExtend"`      // gdap: "P180D" or "PT0S" (default)
	PartnerContacts  []string `json:"partnerContacts"`
	CustomerContacts []string `json:"customerContacts"`
}

// Ticket actions.
const (
	actionRequest = "request-access"
	actionRevoke  = "revoke-access"
	actionExtend  = "extend-access"
)

// ticketResult is the answer to a command, kept in the ledger so that a
// replayed delivery gets the same answer.
type ticketResult struct {
	GrantID     string `json:"grantId"`
	Status      string `json:"status"`
	ExpiresAt   string `json:"expiresAt,omitempty"`
	ApprovalURL string `json:"approvalUrl,omitempty"`
}

// ticketWebhook takes commands from ticketing systems: the body must be
// signed with TICKET_WEBHOOK_SECRET within 300 s, and a deliveryId seen
// before gets its earlier answer with no new effect.
func (d Deps) ticketWebhook(ctx context.Context, c *call, req funchost.HTTPRequest) (funchost.HTTPResponse, error) {
	if req.BodyReencoded {
		return funchost.HTTPResponse{}, access.Errorf(access.KindUnauthorized, "the body reached the handler re-encoded; its signature cannot be checked")
	}
	if d.Config.TicketWebhookSecret == "" {
		return funchost.HTTPResponse{}, access.Errorf(access.KindUnauthorized, "ticket webhooks are not configured (TICKET_WEBHOOK_SECRET)")
	}
	// The signature window is wall-clock time, whatever clock the grants
	// follow (a local run may move that one).
	if err := webhook.VerifyTicket([]byte(d.Config.TicketWebhookSecret), req.Header, req.Body, time.Now()); err != nil {
		return funchost.HTTPResponse{}, err
	}
	cmd, err := d.parseTicketCommand(req.Body)
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	eventID := "ticket-" + cmd.DeliveryID
	c.log = c.log.With("deliveryId", cmd.DeliveryID, "action", cmd.Action, "customerTenantId", cmd.CustomerTenantID)
	c.logf("ticket %s: %s", cmd.Ticket, cmd.Action)

	if res, ok, err := d.replay(ctx, c, cmd.CustomerTenantID, eventID); err != nil || ok {
		return res, upstream(err)
	}
	var status int
	var result ticketResult
	switch cmd.Action {
	case actionRequest:
		status = http.StatusAccepted
		result, err = d.requestAccess(ctx, c, cmd, eventID)
	case actionRevoke:
		status = http.StatusOK
		result, err = d.revokeAccess(ctx, c, cmd, eventID)
	case actionExtend:
		status = http.StatusOK
		result, err = d.extendAccess(ctx, c, cmd, eventID)
	}
	if err != nil {
		return funchost.HTTPResponse{}, upstream(err)
	}
	if result.GrantID == "" {
		// Lost a race with a copy of this delivery: answer as it did.
		return d.replayOrConflict(ctx, c, cmd.CustomerTenantID, eventID)
	}
	return funchost.JSON(status, result), nil
}

// replay answers a delivery seen before with its earlier outcome.
func (d Deps) replay(ctx context.Context, c *call, customer, eventID string) (funchost.HTTPResponse, bool, error) {
	entry, seen, err := d.Store.Processed(ctx, customer, eventID)
	if err != nil || !seen {
		return funchost.HTTPResponse{}, false, err
	}
	// Finish what the first delivery may have left (its notifications, the
	// invitation-sent message it promised). Until that is done the caller
	// must keep retrying: a 200 would end its retries with the work undone.
	if err := c.finishDuplicate(ctx, customer, entry); err != nil {
		return funchost.HTTPResponse{}, false, fmt.Errorf("finish delivery %s: %w", strings.TrimPrefix(eventID, "ticket-"), err)
	}
	var earlier ticketResult
	if json.Unmarshal([]byte(entry.Outcome), &earlier) != nil {
		earlier = ticketResult{GrantID: entry.GrantID, Status: entry.Outcome}
	}
	c.logf("delivery seen before: %s", entry.Outcome)
	return funchost.JSON(http.StatusOK, earlier), true, nil
}

func (d Deps) replayOrConflict(ctx context.Context, c *call, customer, eventID string) (funchost.HTTPResponse, error) {
	res, ok, err := d.replay(ctx, c, customer, eventID)
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	if !ok {
		return funchost.HTTPResponse{}, access.Errorf(access.KindConflict, "the grant changed while the command ran; send it again")
	}
	return res, nil
}

func (d Deps) parseTicketCommand(body []byte) (ticketCommand, error) {
	var cmd ticketCommand
	if err := decodeJSON(body, &cmd); err != nil {
		return cmd, err
	}
	f := fieldCheck{}
	if f.required("deliveryId", cmd.DeliveryID) && (len(cmd.DeliveryID) > 128 || strings.ContainsAny(cmd.DeliveryID, "/\\#?\r\n\t")) {
		f["deliveryId"] = "at most 128 characters, without / \\ # ? or control characters"
	}
	f.guid("customerTenantId", cmd.CustomerTenantID, true)
	f.ticket(cmd.Ticket)
	f.emails("partnerContacts", cmd.PartnerContacts)
	f.emails("customerContacts", cmd.CustomerContacts)
	cmd.CustomerTenantID = lower(cmd.CustomerTenantID)
	cmd.PartnerTenantID = lower(firstNonEmpty(cmd.PartnerTenantID, d.Config.PartnerTenantID))
	f.guid("partnerTenantId", cmd.PartnerTenantID, true)
	if cmd.DurationDays < 0 {
		f["durationDays"] = "must be positive"
	}
	switch cmd.Action {
	case actionRequest:
		m, ok := access.ParseMethod(cmd.Method)
		if !ok {
			f["method"] = "must be b2b, gdap or lighthouse"
		}
		cmd.Method = string(m)
		switch m {
		case access.B2B:
			if f.required("invitee.email", cmd.Invitee.Email) {
				f.email("invitee.email", cmd.Invitee.Email)
			}
			if len(cmd.Invitee.DisplayName) > 256 {
				f["invitee.displayName"] = "at most 256 characters"
			}
			f.roles(cmd.Roles)
		case access.GDAP:
			f.roles(cmd.Roles)
			f.guid("securityGroupId", cmd.SecurityGroupID, false)
			if cmd.DurationDays > access.GDAPMaxDays {
				f["durationDays"] = fmt.Sprintf("a GDAP relationship lasts at most %d days", access.GDAPMaxDays)
			}
		case access.Lighthouse:
			f.guid("subscriptionId", cmd.SubscriptionID, true)
			f.guid("securityGroupId", cmd.SecurityGroupID, false)
		}
	case actionRevoke, actionExtend:
		if f.required("grantId", cmd.GrantID) {
			if _, _, ok := access.SplitGrantID(cmd.GrantID); !ok {
				f["grantId"] = "must be <method>:<id> with method b2b, gdap or lighthouse"
			}
		}
		if cmd.Action == actionExtend && cmd.DurationDays == 0 {
			f["durationDays"] = "is required: the new length from now, in days"
		}
	case "":
		f["action"] = "is required"
	default:
		f["action"] = "must be request-access, revoke-access or extend-access"
	}
	cmd.SecurityGroupID = lower(firstNonEmpty(cmd.SecurityGroupID, d.Config.PartnerSecurityGroupID))
	cmd.SubscriptionID = lower(cmd.SubscriptionID)
	return cmd, f.err()
}

// requestAccess starts a grant: B2B invites the guest and publishes
// invitation-sent; GDAP creates the relationship request, locks it for
// approval and sends the customer the approval link; Lighthouse renders the
// onboarding template and sends it to the customer. A request outside
// policy is refused whole, recorded and notified, and answered 422.
func (d Deps) requestAccess(ctx context.Context, c *call, cmd ticketCommand, eventID string) (ticketResult, error) {
	m := access.Method(cmd.Method)
	base := access.Grant{
		Method: m, CustomerTenantID: cmd.CustomerTenantID, PartnerTenantID: cmd.PartnerTenantID,
		CapacityPlan: access.CapacityPlanOf(m), Ticket: cmd.Ticket, InviteeEmail: cmd.Invitee.Email,
		PartnerContacts: cmd.PartnerContacts, CustomerContacts: cmd.CustomerContacts, AutoExtend: access.AutoExtendNone,
	}
	actor := actorOf(cmd.Ticket, "ticket-webhook")
	p := d.policy()
	days := cmd.DurationDays
	if days == 0 {
		days = p.B2BDefaultDays
	}

	var roles []string
	var refuse error
	switch m {
	case access.B2B, access.GDAP:
		roles, _ = access.NormalizeRoles(cmd.Roles) // validated by parse
		refuse = p.CheckRoles(roles)
		if refuse == nil && m == access.GDAP {
			base.AutoExtend = firstNonEmpty(cmd.AutoExtend, access.AutoExtendNone)
			refuse = access.CheckAutoExtend(base.AutoExtend, roles)
		}
		if refuse == nil && m == access.B2B {
			_, refuse = p.B2BExpiry(d.now(), days)
		}
	case access.Lighthouse:
		if days > p.B2BMaxDays {
			refuse = &access.Error{Kind: access.KindRefused, Code: "DurationOverCap",
				Msg: fmt.Sprintf("refused by policy: %d days is longer than the %d-day cap", days, p.B2BMaxDays)}
		}
	}
	if refuse != nil {
		// Recorded under the delivery: nothing was created to name it by.
		base.ID = access.GrantID(m, "request-"+cmd.DeliveryID)
		_, err := c.applyEvent(ctx, cmd.CustomerTenantID, base.ID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
			ev := access.Event{Type: access.EvRefuse, Roles: roles, Reason: refusal(refuse), Actor: actor}
			return c.transition(withBase(g, base), ev, eventID, resultJSON(base.ID, access.StatusRefused, ""), "")
		})
		if err != nil {
			return ticketResult{}, err
		}
		return ticketResult{}, refuse
	}

	switch m {
	case access.B2B:
		return d.requestB2B(ctx, c, cmd, base, roles, days, eventID, actor)
	case access.GDAP:
		return d.requestGDAP(ctx, c, cmd, base, roles, days, eventID, actor)
	}
	return d.requestLighthouse(ctx, c, cmd, base, days, eventID, actor)
}

func (d Deps) requestB2B(ctx context.Context, c *call, cmd ticketCommand, base access.Grant, roles []string, days int, eventID, actor string) (ticketResult, error) {
	inv, err := d.Directory.Invite(ctx, cmd.CustomerTenantID, access.Invitation{
		Email: cmd.Invitee.Email, DisplayName: cmd.Invitee.DisplayName,
		RedirectURL: access.TenantSwitchLink(cmd.CustomerTenantID), SendMessage: true,
	})
	if err != nil {
		return ticketResult{}, fmt.Errorf("invite %s: %w", cmd.Invitee.Email, err)
	}
	base.ID = access.GrantID(access.B2B, lower(inv.UserID))
	base.PrincipalID = lower(inv.UserID)
	sent := invitationSent{
		EventID: "invitation-" + cmd.DeliveryID, OccurredAt: d.now(), CustomerTenantID: cmd.CustomerTenantID,
		PartnerTenantID: cmd.PartnerTenantID, InvitationID: inv.ID, InvitedUserID: base.PrincipalID,
		InvitedUserEmail: cmd.Invitee.Email, Roles: roles, DurationDays: days, Ticket: cmd.Ticket,
		PartnerContacts: cmd.PartnerContacts, CustomerContacts: cmd.CustomerContacts,
	}
	var result ticketResult
	_, err = c.applyEvent(ctx, cmd.CustomerTenantID, base.ID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if g.Status == access.StatusActive || g.Status == access.StatusPending || g.Status == access.StatusRequested {
			return decision{}, access.Errorf(access.KindConflict, "%s already has a %s grant %s: use extend-access or revoke-access", cmd.Invitee.Email, g.Status, g.ID)
		}
		result = ticketResult{GrantID: base.ID, Status: string(access.StatusRequested)}
		dec, err := c.transition(withBase(g, base), access.Event{Type: access.EvRequest, Roles: roles, Actor: actor}, eventID, mustString(result), "")
		if err != nil {
			return decision{}, err
		}
		dec.audit = append([]access.AuditEntry{{At: d.now().Add(-time.Nanosecond), Action: "graph:invite", EventID: eventID,
			Detail: fmt.Sprintf("invited %s as guest %s (invitation %s)", cmd.Invitee.Email, inv.UserID, inv.ID)}}, dec.audit...)
		dec.outbox = append(dec.outbox, publishRow(eventID, base, access.Message{
			Queue: FnInvitationSent, ID: sent.EventID, Body: mustJSON(sent), Properties: map[string]any{"grantId": base.ID}}))
		return dec, nil
	})
	return result, err
}

func (d Deps) requestGDAP(ctx context.Context, c *call, cmd ticketCommand, base access.Grant, roles []string, days int, eventID, actor string) (ticketResult, error) {
	rel, err := d.Directory.CreateRelationship(ctx, cmd.PartnerTenantID, access.RelationshipRequest{
		DisplayName: relationshipName(cmd), CustomerTenantID: cmd.CustomerTenantID, Roles: roles,
		Duration: fmt.Sprintf("P%dD", days), AutoExtendDuration: base.AutoExtend,
	})
	if err != nil {
		return ticketResult{}, fmt.Errorf("create GDAP relationship: %w", err)
	}
	link, err := d.Directory.LockForApproval(ctx, cmd.PartnerTenantID, rel)
	if err != nil {
		return ticketResult{}, fmt.Errorf("lock relationship %s for approval: %w", rel.ID, err)
	}
	base.ID = access.GrantID(access.GDAP, rel.ID)
	base.PrincipalID = cmd.SecurityGroupID
	var result ticketResult
	_, err = c.applyEvent(ctx, cmd.CustomerTenantID, base.ID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		result = ticketResult{GrantID: base.ID, Status: string(access.StatusPending), ApprovalURL: link}
		req, _, err := access.Apply(withBase(g, base), access.Event{Type: access.EvRequest, Roles: roles, Actor: actor}, d.now())
		if err != nil {
			return decision{}, err
		}
		dec, err := c.transition(req, access.Event{Type: access.EvAwait, Reason: "approval link sent to the customer", Actor: actor}, eventID, mustString(result), link)
		if err != nil {
			return decision{}, err
		}
		dec.audit = append([]access.AuditEntry{
			access.AuditFor(g, req, access.Event{Type: access.EvRequest, Actor: actor}, d.now().Add(-2*time.Nanosecond)),
			{At: d.now().Add(-time.Nanosecond), Action: "graph:create-relationship", EventID: eventID,
				Detail: fmt.Sprintf("relationship %s (%s, P%dD, auto-extend %s) created and locked for approval", rel.ID, rel.DisplayName, days, base.AutoExtend)},
		}, dec.audit...)
		return dec, nil
	})
	return result, err
}

func (d Deps) requestLighthouse(ctx context.Context, c *call, cmd ticketCommand, base access.Grant, days int, eventID, actor string) (ticketResult, error) {
	if cmd.SecurityGroupID == "" {
		return ticketResult{}, access.Invalid("no security group", map[string]string{
			"securityGroupId": "is required when PARTNER_SECURITY_GROUP_ID is not set"})
	}
	offer := lighthouse.DefaultOffer(cmd.PartnerTenantID, cmd.SecurityGroupID, "MSSP security analysts", cmd.SubscriptionID)
	template, err := lighthouse.Render(offer)
	if err != nil {
		return ticketResult{}, err
	}
	base.ID = access.GrantID(access.Lighthouse, cmd.SubscriptionID)
	base.PrincipalID = cmd.SecurityGroupID
	var roles []string
	for _, a := range offer.Authorizations {
		roles = append(roles, a.RoleDefinitionID)
	}
	for _, a := range offer.EligibleAuthorizations {
		roles = append(roles, a.RoleDefinitionID)
	}
	expires := d.now().Add(time.Duration(days) * access.Day)
	var result ticketResult
	_, err = c.applyEvent(ctx, cmd.CustomerTenantID, base.ID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if live(g) || g.Status == access.StatusRequested {
			return decision{}, access.Errorf(access.KindConflict, "subscription %s already has a %s grant: use extend-access or revoke-access", cmd.SubscriptionID, g.Status)
		}
		result = ticketResult{GrantID: base.ID, Status: string(access.StatusPending), ExpiresAt: rfc3339(expires)}
		start := withBase(g, base)
		start.ExpiresAt = expires
		req, _, err := access.Apply(start, access.Event{Type: access.EvRequest, Roles: roles, Actor: actor}, d.now())
		if err != nil {
			return decision{}, err
		}
		dec, err := c.transition(req, access.Event{Type: access.EvAwait, Reason: "onboarding template sent to the customer", Actor: actor},
			eventID, mustString(result), "", "Azure Lighthouse onboarding template (deploy it in subscription "+cmd.SubscriptionID+"):", string(template))
		if err != nil {
			return decision{}, err
		}
		// The delegation never ends by itself: the app tracks its end.
		dec.outbox = append(dec.outbox, scheduleRow(eventID, *dec.next))
		dec.audit = append([]access.AuditEntry{access.AuditFor(g, req, access.Event{Type: access.EvRequest, Actor: actor}, d.now().Add(-time.Nanosecond))}, dec.audit...)
		return dec, nil
	})
	return result, err
}

// revokeAccess ends a grant now, taking away what the app granted.
func (d Deps) revokeAccess(ctx context.Context, c *call, cmd ticketCommand, eventID string) (ticketResult, error) {
	if _, err := d.existingGrant(ctx, cmd); err != nil {
		return ticketResult{}, err
	}
	actor := actorOf(cmd.Ticket, "ticket-webhook")
	var result ticketResult
	_, err := c.applyEvent(ctx, cmd.CustomerTenantID, cmd.GrantID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if g.Status.Final() {
			return decision{}, access.Errorf(access.KindConflict, "grant %s is already %s", g.ID, g.Status)
		}
		var audit []access.AuditEntry
		if g.Status == access.StatusActive || g.Status == access.StatusPending {
			var err error
			if audit, err = d.takeAway(ctx, g, eventID); err != nil {
				return decision{}, err
			}
		}
		result = ticketResult{GrantID: g.ID, Status: string(access.StatusRevoked)}
		dec, err := c.transition(g, access.Event{Type: access.EvRevoke, Reason: "revoked on request", Actor: actor}, eventID, mustString(result), "")
		if err != nil {
			return decision{}, err
		}
		dec.audit = append(audit, dec.audit...)
		return dec, nil
	})
	return result, err
}

// takeAway removes what the app granted, before a revocation.
func (d Deps) takeAway(ctx context.Context, g access.Grant, eventID string) ([]access.AuditEntry, error) {
	at := d.now().Add(-time.Nanosecond)
	switch g.Method {
	case access.B2B:
		if g.Status != access.StatusActive {
			return nil, nil
		}
		done, err := d.removeGuestRoles(ctx, g)
		var audit []access.AuditEntry
		for _, r := range done {
			audit = append(audit, access.AuditEntry{At: at, Action: "graph:remove-role", EventID: eventID, Detail: r})
		}
		return audit, err
	case access.GDAP:
		_, relID, _ := access.SplitGrantID(g.ID)
		rel, err := d.Directory.Relationship(ctx, g.PartnerTenantID, relID)
		if access.IsKind(err, access.KindNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read relationship %s: %w", relID, err)
		}
		switch rel.Status {
		case access.RelTerminated, access.RelTerminating, access.RelTerminationReq, access.RelExpired:
			return nil, nil
		}
		if err := d.Directory.TerminateRelationship(ctx, g.PartnerTenantID, rel); err != nil {
			return nil, fmt.Errorf("terminate relationship %s: %w", relID, err)
		}
		return []access.AuditEntry{{At: at, Action: "graph:terminate-relationship", EventID: eventID,
			Detail: "termination of relationship " + relID + " requested"}}, nil
	}
	// Lighthouse: only the customer can remove a delegation; the
	// notification tells them to.
	return nil, nil
}

// extendAccess moves a grant's end to durationDays from now, within policy.
func (d Deps) extendAccess(ctx context.Context, c *call, cmd ticketCommand, eventID string) (ticketResult, error) {
	if _, err := d.existingGrant(ctx, cmd); err != nil {
		return ticketResult{}, err
	}
	p := d.policy()
	actor := actorOf(cmd.Ticket, "ticket-webhook")
	var result ticketResult
	_, err := c.applyEvent(ctx, cmd.CustomerTenantID, cmd.GrantID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if g.Method == access.GDAP {
			return decision{}, &access.Error{Kind: access.KindRefused, Code: "GDAPEndIsPartnerCenters",
				Msg: "refused by policy: a GDAP relationship's end is set when it is approved; ask for a new relationship or use auto-extend"}
		}
		if !live(g) {
			return decision{}, access.Errorf(access.KindConflict, "grant %s is %s: only a grant with an end date can be extended", g.ID, g.Status)
		}
		expires, err := p.B2BExpiry(d.now(), cmd.DurationDays)
		if err != nil {
			return decision{}, err
		}
		result = ticketResult{GrantID: g.ID, Status: string(g.Status), ExpiresAt: rfc3339(expires)}
		return c.transition(g, access.Event{Type: access.EvExtend, ExpiresAt: expires, Actor: actor}, eventID, mustString(result), "")
	})
	return result, err
}

func (d Deps) existingGrant(ctx context.Context, cmd ticketCommand) (access.Grant, error) {
	g, _, err := d.Store.Grant(ctx, cmd.CustomerTenantID, cmd.GrantID)
	if access.IsKind(err, access.KindNotFound) {
		return g, access.Errorf(access.KindNotFound, "no grant %s for customer %s", cmd.GrantID, cmd.CustomerTenantID)
	}
	return g, err
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

// relationshipName is the GDAP relationship's display name: unique per
// request and at most 50 characters, as Partner Center requires.
func relationshipName(cmd ticketCommand) string {
	name := "Security Copilot " + firstNonEmpty(cmd.Ticket.ID, cmd.DeliveryID)
	if len(name) > 50 {
		name = name[:50]
	}
	return name
}

func publishRow(eventID string, g access.Grant, m access.Message) access.Notification {
	return access.Notification{ID: eventID + "/publish", CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, EventID: eventID,
		Channel: access.ChannelPublish, Subject: "publish " + m.ID + " to " + m.Queue, Message: &m}
}

func scheduleRow(eventID string, g access.Grant) access.Notification {
	return access.Notification{ID: eventID + "/schedule", CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, EventID: eventID,
		Channel: access.ChannelSchedule, Subject: "publish the notices of " + g.ExpiresAt.Format(time.RFC3339)}
}

func resultJSON(grantID string, s access.Status, expires string) string {
	return mustString(ticketResult{GrantID: grantID, Status: string(s), ExpiresAt: expires})
}

func mustString(v any) string { return string(mustJSON(v)) }
