package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Delegations is what Azure Lighthouse needs from Azure Resource Manager,
// called with the app's own identity (DESIGN §15).
type Delegations interface {
	// Assignments lists the registration assignments of a customer
	// subscription that the app can see, each with its definition. A
	// subscription the app cannot see at all (nothing delegated to it yet,
	// or no more) is KindNotFound or KindRefused.
	Assignments(ctx context.Context, subscriptionID string) ([]Delegation, error)
	// RemoveAssignment deletes a registration assignment and returns once
	// Azure Resource Manager says the deletion is done. One already gone is
	// no error; KindRefused if ARM refuses (the app's role was taken away).
	RemoveAssignment(ctx context.Context, subscriptionID, assignmentID string) error
}

// Delegation is a registration assignment with its definition.
type Delegation struct {
	AssignmentID      string // full resource id of the registration assignment
	ProvisioningState string // "Succeeded" once the delegation is in place
	ManagedByTenantID string
	OfferName         string
	Authorizations    []DelegatedRole // permanent authorizations of the definition
}

// DelegatedRole is one authorization of a registration definition.
type DelegatedRole struct {
	PrincipalID      string
	RoleDefinitionID string
}

// How the app watches a Lighthouse delegation.
const (
	// DeployWait is how long the customer has to deploy the onboarding
	// template before the grant ends "never deployed".
	DeployWait = 30 * access.Day
	// firstWatch is how soon after the request the app first looks; each
	// wait after it doubles, up to maxWatch.
	firstWatch = 5 * time.Minute
	maxWatch   = 24 * time.Hour
	// ReasonNeverDeployed and ReasonRemovedByCustomer are the reasons of a
	// Lighthouse grant that ended without the app removing anything.
	ReasonNeverDeployed     = "never deployed"
	ReasonRemovedByCustomer = "removed by the customer"
	// actionDelegationRefused is the audit action of a removal ARM refused.
	actionDelegationRefused = "arm:delete-refused"
	// actionDelegationRemoved is the audit action of a removal ARM confirmed.
	actionDelegationRemoved = "arm:delete-assignment"
	// actionDelegationManual is the audit action of an end the app cannot
	// carry out itself (no ARM configured).
	actionDelegationManual = "arm:customer-removes"
	watchActor             = "azure resource manager"
)

// nextWatch is the next checkpoint after now of a watch begun at since:
// since+5m, +10m, +20m, … doubling up to a day, then daily. Like
// nextCheck it depends only on since and now.
func nextWatch(since, now time.Time) time.Time {
	if since.After(now) {
		since = now
	}
	step, at := firstWatch, since.Add(firstWatch)
	for !at.After(now) {
		step = min(2*step, maxWatch)
		at = at.Add(step)
	}
	return access.WholeSeconds(at)
}

// watchID is the event id of one watch of a grant: the pending watch of
// one request (key: the request's event id) or the live watch of one
// activation (key: its end).
func watchID(phase, grantID, key string) string {
	h := sha256.Sum256([]byte(grantID + "\n" + key))
	return "lh" + phase + "-" + hex.EncodeToString(h[:12])
}

// watch schedules the next look at g's delegation for the watch eventID
// begun at since.
func (s *Service) watch(ctx context.Context, g access.Grant, eventID string, since time.Time, why string) error {
	if s.delegations == nil {
		return nil
	}
	stage := 0
	m := GrantExpiring{Event: Event{EventID: eventID, OccurredAt: since}, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID,
		NoticeDays: &stage, ExpiresAt: g.ExpiresAt, Check: CheckDelegation}
	return s.recheckAt(ctx, g.CustomerTenantID, g.ID, eventID, nextWatch(since, s.Now()), why, QueueGrantExpiring, mustJSON(m))
}

// watchDelegation is one look at a Lighthouse grant's delegation in ARM.
// Pending: the delegation there makes the grant active from now for its
// length; none after DeployWait ends it "never deployed"; otherwise the
// app looks again later. Active: the delegation gone revokes the grant
// "removed by the customer"; otherwise the app looks again in a day.
func (s *Service) watchDelegation(ctx context.Context, m GrantExpiring) (Outcome, error) {
	ctx, tr := traced(ctx, "eventId", m.EventID, "grantId", m.GrantID, "check", m.Check)
	if s.delegations == nil {
		return Stale, nil
	}
	return s.apply(ctx, m.CustomerTenantID, m.GrantID, m.EventID, func(ctx context.Context, g access.Grant) (decision, error) {
		pendingWatch := strings.HasPrefix(m.EventID, "lhpending-")
		switch {
		case g.Method != access.Lighthouse,
			pendingWatch && (g.Status != access.StatusPending || !g.ExpiresAt.Equal(access.WholeSeconds(m.ExpiresAt))),
			!pendingWatch && g.Status != access.StatusActive:
			tr.Linef("stale: grant is %s", statusWord(g.Status))
			return decision{outcome: Stale}, nil
		}
		_, sub, _ := access.SplitGrantID(g.ID)
		found, err := s.findDelegation(ctx, g, sub)
		if err != nil {
			return decision{}, err
		}
		now := s.Now()
		if g.Status == access.StatusPending {
			switch {
			case found != nil:
				days := math.Round(float64(g.ExpiresAt.Sub(g.CreatedAt)) / float64(access.Day))
				expires := now.Add(time.Duration(max(days, 1)) * access.Day)
				live := g
				live.ExpiresAt = access.WholeSeconds(expires)
				if err := s.watch(ctx, live, watchID("live", g.ID, rfc3339(live.ExpiresAt)), now, "watching the delegation for its removal"); err != nil {
					return decision{}, err
				}
				dec, err := s.transition(ctx, g, access.Event{Type: access.EvActivate, ExpiresAt: expires, Actor: watchActor}, m.EventID, Processed, words{})
				if err != nil {
					return decision{}, err
				}
				dec.audit = append([]access.AuditEntry{{At: now, Action: "arm:delegation-found", EventID: m.EventID, Ref: found.AssignmentID,
					Detail: "registration assignment " + found.AssignmentID + " found in subscription " + sub}}, dec.audit...)
				return dec, nil
			case !now.Before(g.CreatedAt.Add(DeployWait)):
				return s.transition(ctx, g, access.Event{Type: access.EvExpire, Reason: ReasonNeverDeployed, Actor: watchActor}, m.EventID, Processed, words{})
			}
			return decision{outcome: Deferred}, s.watch(ctx, g, m.EventID, access.WholeSeconds(m.OccurredAt), "the onboarding template is not deployed yet")
		}
		if found == nil {
			return s.transition(ctx, g, access.Event{Type: access.EvRevoke, Reason: ReasonRemovedByCustomer, Actor: watchActor}, m.EventID, Processed, words{})
		}
		return decision{outcome: Deferred}, s.watch(ctx, g, m.EventID, access.WholeSeconds(m.OccurredAt), "the delegation is in place")
	})
}

// findDelegation returns the delegation of g in subscription sub, or nil
// if ARM shows none: a subscription the app cannot see is one not (or no
// longer) delegated to it. Any other failure is an error, never "gone".
func (s *Service) findDelegation(ctx context.Context, g access.Grant, sub string) (*Delegation, error) {
	list, err := s.delegations.Assignments(ctx, sub)
	switch {
	case access.IsKind(err, access.KindNotFound), access.IsKind(err, access.KindRefused):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("list registration assignments of subscription %s: %w", sub, err)
	}
	return s.matchDelegation(g, list), nil
}

// matchDelegation picks g's delegation from list: the registration
// assignment, in place, whose definition is managed by the partner tenant
// and authorizes the app (or, when no app identity is configured, the
// grant's group).
func (s *Service) matchDelegation(g access.Grant, list []Delegation) *Delegation {
	for i, d := range list {
		if !strings.EqualFold(d.ManagedByTenantID, g.PartnerTenantID) {
			continue
		}
		if d.ProvisioningState != "" && !strings.EqualFold(d.ProvisioningState, "Succeeded") {
			continue
		}
		for _, a := range d.Authorizations {
			p := lower(a.PrincipalID)
			if (p != "" && p == s.opts.LighthouseAppPrincipalID) || (s.opts.LighthouseAppPrincipalID == "" && p == lower(g.PrincipalID)) {
				return &list[i]
			}
		}
	}
	return nil
}

// removeDelegation deletes a Lighthouse grant's registration assignment
// and waits for ARM to confirm. A refusal is recorded (actionDelegationRefused)
// rather than failed: the grant still ends, and the customer is told to
// remove the delegation.
func (s *Service) removeDelegation(ctx context.Context, g access.Grant, ev access.Event, eventID string) ([]access.AuditEntry, error) {
	switch {
	case ev.Reason == ReasonRemovedByCustomer:
		return nil, nil // the watch saw it gone: nothing left to remove
	case s.delegations == nil:
		return []access.AuditEntry{{At: s.Now(), Action: actionDelegationManual, EventID: eventID,
			Detail: "no Azure Resource Manager configured: the customer removes the delegation"}}, nil
	}
	_, sub, _ := access.SplitGrantID(g.ID)
	at := s.Now()
	list, err := s.delegations.Assignments(ctx, sub)
	switch {
	case access.IsKind(err, access.KindRefused) && g.Status == access.StatusActive:
		return []access.AuditEntry{{At: at, Action: actionDelegationRefused, EventID: eventID,
			Detail: "Azure Resource Manager no longer shows subscription " + sub + " to the app: the customer must remove the delegation if it is still there"}}, nil
	case access.IsKind(err, access.KindNotFound), access.IsKind(err, access.KindRefused):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("list registration assignments of subscription %s: %w", sub, err)
	}
	found := s.matchDelegation(g, list)
	if found == nil {
		return nil, nil
	}
	err = s.delegations.RemoveAssignment(ctx, sub, found.AssignmentID)
	switch {
	case access.IsKind(err, access.KindRefused):
		return []access.AuditEntry{{At: at, Action: actionDelegationRefused, EventID: eventID, Ref: found.AssignmentID,
			Detail: "Azure Resource Manager refused to delete registration assignment " + found.AssignmentID + ": " + refusal(err)}}, nil
	case err != nil:
		return nil, fmt.Errorf("delete registration assignment %s: %w", found.AssignmentID, err)
	}
	return []access.AuditEntry{{At: at, Action: actionDelegationRemoved, EventID: eventID, Ref: found.AssignmentID,
		Detail: "registration assignment " + found.AssignmentID + " deleted; Azure Resource Manager confirmed"}}, nil
}

// delegationNote is what a Lighthouse grant's end adds to its reason (when
// the app could not remove the delegation) and to everyone's words: that
// the app removed it, or that the customer must.
func delegationNote(g access.Grant, audit []access.AuditEntry) (reason, extra string, ok bool) {
	_, sub, _ := access.SplitGrantID(g.ID)
	for _, a := range audit {
		switch a.Action {
		case actionDelegationRefused:
			return "the app could not remove the delegation (Azure Resource Manager refused); the customer must remove it",
				"Action needed: the app could not remove the Azure Lighthouse delegation of subscription " + sub +
					" (its role to do so was taken away). Remove it under Service providers > Delegations in the Azure portal.", true
		case actionDelegationRemoved:
			return "", "The app removed the Azure Lighthouse delegation of subscription " + sub + "; Azure Resource Manager confirmed it is gone.", true
		case actionDelegationManual:
			return "", "Action needed: remove the delegation of subscription " + sub +
				" under Service providers > Delegations in the Azure portal; Azure Lighthouse delegations do not end by themselves.", true
		}
	}
	return "", "", false
}
