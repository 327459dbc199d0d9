package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// The guest's whole life (DESIGN.md section 13): a guest the app's own
// invitation created is disabled once its grant ends, and with GuestDelete
// deleted some days later unless a new grant revived it; a new grant
// enables it again. A user the app did not create, a member or a guest
// someone else invited, is never disabled or deleted: the audit trail
// records, at the invitation, which of the two the app met.

// GuestAccounts is what the guest's whole life needs of a customer
// tenant's users.
type GuestAccounts interface {
	// UserByMail finds the user whose mail is the address; KindNotFound if
	// there is none.
	UserByMail(ctx context.Context, tenantID, mail string) (access.User, error)
	// SetAccountEnabled lets a user sign in, or stops it (idempotent).
	SetAccountEnabled(ctx context.Context, tenantID, userID string, enabled bool) error
	// DeleteUser deletes a user; one already gone is no error.
	DeleteUser(ctx context.Context, tenantID, userID string) error
}

// What happens to a guest the app created once its grant ends
// (B2B_GUEST_AFTER_END).
const (
	GuestDisable = "disable"
	GuestDelete  = "delete"
	GuestKeep    = "keep"
)

// GuestOptions are the deployment's guest-life settings.
type GuestOptions struct {
	AfterEnd        string // GuestDisable (default), GuestDelete or GuestKeep
	DeleteAfterDays int    // with GuestDelete: days from disabling to deleting
}

// StageGuestDelete is the due stage of a disabled guest's deletion, beside
// the notice stages, the re-check and the review stages.
const StageGuestDelete = -4

// Audit actions of the guest's life.
const (
	ActionGuestCreated  = "graph:guest-created"  // the app's invitation created the guest (Ref: its id)
	ActionGuestExisting = "graph:guest-existing" // the invited address was a user already (Ref: its id)
	ActionGuestDisabled = "graph:disable-guest"
	ActionGuestEnabled  = "graph:enable-guest"
	ActionGuestDeleted  = "graph:delete-guest"
	ActionGuestLeft     = "guest-left-as-is"
)

// guestState is what a grant's trail says of its guest's account.
type guestState struct {
	created  bool // the app's invitation created it
	disabled bool // the app disabled it, and has not enabled it since
	deleted  bool
}

func guestStateOf(trail []access.AuditEntry, userID string) guestState {
	var st guestState
	for _, a := range trail {
		if !strings.EqualFold(a.Ref, userID) {
			continue
		}
		switch a.Action {
		case ActionGuestCreated:
			st.created = true
		case ActionGuestExisting:
			st.created = false
		case ActionGuestDisabled:
			st.disabled = true
		case ActionGuestEnabled:
			st.disabled, st.deleted = false, false
		case ActionGuestDeleted:
			st.deleted = true
		}
	}
	return st
}

// inviteeBefore looks, before inviting, for a user of the tenant who has
// the address already: the invitation then re-invites that user, who is
// not the app's to disable. Only called with GuestAccounts.
func (s *Service) inviteeBefore(ctx context.Context, tenant, email string) (existed bool, err error) {
	_, err = s.accounts.UserByMail(ctx, tenant, email)
	if access.IsKind(err, access.KindNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for an existing user with %s: %w", email, err)
	}
	return true, nil
}

// invitationLine is the audit line that says who invited whom.
func invitationLine(at time.Time, eventID, email, userID string, existed bool) access.AuditEntry {
	if existed {
		return access.AuditEntry{At: at, Action: ActionGuestExisting, EventID: eventID, Ref: userID,
			Detail: fmt.Sprintf("%s was already user %s of the tenant: the app invited it but did not create it, and never disables or deletes it", email, userID)}
	}
	return access.AuditEntry{At: at, Action: ActionGuestCreated, EventID: eventID, Ref: userID,
		Detail: fmt.Sprintf("the app's invitation created guest %s for %s", userID, email)}
}

// retireGuest is what the end of a B2B grant does to its guest, after its
// roles are gone: disabled if the app created it (and, with GuestDelete,
// its deletion put in the due index), otherwise left as it is. It returns
// the audit lines.
func (s *Service) retireGuest(ctx context.Context, g access.Grant, trail []access.AuditEntry, eventID string) ([]access.AuditEntry, error) {
	after := s.opts.Guests.AfterEnd
	if s.accounts == nil || after == GuestKeep || g.PrincipalID == "" {
		return nil, nil
	}
	st, now := guestStateOf(trail, g.PrincipalID), s.Now()
	if !st.created {
		return []access.AuditEntry{{At: now, Action: ActionGuestLeft, EventID: eventID, Ref: g.PrincipalID,
			Detail: fmt.Sprintf("guest %s left as it is: the app did not create it", g.PrincipalID)}}, nil
	}
	if st.deleted {
		return nil, nil
	}
	if err := s.accounts.SetAccountEnabled(ctx, g.CustomerTenantID, g.PrincipalID, false); err != nil {
		if access.IsKind(err, access.KindNotFound) {
			return nil, nil // deleted by the customer meanwhile
		}
		if access.IsKind(err, access.KindUnauthorized) {
			// Graph refuses the app a user who holds an admin role (one the
			// customer gave it), or the app lacks the permission: the grant
			// still ends, the guest is left enabled, and the trail says why.
			return []access.AuditEntry{{At: now, Action: ActionGuestLeft, EventID: eventID, Ref: g.PrincipalID,
				Detail: fmt.Sprintf("guest %s left enabled: Graph refused to disable it (%s); the customer may disable it", g.PrincipalID, refusal(err))}}, nil
		}
		return nil, fmt.Errorf("disable guest %s: %w", g.PrincipalID, err)
	}
	detail := fmt.Sprintf("guest %s disabled: its grant ended and the app created it", g.PrincipalID)
	if after == GuestDelete {
		days := max(s.opts.Guests.DeleteAfterDays, 0)
		due := now.Add(time.Duration(days) * access.Day)
		if err := s.store.SetDue(ctx, access.DueEntry{Due: due, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, Stage: StageGuestDelete}); err != nil {
			return nil, fmt.Errorf("schedule the deletion of guest %s: %w", g.PrincipalID, err)
		}
		detail += fmt.Sprintf("; deleted on %s unless a new grant revives it", due.UTC().Format(time.DateOnly))
	}
	return []access.AuditEntry{{At: now, Action: ActionGuestDisabled, EventID: eventID, Ref: g.PrincipalID, Detail: detail}}, nil
}

// reviveGuest enables again a guest the app disabled, for a new grant. It
// returns the audit line, if it did anything.
func (s *Service) reviveGuest(ctx context.Context, g access.Grant, userID, eventID string) ([]access.AuditEntry, error) {
	if s.accounts == nil {
		return nil, nil
	}
	trail, err := s.store.Audit(ctx, g.CustomerTenantID, g.ID)
	if err != nil {
		return nil, fmt.Errorf("read the audit trail of %s: %w", g.ID, err)
	}
	if st := guestStateOf(trail, userID); !st.disabled || st.deleted {
		return nil, nil
	}
	if err := s.accounts.SetAccountEnabled(ctx, g.CustomerTenantID, userID, true); err != nil {
		return nil, fmt.Errorf("enable guest %s again: %w", userID, err)
	}
	return []access.AuditEntry{{At: s.Now(), Action: ActionGuestEnabled, EventID: eventID, Ref: userID,
		Detail: fmt.Sprintf("guest %s enabled again for a new grant", userID)}}, nil
}

// guestDeleteDue deletes, when its day comes, a guest the app created and
// disabled, unless a new grant revived it since. The step is named by the
// due entry, so a repeat counts once.
func (s *Service) guestDeleteDue(ctx context.Context, e access.DueEntry) error {
	eventID := dueEventID("guest-delete-", e)
	_, err := s.apply(ctx, e.CustomerTenantID, e.GrantID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		if live(g) || g.Status == access.StatusRequested || g.PrincipalID == "" {
			return decision{outcome: Stale}, nil // revived, or never had a guest
		}
		trail, err := s.store.Audit(ctx, g.CustomerTenantID, g.ID)
		if err != nil {
			return decision{}, fmt.Errorf("read the audit trail of %s: %w", g.ID, err)
		}
		if st := guestStateOf(trail, g.PrincipalID); !st.created || !st.disabled || st.deleted {
			return decision{outcome: Stale}, nil
		}
		if err := s.accounts.DeleteUser(ctx, g.CustomerTenantID, g.PrincipalID); err != nil {
			return decision{}, fmt.Errorf("delete guest %s: %w", g.PrincipalID, err)
		}
		next := g
		next.UpdatedAt = s.Now()
		line := access.AuditEntry{At: s.Now(), Action: ActionGuestDeleted, EventID: eventID, Ref: g.PrincipalID, Actor: "schedule",
			Detail: fmt.Sprintf("guest %s deleted, %d days after its grant ended (B2B_GUEST_AFTER_END=delete)", g.PrincipalID, s.opts.Guests.DeleteAfterDays)}
		return decision{outcome: Processed, next: &next, audit: []access.AuditEntry{line}}, nil
	})
	if access.IsKind(err, access.KindNotFound) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("delete the guest of %s: %w", e.GrantID, err)
	}
	s.forgetDue(ctx, e)
	return nil
}
