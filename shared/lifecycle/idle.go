package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Idle guests (DESIGN.md section 13): with IdleRevokeDays set, a B2B grant
// whose guest has not signed in for that many days is revoked by the
// sweep. Each active B2B grant has one idle check in the due index, so the
// sweep stays a read of what is due: set at activation for IdleRevokeDays
// later, and moved on from the guest's last sign-in each time it finds
// the guest active. A tenant that cannot say when its users signed in (no
// Entra ID P1, or no consent to AuditLog.Read.All) is skipped, and the
// grant's trail says so once.

// StageIdleCheck is the due stage of a B2B grant's idle check.
const StageIdleCheck = -5

// SignIns tells when a customer tenant's user last signed in.
type SignIns interface {
	// LastSignIn is the user's last interactive sign-in, zero if never.
	// KindUnauthorized when the tenant cannot tell (no P1, no consent).
	LastSignIn(ctx context.Context, tenantID, userID string) (time.Time, error)
}

// Audit actions of the idle check.
const (
	ActionIdleUnknown = "idle-check-unavailable"
)

// scheduleIdleCheck puts a B2B grant's next idle check in the due index:
// IdleRevokeDays after from, if the grant is still running then.
func (s *Service) scheduleIdleCheck(ctx context.Context, g access.Grant, from time.Time) error {
	days := s.opts.IdleRevokeDays
	if days <= 0 || s.signIns == nil || g.Method != access.B2B {
		return nil
	}
	due := from.Add(time.Duration(days) * access.Day)
	if !g.ExpiresAt.IsZero() && !due.Before(g.ExpiresAt) {
		return nil // it ends first
	}
	if err := s.store.SetDue(ctx, access.DueEntry{Due: due, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, Stage: StageIdleCheck}); err != nil {
		return fmt.Errorf("schedule the idle check of %s: %w", g.ID, err)
	}
	return nil
}

// idleDue is a due idle check: revoke the grant if its guest has not signed
// in for IdleRevokeDays, or check again that long after the last sign-in.
func (s *Service) idleDue(ctx context.Context, e access.DueEntry) error {
	eventID := dueEventID("idle-", e)
	g, _, err := s.store.Grant(ctx, e.CustomerTenantID, e.GrantID)
	if access.IsKind(err, access.KindNotFound) || (err == nil && (g.Status != access.StatusActive || s.signIns == nil || s.opts.IdleRevokeDays <= 0)) {
		s.forgetDue(ctx, e)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read grant %s: %w", e.GrantID, err)
	}
	last, err := s.signIns.LastSignIn(ctx, g.CustomerTenantID, g.PrincipalID)
	if access.IsKind(err, access.KindUnauthorized) {
		// Skipped: recorded once, and not checked again.
		cause := err
		_, err = s.apply(ctx, e.CustomerTenantID, e.GrantID, eventID, func(_ context.Context, cur access.Grant) (decision, error) {
			next := cur
			next.UpdatedAt = s.Now()
			line := access.AuditEntry{At: s.Now(), Action: ActionIdleUnknown, EventID: eventID, Actor: "idle check",
				Detail: fmt.Sprintf("idle check skipped: tenant %s does not tell when its users sign in (it needs Entra ID P1 and the app's AuditLog.Read.All): %v",
					g.CustomerTenantID, refusal(cause))}
			return decision{outcome: Processed, next: &next, audit: []access.AuditEntry{line}}, nil
		})
		if err != nil {
			return fmt.Errorf("record the skipped idle check of %s: %w", e.GrantID, err)
		}
		s.forgetDue(ctx, e)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the sign-ins of %s: %w", g.PrincipalID, err)
	}
	since := g.CreatedAt
	if last.After(since) {
		since = last
	}
	days := s.opts.IdleRevokeDays
	if s.Now().Sub(since) >= time.Duration(days)*access.Day {
		what := "has not signed in since the grant began"
		if !last.IsZero() {
			what = "last signed in " + last.UTC().Format(time.RFC3339)
		}
		_, err := s.Revoke(ctx, RevokeInput{GrantCommand: GrantCommand{CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, EventID: eventID, Actor: "idle check"},
			Reason: fmt.Sprintf("idle: guest %s %s, over IDLE_REVOKE_DAYS (%d days)", g.PrincipalID, what, days)})
		if err != nil && !access.IsKind(err, access.KindConflict) { // ended meanwhile: nothing to do
			return fmt.Errorf("revoke idle grant %s: %w", g.ID, err)
		}
		s.forgetDue(ctx, e)
		return nil
	}
	if err := s.scheduleIdleCheck(ctx, g, since); err != nil {
		return err
	}
	s.forgetDue(ctx, e)
	return nil
}
