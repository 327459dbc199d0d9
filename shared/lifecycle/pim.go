package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Time-bound roles (DESIGN.md section 13, B2B_ASSIGNMENT=pim): a guest's
// roles are time-bound active assignments of Privileged Identity
// Management that end with the grant, so that Entra itself ends the access
// even if the app is down; an extension moves their end, a revocation
// removes them. A tenant without Entra ID P2 gets directory assignments,
// which the app removes at the end, and the trail says why.

// TimeBoundRoles is what PIM mode needs of a customer tenant.
type TimeBoundRoles interface {
	// AssignUntil makes the role a time-bound active assignment ending at
	// end, or moves the end of the one there (idempotent). Refused with
	// access.CodeNeedsP2 in a tenant without Entra ID P2.
	AssignUntil(ctx context.Context, tenantID, principalID, roleID string, end time.Time) error
	// ExtendUntil moves the end of a time-bound assignment.
	ExtendUntil(ctx context.Context, tenantID, principalID, roleID string, end time.Time) error
	// RemoveTimeBound ends a time-bound assignment; one gone is no error.
	RemoveTimeBound(ctx context.Context, tenantID, principalID, roleID string) error
}

// Audit actions of time-bound roles.
const (
	ActionAssignRolePIM = "pim:assign-role"
	ActionRemoveRolePIM = "pim:remove-role"
	ActionExtendRolePIM = "pim:extend-role"
	ActionPIMFallback   = "pim:unavailable"
)

func (s *Service) pim() bool { return s.opts.TimeBound && s.timeBound != nil }

// needsP2 reports whether err is a tenant's refusal for want of Entra ID P2.
func needsP2(err error) bool { return access.Match(access.E(access.CodeNeedsP2), err) }

// assignTimeBound gives the guest its roles until end through PIM. fellBack
// is true when the tenant has no P2: the caller then assigns them as
// directory roles; the audit then holds the line that says so.
func (s *Service) assignTimeBound(ctx context.Context, tenant, userID string, roles []string, end time.Time, eventID string) (audit []access.AuditEntry, fellBack bool, err error) {
	for _, role := range roles {
		err := s.timeBound.AssignUntil(ctx, tenant, userID, role, end)
		if needsP2(err) {
			return []access.AuditEntry{{At: s.Now(), Action: ActionPIMFallback, EventID: eventID, Ref: userID,
				Detail: fmt.Sprintf("tenant %s has no Entra ID P2: %s gets directory role assignments, which the app removes at the end, instead of time-bound ones", tenant, userID)}}, true, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("assign %s to %s until its end: %w", access.RoleName(role), userID, err)
		}
		audit = append(audit, access.AuditEntry{At: s.Now(), Action: ActionAssignRolePIM, EventID: eventID, Ref: userID, Role: role,
			Detail: fmt.Sprintf("%s assigned to %s as a time-bound active assignment until %s (PIM)", access.RoleName(role), userID, end.UTC().Format(time.RFC3339))})
	}
	return audit, false, nil
}

// timeBoundRoles are the roles of a grant's trail that PIM holds now: made
// and not removed since.
func timeBoundRoles(trail []access.AuditEntry) []string {
	held := map[string]bool{}
	var order []string
	for _, a := range trail {
		role := strings.ToLower(a.Role)
		switch a.Action {
		case ActionAssignRolePIM:
			if _, seen := held[role]; !seen {
				order = append(order, role) // once, even if assigned again after a removal
			}
			held[role] = true
		case ActionRemoveRolePIM:
			held[role] = false
		}
	}
	var out []string
	for _, r := range order {
		if held[r] {
			out = append(out, r)
		}
	}
	return out
}

// extendTimeBound moves the end of a B2B grant's time-bound roles.
func (s *Service) extendTimeBound(ctx context.Context, g access.Grant, end time.Time, eventID string) ([]access.AuditEntry, error) {
	if s.timeBound == nil || g.Method != access.B2B || g.Status != access.StatusActive {
		return nil, nil
	}
	trail, err := s.store.Audit(ctx, g.CustomerTenantID, g.ID)
	if err != nil {
		return nil, fmt.Errorf("read the audit trail of %s: %w", g.ID, err)
	}
	var audit []access.AuditEntry
	for _, role := range timeBoundRoles(trail) {
		if err := s.timeBound.ExtendUntil(ctx, g.CustomerTenantID, g.PrincipalID, role, end); err != nil {
			return nil, fmt.Errorf("extend %s of %s: %w", access.RoleName(role), g.PrincipalID, err)
		}
		audit = append(audit, access.AuditEntry{At: s.Now(), Action: ActionExtendRolePIM, EventID: eventID, Ref: g.PrincipalID, Role: role,
			Detail: fmt.Sprintf("time-bound %s of %s now ends %s (PIM)", access.RoleName(role), g.PrincipalID, end.UTC().Format(time.RFC3339))})
	}
	return audit, nil
}

// removeTimeBound ends a B2B grant's time-bound roles now.
func (s *Service) removeTimeBound(ctx context.Context, g access.Grant, trail []access.AuditEntry, eventID string) ([]access.AuditEntry, error) {
	if s.timeBound == nil {
		return nil, nil
	}
	var audit []access.AuditEntry
	for _, role := range timeBoundRoles(trail) {
		if err := s.timeBound.RemoveTimeBound(ctx, g.CustomerTenantID, g.PrincipalID, role); err != nil {
			return nil, fmt.Errorf("remove time-bound %s from %s: %w", access.RoleName(role), g.PrincipalID, err)
		}
		audit = append(audit, access.AuditEntry{At: s.Now(), Action: ActionRemoveRolePIM, EventID: eventID, Ref: g.PrincipalID, Role: role,
			Detail: fmt.Sprintf("time-bound %s removed from %s (PIM)", access.RoleName(role), g.PrincipalID)})
	}
	return audit, nil
}
