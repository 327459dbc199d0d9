package lifecycle

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// fakeAccounts is a customer directory's user accounts, beside fakeGuests.
type fakeAccounts struct {
	guests   *fakeGuests
	mu       sync.Mutex
	disabled map[tenantUser]bool
	deleted  map[tenantUser]bool
	calls    int
	refuse   bool // Graph's 403 for a user holding an admin role
}

func newFakeAccounts(g *fakeGuests) *fakeAccounts {
	return &fakeAccounts{guests: g, disabled: map[tenantUser]bool{}, deleted: map[tenantUser]bool{}}
}

func (a *fakeAccounts) UserByMail(_ context.Context, tenant, mail string) (access.User, error) {
	a.guests.mu.Lock()
	defer a.guests.mu.Unlock()
	for k, u := range a.guests.users {
		if k.tenant == tenant && strings.EqualFold(u.Mail, mail) {
			return u, nil
		}
	}
	return access.User{}, access.Errorf(access.KindNotFound, "no user with %s", mail)
}

func (a *fakeAccounts) SetAccountEnabled(_ context.Context, tenant, user string, enabled bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	k := tenantUser{tenant, strings.ToLower(user)}
	if a.refuse {
		return access.Errorf(access.KindUnauthorized, "Insufficient privileges to complete the operation")
	}
	if a.deleted[k] {
		return access.Errorf(access.KindNotFound, "user %s is deleted", user)
	}
	a.disabled[k] = !enabled
	return nil
}

func (a *fakeAccounts) DeleteUser(_ context.Context, tenant, user string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	a.deleted[tenantUser{tenant, strings.ToLower(user)}] = true
	return nil
}

func (a *fakeAccounts) state(user string) (disabled, deleted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := tenantUser{customer, strings.ToLower(user)}
	return a.disabled[k], a.deleted[k]
}

// guestLife is a fixture whose service manages guest accounts as after
// says.
func guestLife(t *testing.T, after string) (*fixture, *fakeAccounts) {
	f := newFixture(t)
	acc := newFakeAccounts(f.guests)
	return f.with(func(d *Deps, o *Options) {
		d.Accounts, o.Guests = acc, GuestOptions{AfterEnd: after, DeleteAfterDays: 30}
	}), acc
}

// invitedAndActive requests a guest for email through the ticket, delivers
// its invitation-sent message, and returns the active grant.
func (f *fixture) invitedAndActive(delivery, email string) access.Grant {
	f.t.Helper()
	cmd := requestB2B(delivery)
	cmd.InviteeEmail = email
	res := f.command(cmd)
	_, id, _ := access.SplitGrantID(res.Reply.GrantID)
	msg := invitation("invitation-" + delivery)
	msg.InvitedUserID, msg.InvitedUserEmail, msg.DurationDays = id, email, 30
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg})
	wantOutcome(f.t, "activate", out, err, Processed)
	return f.store.grant(f.t, customer, res.Reply.GrantID)
}

func (f *fixture) trailActions(g access.Grant) []string {
	f.t.Helper()
	trail, err := f.store.Audit(f.ctx, customer, g.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, a := range trail {
		out = append(out, a.Action)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func (f *fixture) expire(g access.Grant) {
	f.t.Helper()
	f.clock.Set(g.ExpiresAt)
	for range 2 { // the second is a redelivery
		if _, err := f.svc.Expiring(f.ctx, expiring(g, 0, g.ExpiresAt)); err != nil {
			f.t.Fatalf("expiry: %v", err)
		}
	}
}

func TestGuestTheAppCreatedIsDisabledWhenItsGrantExpires(t *testing.T) {
	f, acc := guestLife(t, GuestDisable)
	g := f.invitedAndActive("req-1", "new.analyst@fabrikam.example")
	if disabled, _ := acc.state(g.PrincipalID); disabled {
		t.Fatal("disabled while its grant is active")
	}
	f.expire(g)
	if disabled, deleted := acc.state(g.PrincipalID); !disabled || deleted {
		t.Fatalf("after expiry: disabled %v deleted %v, want disabled only", disabled, deleted)
	}
	acts := f.trailActions(g)
	if count(acts, ActionGuestCreated) != 1 || count(acts, ActionGuestDisabled) != 1 {
		t.Errorf("trail %v: want the guest recorded as created by the app, and disabled once", acts)
	}
	if len(f.store.dueEntries()) != 0 {
		for _, e := range f.store.dueEntries() {
			if e.Stage == StageGuestDelete {
				t.Errorf("a deletion was scheduled with B2B_GUEST_AFTER_END=disable: %+v", e)
			}
		}
	}
}

func TestExtendedGuestIsDisabledOnlyAfterTheNewEnd(t *testing.T) {
	f, acc := guestLife(t, GuestDisable)
	g := f.invitedAndActive("req-1", "new.analyst@fabrikam.example")
	f.command(Command{DeliveryID: "ext-1", Action: ActionExtend, Ticket: ticket, CustomerTenantID: customer, PartnerTenantID: partner,
		GrantID: g.ID, DurationDays: 60})
	// The old expiry message arrives: stale, the guest stays enabled.
	f.clock.Set(g.ExpiresAt)
	if _, err := f.svc.Expiring(f.ctx, expiring(g, 0, g.ExpiresAt)); err != nil {
		t.Fatal(err)
	}
	if disabled, _ := acc.state(g.PrincipalID); disabled {
		t.Fatal("disabled at the old end of an extended grant")
	}
	f.expire(f.store.grant(t, customer, g.ID))
	if disabled, _ := acc.state(g.PrincipalID); !disabled {
		t.Fatal("not disabled at the new end")
	}
}

func TestUserTheAppDidNotCreateIsNeverDisabled(t *testing.T) {
	for _, after := range []string{GuestDisable, GuestDelete} {
		t.Run(after, func(t *testing.T) {
			f, acc := guestLife(t, after)
			// guestMail is a user of the customer tenant already.
			g := f.invitedAndActive("req-1", guestMail)
			f.command(revoke("rev-1", g.ID))
			f.command(revoke("rev-1", g.ID)) // redelivered
			f.clock.Advance(40 * access.Day)
			if _, err := f.svc.Sweep(f.ctx); err != nil {
				t.Fatal(err)
			}
			if disabled, deleted := acc.state(g.PrincipalID); disabled || deleted || acc.calls != 0 {
				t.Fatalf("pre-existing user: disabled %v deleted %v after %d account calls, want untouched", disabled, deleted, acc.calls)
			}
			acts := f.trailActions(g)
			if count(acts, ActionGuestExisting) != 1 || count(acts, ActionGuestLeft) != 1 {
				t.Errorf("trail %v: want who invited whom, and the guest left as it is", acts)
			}
		})
	}
}

func TestGuestOfAnOutsideInvitationIsNeverDisabled(t *testing.T) {
	f, acc := guestLife(t, GuestDelete)
	g := f.activeGuest() // invitation-sent from the ticketing system: the app invited nobody
	f.command(revoke("rev-1", g.ID))
	if disabled, _ := acc.state(g.PrincipalID); disabled || acc.calls != 0 {
		t.Fatalf("a guest the app did not invite was disabled (%d account calls)", acc.calls)
	}
}

func TestDeletedAfterTheDaysUnlessRevived(t *testing.T) {
	f, acc := guestLife(t, GuestDelete)
	g := f.invitedAndActive("req-1", "new.analyst@fabrikam.example")
	f.command(revoke("rev-1", g.ID))
	if disabled, deleted := acc.state(g.PrincipalID); !disabled || deleted {
		t.Fatalf("after revoke: disabled %v deleted %v, want disabled", disabled, deleted)
	}
	f.clock.Advance(29 * access.Day)
	f.mustSweep()
	if _, deleted := acc.state(g.PrincipalID); deleted {
		t.Fatal("deleted before B2B_GUEST_DELETE_AFTER_DAYS")
	}
	f.clock.Advance(2 * access.Day)
	f.mustSweep()
	f.mustSweep() // a second sweep finds nothing left to do
	if _, deleted := acc.state(g.PrincipalID); !deleted {
		t.Fatal("not deleted 31 days after its grant ended")
	}
	if acts := f.trailActions(g); count(acts, ActionGuestDeleted) != 1 {
		t.Errorf("trail %v: want one deletion", acts)
	}
}

func TestNewGrantRevivesADisabledGuest(t *testing.T) {
	f, acc := guestLife(t, GuestDelete)
	email := "new.analyst@fabrikam.example"
	g := f.invitedAndActive("req-1", email)
	f.command(revoke("rev-1", g.ID))
	f.clock.Advance(10 * access.Day)
	again := f.invitedAndActive("req-2", email)
	if again.ID != g.ID || again.Status != access.StatusActive {
		t.Fatalf("second grant %s %s, want the same guest's grant active again", again.ID, again.Status)
	}
	if disabled, _ := acc.state(g.PrincipalID); disabled {
		t.Fatal("the new grant left its guest disabled")
	}
	f.clock.Advance(25 * access.Day) // past the first deletion's day
	f.mustSweep()
	if _, deleted := acc.state(g.PrincipalID); deleted {
		t.Fatal("a revived guest was deleted")
	}
	if acts := f.trailActions(g); count(acts, ActionGuestEnabled) != 1 {
		t.Errorf("trail %v: want the guest enabled again once", acts)
	}
}

func TestKeepLeavesEveryGuest(t *testing.T) {
	f, acc := guestLife(t, GuestKeep)
	g := f.invitedAndActive("req-1", "new.analyst@fabrikam.example")
	f.expire(g)
	if disabled, _ := acc.state(g.PrincipalID); disabled || acc.calls != 0 {
		t.Fatal("B2B_GUEST_AFTER_END=keep disabled a guest")
	}
}

func TestGuestGraphWillNotDisableStillEnds(t *testing.T) {
	f, acc := guestLife(t, GuestDisable)
	g := f.invitedAndActive("req-1", "new.analyst@fabrikam.example")
	acc.refuse = true
	f.expire(g)
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusExpired {
		t.Fatalf("grant %s, want expired although Graph refused to disable its guest", got.Status)
	}
	if n := count(f.trailActions(g), ActionGuestLeft); n != 1 {
		t.Errorf("trail %v: want the guest left enabled, said once", f.trailActions(g))
	}
}
