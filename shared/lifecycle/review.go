package lifecycle

import (
	"context"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// ReviewDecision is a customer's answer to an access review.
type ReviewDecision string

// Review decisions.
const (
	ReviewKeep   ReviewDecision = "keep"
	ReviewRevoke ReviewDecision = "revoke"
)

// ActionReview is the audit action of an answered access review.
const ActionReview = "review"

// ReviewInput is a customer's answer to the access review of one grant.
type ReviewInput struct {
	GrantCommand
	Decision ReviewDecision
}

// Review records the customer's answer to an access review (DESIGN.md
// section 12): keep leaves the grant as it is, with the answer in its audit
// trail; revoke ends it through Revoke, with its notifications. Only a
// grant that still gives access can be reviewed. Under redelivery the
// ledger makes the answer count once.
func (s *Service) Review(ctx context.Context, in ReviewInput) (access.Reply, error) {
	switch in.Decision {
	case ReviewRevoke:
		return s.Revoke(ctx, RevokeInput{GrantCommand: in.GrantCommand, Reason: "revoked at its access review"})
	case ReviewKeep:
	default:
		return access.Reply{}, access.Invalid("invalid review", map[string]string{"decision": "must be keep or revoke"})
	}
	if err := s.mustExist(ctx, in.CustomerTenantID, in.GrantID); err != nil {
		return access.Reply{}, err
	}
	var reply access.Reply
	_, err := s.apply(ctx, in.CustomerTenantID, in.GrantID, in.EventID, func(_ context.Context, g access.Grant) (decision, error) {
		if g.Status != access.StatusActive && g.Status != access.StatusPending {
			return decision{}, access.Errorf(access.KindConflict, "grant %s is %s: only a grant that gives access is reviewed", g.ID, g.Status)
		}
		now := s.Now()
		next := g
		next.UpdatedAt = now
		reply = access.Reply{GrantID: g.ID, Status: string(g.Status), ExpiresAt: rfc3339(g.ExpiresAt)}
		detail := "access review: kept"
		if in.Actor != "" {
			detail += " (by " + in.Actor + ")"
		}
		line := access.AuditEntry{At: now, Action: ActionReview, Detail: detail, Actor: in.Actor, EventID: in.EventID}
		return decision{outcome: Processed, next: &next, audit: []access.AuditEntry{line}, reply: &reply}, nil
	})
	if err != nil {
		return reply, err
	}
	// The next review counts from this answer's period on; the notices'
	// schedule is unchanged.
	if g, _, gerr := s.store.Grant(ctx, in.CustomerTenantID, in.GrantID); gerr == nil {
		err = s.scheduleReview(ctx, g)
	}
	return reply, err
}

// Applied reports whether the event eventID of a customer is in the ledger
// already, finishing what its first delivery left undone: an edge whose
// command was refused as a conflict (revoke a revoked grant) asks it to
// tell a repeated request from a new one.
func (s *Service) Applied(ctx context.Context, customerTenantID, eventID string) (bool, error) {
	return s.ifApplied(ctx, customerTenantID, eventID)
}
