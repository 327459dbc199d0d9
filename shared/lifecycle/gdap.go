package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// ActivateGDAP activates a GDAP grant once the customer approved the
// relationship: Graph must say it is active, every role it carries must be
// allowed, then the partner security group (the message's, else the
// request's, else the default) gets its access assignment (unless it has
// one) and the grant is active until the relationship ends. Roles outside
// policy: the grant is refused, nothing is assigned.
//
// Activation takes minutes (approved, then activating, then active): a
// relationship not active yet defers the message and keeps the grant
// pending, and the message is looked at again, backing off to hourly. A
// request nobody approves lapses after ApprovalWait: the grant ends
// expired. A grant revoked while its relationship was on its way is not
// activated: the relationship is terminated as soon as it is active.
func (s *Service) ActivateGDAP(ctx context.Context, m GDAPApproved) (Outcome, error) {
	ctx, _ = traced(ctx, "eventId", m.EventID, "relationshipId", m.RelationshipID)
	rel, err := s.gdap.Relationship(ctx, m.PartnerTenantID, m.RelationshipID)
	if err != nil {
		return "", fmt.Errorf("read relationship %s: %w", m.RelationshipID, err)
	}
	switch rel.Status {
	case access.RelActive, access.RelApproved, access.RelActivating, access.RelApprovalPending, access.RelCreated:
	default:
		return "", access.Errorf(access.KindInvalid, "relationship %s is %s: nothing to activate", rel.ID, rel.Status)
	}
	customer := lower(rel.CustomerTenantID)
	if m.CustomerTenantID != "" && m.CustomerTenantID != customer {
		return "", access.Invalid("customer mismatch", map[string]string{
			"customerTenantId": fmt.Sprintf("the relationship belongs to %s", customer)})
	}
	if !access.IsGUID(customer) {
		return "", access.Errorf(access.KindInvalid, "relationship %s names no customer tenant", rel.ID)
	}
	roles, err := access.NormalizeRoles(rel.Roles)
	if err != nil {
		return "", fmt.Errorf("relationship %s roles: %w", rel.ID, err)
	}
	grantID := access.GrantID(access.GDAP, m.RelationshipID)
	return s.apply(ctx, customer, grantID, m.EventID, func(ctx context.Context, g access.Grant) (decision, error) {
		switch {
		case g.Status == access.StatusRevoked && rel.Status == access.RelActive:
			return s.terminateRevoked(ctx, g, rel, m.EventID)
		case g.Status == access.StatusRevoked && (rel.Status == access.RelApproved || rel.Status == access.RelActivating):
			// Revoked while the customer's approval was on its way: look
			// again, to terminate it as soon as it is active.
			return s.awaitActivation(ctx, g, rel, m)
		case g.Status.Final():
			return decision{outcome: Stale}, nil
		case rel.Status != access.RelActive:
			return s.awaitActivation(ctx, g, rel, m)
		}
		return s.activateGDAP(ctx, g, rel, roles, m)
	})
}

// activateGDAP decides the activation of a grant whose relationship is
// active.
func (s *Service) activateGDAP(ctx context.Context, g access.Grant, rel access.Relationship, roles []string, m GDAPApproved) (decision, error) {
	p := s.opts.Policy
	actor := actorOf(m.Ticket, "gdap-approved")
	end := access.WholeSeconds(rel.EndDateTime)
	group := m.SecurityGroupID
	if group == "" && g.Status != access.StatusNew {
		group = g.PrincipalID // the request's group
	}
	group = firstNonEmpty(group, s.opts.SecurityGroupID)
	g.Method, g.PartnerTenantID, g.CapacityPlan = access.GDAP, m.PartnerTenantID, access.CapacityPlanOf(access.GDAP)
	g.AutoExtend = firstNonEmpty(rel.AutoExtendDuration, access.AutoExtendNone)
	g.Ticket = ticketOr(m.Ticket, g.Ticket)
	g.PartnerContacts = listOr(m.PartnerContacts, g.PartnerContacts)
	g.CustomerContacts = listOr(m.CustomerContacts, g.CustomerContacts)

	refuse := p.CheckRoles(roles)
	if refuse == nil {
		refuse = access.CheckAutoExtend(g.AutoExtend, roles)
	}
	if refuse != nil {
		if g.Status == access.StatusActive {
			return decision{}, refuse
		}
		return s.transition(ctx, g, access.Event{Type: access.EvRefuse, Roles: roles, Reason: refusal(refuse), Actor: actor}, m.EventID, Refused, words{})
	}
	if group == "" {
		return decision{}, access.Invalid("no security group", map[string]string{
			"securityGroupId": "is required when PARTNER_SECURITY_GROUP_ID is not set"})
	}
	if g.Status == access.StatusActive && g.ExpiresAt.Equal(end) && g.PrincipalID == group {
		return decision{outcome: Duplicate}, nil
	}
	audit, err := s.ensureAccessAssignment(ctx, m.PartnerTenantID, rel.ID, group, roles, m.EventID)
	if err != nil {
		return decision{}, err
	}
	return s.granted(ctx, g, access.Event{Type: access.EvActivate, ExpiresAt: end, Roles: roles, PrincipalID: group, Actor: actor}, m.EventID, audit)
}

// awaitActivation defers a message whose relationship is not active yet,
// or ends a request that waited longer than ApprovalWait.
func (s *Service) awaitActivation(ctx context.Context, g access.Grant, rel access.Relationship, m GDAPApproved) (decision, error) {
	now := s.Now()
	unapproved := rel.Status == access.RelCreated || rel.Status == access.RelApprovalPending
	if unapproved && g.Status == access.StatusPending && !g.CreatedAt.IsZero() && now.Sub(g.CreatedAt) >= ApprovalWait {
		return s.transition(ctx, g, access.Event{Type: access.EvExpire, Actor: "gdap-approved",
			Reason: fmt.Sprintf("the customer did not approve the relationship within %d days", int(ApprovalWait/access.Day))}, m.EventID, Processed, words{})
	}
	since := m.OccurredAt
	if since.IsZero() || since.After(now) {
		since = now
	}
	err := s.recheck(ctx, lower(rel.CustomerTenantID), access.GrantID(access.GDAP, rel.ID), m.EventID, since,
		"relationship "+rel.ID+" is "+rel.Status, QueueGDAPApproved, mustJSON(m))
	return decision{outcome: Deferred}, err
}

// terminateRevoked ends a relationship that became active after its grant
// was revoked: nobody may use it.
func (s *Service) terminateRevoked(ctx context.Context, g access.Grant, rel access.Relationship, eventID string) (decision, error) {
	if err := s.gdap.TerminateRelationship(ctx, g.PartnerTenantID, rel); err != nil {
		return decision{}, fmt.Errorf("terminate relationship %s of a revoked grant: %w", rel.ID, err)
	}
	next := g
	next.UpdatedAt = s.Now()
	return decision{outcome: Processed, next: &next, audit: []access.AuditEntry{{At: s.Now(), Action: "graph:terminate-relationship",
		EventID: eventID, Detail: "relationship " + rel.ID + " became active after its grant was revoked: termination requested"}}}, nil
}

// ensureAccessAssignment gives the group the roles through the
// relationship. The group's live assignment, created now or found after
// Graph refused a second one, must carry exactly the relationship's roles.
// The audit names the assignment either way: a delivery that created it and
// then failed before its commit left no record of it.
func (s *Service) ensureAccessAssignment(ctx context.Context, partner, relID, group string, roles []string, eventID string) ([]access.AuditEntry, error) {
	a, err := s.gdap.CreateAccessAssignment(ctx, partner, relID, group, roles)
	if err != nil {
		return nil, fmt.Errorf("create access assignment for %s in %s: %w", group, relID, err)
	}
	if !sameSet(a.Roles, roles) {
		return nil, access.Errorf(access.KindConflict, "group %s already has an access assignment with other roles in %s", group, relID)
	}
	return []access.AuditEntry{{At: s.Now(), Action: "graph:access-assignment", EventID: eventID,
		Detail: fmt.Sprintf("security group %s given %s through relationship %s (assignment %s)", group, strings.Join(roleNames(roles), ", "), relID, a.ID)}}, nil
}

func sameSet(a, b []string) bool {
	x, y := lowerAll(a), lowerAll(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = lower(s)
	}
	return out
}

func roleNames(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = access.RoleName(id)
	}
	return out
}
