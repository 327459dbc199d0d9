package lifecycle

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// fakeSignIns is a tenant's sign-in activity; unavailable stands for a
// tenant without Entra ID P1.
type fakeSignIns struct {
	mu          sync.Mutex
	last        map[string]time.Time
	unavailable bool
	calls       int
}

func (f *fakeSignIns) LastSignIn(_ context.Context, _, user string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.unavailable {
		return time.Time{}, access.Errorf(access.KindUnauthorized, "no premium licence")
	}
	return f.last[user], nil
}

func (f *fakeSignIns) signedIn(user string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last[user] = at
}

func idleFixture(t *testing.T, days int) (*fixture, *fakeSignIns) {
	si := &fakeSignIns{last: map[string]time.Time{}}
	return newFixture(t).with(func(d *Deps, o *Options) { d.SignIns, o.IdleRevokeDays = si, days }), si
}

func TestIdleGuestIsRevoked(t *testing.T) {
	f, _ := idleFixture(t, 14)
	g := f.activeGuest()
	f.clock.Advance(13 * access.Day)
	f.mustSweep()
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive {
		t.Fatalf("after 13 days: %s, want active", got.Status)
	}
	f.clock.Advance(2 * access.Day)
	f.mustSweep()
	f.mustSweep() // again: nothing more
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusRevoked {
		t.Fatalf("after 15 days without a sign-in: %s, want revoked", got.Status)
	}
	if len(f.guests.rolesOf(customer, guestID)) != 0 {
		t.Errorf("roles left after the idle revoke: %v", f.guests.rolesOf(customer, guestID))
	}
	if n := count(f.trailActions(g), "revoke"); n != 1 {
		t.Errorf("trail %v: want one revoke", f.trailActions(g))
	}
}

func TestGuestWhoSignsInKeepsItsGrant(t *testing.T) {
	f, si := idleFixture(t, 14)
	g := f.activeGuest()
	f.clock.Advance(10 * access.Day)
	si.signedIn(guestID, f.clock.Now())
	f.clock.Advance(5 * access.Day) // 15 days from the start, 5 from the sign-in
	f.mustSweep()
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive {
		t.Fatalf("a guest who signed in 5 days ago: %s, want active", got.Status)
	}
	f.clock.Advance(10 * access.Day) // 15 days after the sign-in
	f.mustSweep()
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusRevoked {
		t.Fatalf("15 days after the last sign-in: %s, want revoked", got.Status)
	}
}

func TestTenantWithoutSignInActivityIsSkippedOnce(t *testing.T) {
	f, si := idleFixture(t, 14)
	si.unavailable = true
	g := f.activeGuest()
	for range 3 {
		f.clock.Advance(15 * access.Day)
		f.mustSweep()
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive {
		t.Fatalf("without sign-in activity: %s, want active", got.Status)
	}
	if n := count(f.trailActions(g), ActionIdleUnknown); n != 1 || si.calls != 1 {
		t.Errorf("%d skip lines after %d reads, want one of each", n, si.calls)
	}
}

func TestIdleRevokeOff(t *testing.T) {
	f, si := idleFixture(t, 0)
	g := f.activeGuest()
	f.clock.Advance(60 * access.Day)
	f.mustSweep()
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive || si.calls != 0 {
		t.Fatalf("IDLE_REVOKE_DAYS=0: %s after %d reads, want active and never read", got.Status, si.calls)
	}
}
