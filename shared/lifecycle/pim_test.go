package lifecycle

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// fakePIM holds time-bound assignments by principal and role; noP2 is a
// tenant without Entra ID P2.
type fakePIM struct {
	mu    sync.Mutex
	ends  map[string]time.Time // principal + "/" + role → end
	noP2  bool
	calls int
}

func (p *fakePIM) AssignUntil(_ context.Context, _, principal, role string, end time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.noP2 {
		return access.E(access.KindRefused, access.CodeNeedsP2, "no P2")
	}
	p.ends[principal+"/"+role] = end
	return nil
}

func (p *fakePIM) ExtendUntil(_ context.Context, _, principal, role string, end time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if _, ok := p.ends[principal+"/"+role]; !ok {
		return access.Errorf(access.KindNotFound, "no schedule")
	}
	p.ends[principal+"/"+role] = end
	return nil
}

func (p *fakePIM) RemoveTimeBound(_ context.Context, _, principal, role string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	delete(p.ends, principal+"/"+role)
	return nil
}

func (p *fakePIM) end(principal, role string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.ends[principal+"/"+role]
	return t, ok
}

func pimFixture(t *testing.T, noP2 bool) (*fixture, *fakePIM) {
	p := &fakePIM{ends: map[string]time.Time{}, noP2: noP2}
	return newFixture(t).with(func(d *Deps, o *Options) { d.TimeBound, o.TimeBound = p, true }), p
}

func TestPIMRolesEndWithTheGrant(t *testing.T) {
	f, p := pimFixture(t, false)
	g := f.activeGuest()
	end, ok := p.end(guestID, access.SecurityOperatorID)
	if !ok || !end.Equal(g.ExpiresAt) {
		t.Fatalf("time-bound role: %v %v, want one ending at the grant's end %v", end, ok, g.ExpiresAt)
	}
	if roles := f.guests.rolesOf(customer, guestID); len(roles) != 0 {
		t.Fatalf("directory roles %v beside the time-bound one, want none", roles)
	}
	// Redelivered: nothing new.
	calls := p.calls
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: invitation("setup-invite")})
	wantOutcome(t, "redelivery", out, err, Duplicate)
	if p.calls != calls {
		t.Errorf("a redelivery made %d PIM calls", p.calls-calls)
	}
	// Extended: the role's end moves with the grant's.
	f.command(Command{DeliveryID: "ext-1", Action: ActionExtend, Ticket: ticket, CustomerTenantID: customer, PartnerTenantID: partner,
		GrantID: g.ID, DurationDays: 120})
	g = f.store.grant(t, customer, g.ID)
	if end, _ := p.end(guestID, access.SecurityOperatorID); !end.Equal(g.ExpiresAt) {
		t.Fatalf("after extend: role ends %v, grant %v", end, g.ExpiresAt)
	}
	// Revoked: removed now.
	f.command(revoke("rev-1", g.ID))
	f.command(revoke("rev-1", g.ID))
	if _, ok := p.end(guestID, access.SecurityOperatorID); ok {
		t.Fatal("time-bound role left after revoke")
	}
	acts := f.trailActions(g)
	if count(acts, ActionAssignRolePIM) != 1 || count(acts, ActionExtendRolePIM) != 1 || count(acts, ActionRemoveRolePIM) != 1 {
		t.Errorf("trail %v: want one time-bound assignment, extension and removal", acts)
	}
}

func TestPIMWithoutP2FallsBackToDirectoryRoles(t *testing.T) {
	f, _ := pimFixture(t, true)
	g := f.activeGuest()
	if roles := f.guests.rolesOf(customer, guestID); len(roles) != 1 || roles[0] != access.SecurityOperatorID {
		t.Fatalf("without P2: directory roles %v, want Security Operator", roles)
	}
	if n := count(f.trailActions(g), ActionPIMFallback); n != 1 {
		t.Errorf("trail %v: want the fallback audited once", f.trailActions(g))
	}
	f.command(revoke("rev-1", g.ID))
	if roles := f.guests.rolesOf(customer, guestID); len(roles) != 0 {
		t.Fatalf("after revoke: %v, want none", roles)
	}
}

func TestTimeBoundRolesFromTheTrail(t *testing.T) {
	trail := []access.AuditEntry{
		{Action: ActionAssignRolePIM, Role: "A"},
		{Action: ActionAssignRolePIM, Role: "b"},
		{Action: ActionRemoveRolePIM, Role: "a"},
		{Action: ActionAssignRolePIM, Role: "a"}, // assigned again after its removal
		{Action: ActionRemoveRolePIM, Role: "B"},
	}
	if got := timeBoundRoles(trail); !slices.Equal(got, []string{"a"}) {
		t.Errorf("timeBoundRoles = %v, want [a] once", got)
	}
}
