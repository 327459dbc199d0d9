package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// words are what a transition's notifications say beyond the grant's
// facts: the customer's action link, and extra lines for every text (the
// Lighthouse template).
type words struct {
	link  string
	extra []string
}

// transition applies ev to g through the domain's pure transition and
// carries out the effects it returns, each by its one executor: remove
// access now (before the commit; it is idempotent, so a lost race may do it
// again), schedule and notify as outbox entries done after the commit. The
// decision holds the new grant, the audit lines (what was removed, then
// the transition) and the outbox.
func (s *Service) transition(ctx context.Context, g access.Grant, ev access.Event, eventID string, outcome Outcome, w words) (decision, error) {
	now := s.Now()
	next, effects, err := access.Apply(g, ev, now)
	if err != nil {
		return decision{}, err
	}
	dec := decision{outcome: outcome, next: &next}
	for _, e := range effects {
		switch e.Kind {
		case access.EffectRemoveAccess:
			removed, err := s.removeAccess(ctx, g, ev, eventID)
			if err != nil {
				return decision{}, err
			}
			dec.audit = append(dec.audit, removed...)
			if reason, extra, ok := delegationNote(g, removed); ok {
				if reason != "" {
					next.Reason = strings.TrimPrefix(next.Reason+"; "+reason, "; ")
				}
				w.extra = append([]string{extra}, w.extra...)
			}
		case access.EffectSchedule:
			if ev.Type == access.EvExtend {
				// Time-bound roles end with the grant: their end moves too.
				moved, err := s.extendTimeBound(ctx, g, next.ExpiresAt, eventID)
				if err != nil {
					return decision{}, err
				}
				dec.audit = append(dec.audit, moved...)
			}
			dec.outbox = append(dec.outbox, scheduleEntry(eventID, next))
		case access.EffectNotify:
			for _, n := range access.Compose(next, e, eventID, len(dec.outbox), s.opts.Channels, w.link, w.extra...) {
				dec.outbox = append(dec.outbox, access.NotifyEntry(n))
			}
		}
	}
	line := access.AuditFor(g, next, ev, now)
	line.EventID = eventID
	dec.audit = append(dec.audit, line)
	return dec, nil
}

// granted records access given, after audit (what was done to give it):
// activate, the activation of a grant not active yet, or for an active
// grant an extension to activate's end.
func (s *Service) granted(ctx context.Context, g access.Grant, activate access.Event, eventID string, audit []access.AuditEntry) (decision, error) {
	ev := activate
	if g.Status == access.StatusActive {
		ev = access.Event{Type: access.EvExtend, ExpiresAt: activate.ExpiresAt, Actor: activate.Actor}
	}
	dec, err := s.transition(ctx, g, ev, eventID, Processed, words{})
	if err != nil {
		return decision{}, err
	}
	dec.audit = append(audit, dec.audit...)
	return dec, nil
}

// removeAccess takes away what the app granted, for a revocation or an
// expiry of a grant that is active or on its way: the one executor of
// access.EffectRemoveAccess, for every method.
//   - B2B: every directory role assignment the app ever made for the
//     grant (its audit trail says which), and any of the guest's
//     assignments of the grant's roles; other roles the customer gave the
//     guest stay. A pending guest holds none yet.
//   - GDAP: by what Graph says of the relationship. Created (never sent
//     to the customer): deleted. Waiting for the customer or activating:
//     nothing to do yet, nobody has access; if it becomes active later,
//     ActivateGDAP terminates it. Active: terminated on revoke; at its
//     expiry the relationship ends by itself. Ending already: nothing.
//   - Lighthouse: the registration assignment is deleted through ARM
//     with the app's own identity, and the end is recorded once ARM
//     confirms (removeDelegation); if ARM refuses, the customer is told to
//     remove it. Without ARM only the customer can, and is told to.
//
// It returns the audit lines of what it did.
func (s *Service) removeAccess(ctx context.Context, g access.Grant, ev access.Event, eventID string) ([]access.AuditEntry, error) {
	at := s.Now()
	switch g.Method {
	case access.B2B:
		if g.Status != access.StatusActive && g.Status != access.StatusPending {
			return nil, nil
		}
		// The trail says which roles the app made and who made the guest.
		trail, err := s.store.Audit(ctx, g.CustomerTenantID, g.ID)
		if err != nil {
			return nil, fmt.Errorf("read the audit trail of %s: %w", g.ID, err)
		}
		var audit []access.AuditEntry
		if g.Status == access.StatusActive {
			removed, err := s.removeGuestRoles(ctx, g, trail, eventID)
			if err != nil {
				return nil, err
			}
			audit = removed
		}
		retired, err := s.retireGuest(ctx, g, trail, eventID)
		if err != nil {
			return nil, err
		}
		return append(audit, retired...), nil
	case access.GDAP:
		if ev.Type == access.EvExpire && g.Status == access.StatusActive {
			return nil, nil
		}
		_, relID, _ := access.SplitGrantID(g.ID)
		rel, err := s.gdap.Relationship(ctx, g.PartnerTenantID, relID)
		if access.IsKind(err, access.KindNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read relationship %s: %w", relID, err)
		}
		line := func(action, detail string) []access.AuditEntry {
			return []access.AuditEntry{{At: at, Action: action, EventID: eventID, Detail: detail}}
		}
		switch rel.Status {
		case access.RelCreated:
			if err := s.gdap.DeleteRelationship(ctx, g.PartnerTenantID, rel); err != nil {
				return nil, fmt.Errorf("delete relationship %s: %w", relID, err)
			}
			return line("graph:delete-relationship", "relationship "+relID+" deleted before it reached the customer"), nil
		case access.RelApprovalPending, access.RelApproved, access.RelActivating:
			return line("graph:relationship-pending", "relationship "+relID+" is "+rel.Status+": nobody has access yet; it is terminated if it becomes active"), nil
		case access.RelActive:
			if err := s.gdap.TerminateRelationship(ctx, g.PartnerTenantID, rel); err != nil {
				return nil, fmt.Errorf("terminate relationship %s: %w", relID, err)
			}
			return line("graph:terminate-relationship", "termination of relationship "+relID+" requested"), nil
		}
		return nil, nil
	case access.Lighthouse:
		return s.removeDelegation(ctx, g, ev, eventID)
	}
	return nil, nil
}

// ending reports whether a relationship status means it is over or going.
func ending(status string) bool {
	switch status {
	case access.RelTerminated, access.RelTerminating, access.RelTerminationReq, access.RelExpired:
		return true
	}
	return false
}

// refusal is the reason of a policy refusal, without the error's kind.
func refusal(err error) string {
	var e *access.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return err.Error()
}

// actorOf names who caused an event, for the audit trail.
func actorOf(t access.Ticket, source string) string {
	if s := t.String(); s != "" {
		return "ticket " + s
	}
	return source
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// removeGuestRoles removes the role assignments the app made for a B2B
// grant, whatever the grant's roles say now: those its audit trail records
// as made and not yet removed, and the guest's assignments of the grant's
// roles (the trail misses an assignment whose commit was lost).
func (s *Service) removeGuestRoles(ctx context.Context, g access.Grant, trail []access.AuditEntry, eventID string) ([]access.AuditEntry, error) {
	// Time-bound roles first: Entra ends them by itself at the grant's end,
	// but a revocation ends them now.
	pimAudit, err := s.removeTimeBound(ctx, g, trail, eventID)
	if err != nil {
		return nil, err
	}
	made := map[string]string{} // assignment id -> role, made by the app and not removed since
	for _, a := range trail {
		switch {
		case a.Action == access.ActionAssignRole && a.Ref != "":
			made[a.Ref] = a.Role
		case a.Action == access.ActionRemoveRole && a.Ref != "":
			delete(made, a.Ref)
		}
	}
	assignments, err := s.guests.RoleAssignments(ctx, g.CustomerTenantID, g.PrincipalID)
	if err != nil {
		return nil, fmt.Errorf("list role assignments of %s: %w", g.PrincipalID, err)
	}
	held := map[string]bool{}
	var remove []access.RoleAssignment
	for _, a := range assignments {
		held[a.ID] = true
		if _, ok := made[a.ID]; ok || containsFold(g.Roles, a.RoleID) {
			remove = append(remove, a)
		}
	}
	var audit []access.AuditEntry
	at := s.Now()
	for _, a := range remove {
		if err := s.guests.RemoveRoleAssignment(ctx, g.CustomerTenantID, a.ID); err != nil {
			return nil, fmt.Errorf("remove %s from %s: %w", access.RoleName(a.RoleID), g.PrincipalID, err)
		}
		audit = append(audit, access.AuditEntry{At: at, Action: access.ActionRemoveRole, EventID: eventID, Ref: a.ID, Role: a.RoleID,
			Detail: fmt.Sprintf("%s removed from %s (assignment %s)", access.RoleName(a.RoleID), g.PrincipalID, a.ID)})
	}
	for _, id := range slices.Sorted(maps.Keys(made)) {
		if role := made[id]; !held[id] {
			// Gone already (removed by hand, or by an earlier delivery whose
			// commit was lost): recorded, so the next end does not look again.
			audit = append(audit, access.AuditEntry{At: at, Action: access.ActionRemoveRole, EventID: eventID, Ref: id, Role: role,
				Detail: fmt.Sprintf("%s (assignment %s) was no longer held by %s", access.RoleName(role), id, g.PrincipalID)})
		}
	}
	return append(pimAudit, audit...), nil
}
