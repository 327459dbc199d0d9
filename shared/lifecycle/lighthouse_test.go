package lifecycle

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

const (
	appPrincipal = "a9000000-0000-4000-8000-000000000009"
	assignmentID = "/subscriptions/" + subscription + "/providers/Microsoft.ManagedServices/registrationAssignments/9a000000-0000-4000-8000-00000000000a"
)

// fakeDelegations is ARM's registration assignments, by subscription.
type fakeDelegations struct {
	mu        sync.Mutex
	of        map[string][]Delegation
	listErr   error
	removeErr error
	removed   []string
}

func (f *fakeDelegations) Assignments(_ context.Context, sub string) ([]Delegation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	if len(f.of[sub]) == 0 {
		return nil, access.Errorf(access.KindRefused, "AuthorizationFailed: no access to subscription %s", sub)
	}
	return slices.Clone(f.of[sub]), nil
}

func (f *fakeDelegations) RemoveAssignment(_ context.Context, sub, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removeErr != nil {
		return f.removeErr
	}
	f.removed = append(f.removed, id)
	f.of[sub] = slices.DeleteFunc(f.of[sub], func(d Delegation) bool { return d.AssignmentID == id })
	return nil
}

// deploy is the customer deploying the onboarding template.
func (f *fakeDelegations) deploy(sub string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.of[sub] = append(f.of[sub], Delegation{AssignmentID: assignmentID, ProvisioningState: "Succeeded", ManagedByTenantID: partner,
		OfferName: "Security Copilot partner access", Authorizations: []DelegatedRole{
			{PrincipalID: group, RoleDefinitionID: lighthouseReader},
			{PrincipalID: appPrincipal, RoleDefinitionID: "91c1777a-f3dc-4fae-b103-61d183457e46"}}})
}

func (f *fakeDelegations) removals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.removed)
}

// lighthouseFixture is newFixture with ARM.
func lighthouseFixture(t *testing.T) (*fixture, *fakeDelegations) {
	f := newFixture(t)
	arm := &fakeDelegations{of: map[string][]Delegation{}}
	f.svc = New(Deps{Store: f.store, Guests: f.guests, GDAP: f.gdap, Publisher: f.pub, Notifier: f.notes, Templates: f.tmpl,
		Domains: f.doms, Clock: f.clock, Delegations: arm},
		Options{Policy: access.DefaultPolicy(), Channels: access.Channels{Mail: true, Teams: true, Ticket: true},
			PartnerTenantID: partner, SecurityGroupID: group, LighthouseAppPrincipalID: strings.ToUpper(appPrincipal)})
	return f, arm
}

// lastWatch is the last delegation watch published.
func (f *fixture) lastWatch() (access.Message, GrantExpiring) {
	f.t.Helper()
	var last access.Message
	for _, m := range f.pub.to(QueueGrantExpiring) {
		if decode[GrantExpiring](f.t, m).Check == CheckDelegation {
			last = m
		}
	}
	if last.ID == "" {
		f.t.Fatal("no delegation watch published")
	}
	return last, decode[GrantExpiring](f.t, last)
}

// look delivers the last watch at its time and wants outcome.
func (f *fixture) look(want Outcome) GrantExpiring {
	f.t.Helper()
	msg, m := f.lastWatch()
	if f.clock.Now().Before(msg.NotBefore) {
		f.clock.Set(msg.NotBefore)
	}
	out, err := f.svc.Expiring(f.ctx, m)
	if err != nil || out != want {
		f.t.Fatalf("watch %s at %s: got %q, %v; want %q", msg.ID, f.clock.Now().Format(time.RFC3339), out, err, want)
	}
	return m
}

// activeLighthouse requests a grant and has its template deployed at once.
func activeLighthouse(t *testing.T) (*fixture, *fakeDelegations, access.Grant) {
	f, arm := lighthouseFixture(t)
	res := f.command(requestLighthouse("d-lh"))
	arm.deploy(subscription)
	f.look(Processed)
	return f, arm, f.store.grant(t, customer, res.Reply.GrantID)
}

func TestNextWatchBacksOffFromFiveMinutesToDaily(t *testing.T) {
	for _, c := range []struct {
		after, want time.Duration
	}{
		{0, 5 * time.Minute},
		{5 * time.Minute, 15 * time.Minute},
		{15 * time.Minute, 35 * time.Minute},
		{10 * 24 * time.Hour, 0},
	} {
		got := nextWatch(t0, t0.Add(c.after)).Sub(t0)
		if c.want != 0 && got != c.want {
			t.Errorf("after %s: next at +%s, want +%s", c.after, got, c.want)
		}
		if gap := got - c.after; c.after > 48*time.Hour && (gap <= 0 || gap > 24*time.Hour) {
			t.Errorf("after %s: next in %s, want within a day", c.after, gap)
		}
	}
}

func TestLighthouseRequestWatchesARMWithinFiveMinutesAndSchedulesNoNotices(t *testing.T) {
	f, _ := lighthouseFixture(t)
	res := f.command(requestLighthouse("d-w1"))
	if res.Reply.Status != "pending" {
		t.Fatalf("reply: got %+v, want pending", res.Reply)
	}
	msg, m := f.lastWatch()
	if msg.NotBefore.After(t0.Add(5*time.Minute)) || !msg.NotBefore.After(t0) {
		t.Errorf("first look at %s, want within 5 minutes of %s", msg.NotBefore, t0)
	}
	if m.GrantID != res.Reply.GrantID || m.CustomerTenantID != customer {
		t.Errorf("watch: got %+v", m)
	}
	for _, d := range f.store.dueEntries() {
		if d.Stage != access.StageRecheck {
			t.Errorf("due entry %+v: a pending delegation has no notices yet", d)
		}
	}
}

func TestLighthouseDeployedLateIsActiveFromWhenSeenForItsLength(t *testing.T) {
	f, arm := lighthouseFixture(t)
	res := f.command(requestLighthouse("d-w2"))
	f.look(Deferred) // +5m: nothing yet
	f.look(Deferred)
	f.clock.Set(t0.Add(10 * access.Day))
	arm.deploy(subscription)
	m := f.look(Processed)
	seen := f.clock.Now()
	g := f.store.grant(t, customer, res.Reply.GrantID)
	if g.Status != access.StatusActive || !g.ExpiresAt.Equal(seen.Add(60*access.Day)) {
		t.Fatalf("grant: got %s until %s, want active until %s", g.Status, g.ExpiresAt, seen.Add(60*access.Day))
	}
	if acts := f.store.actions(customer, g.ID); !slices.Contains(acts, "arm:delegation-found") || !slices.Contains(acts, "activate") {
		t.Errorf("audit: got %v", acts)
	}
	var notices int
	for _, d := range f.store.dueEntries() {
		if d.Stage >= 0 {
			notices++
		}
	}
	if notices == 0 {
		t.Error("no notices or expiry scheduled on activation")
	}
	// Redelivered: the ledger holds it, nothing changes.
	commits := f.store.commitCount()
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Duplicate {
		t.Errorf("redelivery: got %q, %v; want duplicate", out, err)
	}
	if f.store.commitCount() != commits {
		t.Error("redelivery committed")
	}
	if cm := f.notes.to(access.AudienceCustomer, access.ChannelMail); !strings.Contains(cm[len(cm)-1].Text, "removes the Azure Lighthouse delegation itself") {
		t.Errorf("activation mail: %q, want it to say the app removes the delegation", cm[len(cm)-1].Text)
	}
}

func TestLighthouseNeverDeployedExpiresAfterThirtyDays(t *testing.T) {
	f, arm := lighthouseFixture(t)
	res := f.command(requestLighthouse("d-w3"))
	f.clock.Set(t0.Add(29 * access.Day))
	f.look(Deferred)
	if g := f.store.grant(t, customer, res.Reply.GrantID); g.Status != access.StatusPending {
		t.Fatalf("day 29: got %s, want pending", g.Status)
	}
	f.clock.Set(t0.Add(DeployWait))
	m := f.look(Processed)
	g := f.store.grant(t, customer, res.Reply.GrantID)
	if g.Status != access.StatusExpired || g.Reason != ReasonNeverDeployed {
		t.Fatalf("grant: got %s (%q), want expired %q", g.Status, g.Reason, ReasonNeverDeployed)
	}
	if len(arm.removals()) != 0 {
		t.Errorf("removed %v: nothing was deployed", arm.removals())
	}
	// A late copy of the watch changes nothing, even if the template is
	// deployed after all.
	arm.deploy(subscription)
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || (out != Duplicate && out != Stale) {
		t.Errorf("late copy: got %q, %v", out, err)
	}
	if g := f.store.grant(t, customer, res.Reply.GrantID); g.Status != access.StatusExpired {
		t.Errorf("after the late copy: %s", g.Status)
	}
}

func TestLighthouseRemovedByTheCustomerIsRevoked(t *testing.T) {
	f, arm, g := activeLighthouse(t)
	f.look(Deferred) // still there a day later
	arm.mu.Lock()
	arm.of[subscription] = nil
	arm.mu.Unlock()
	m := f.look(Processed)
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusRevoked || got.Reason != ReasonRemovedByCustomer {
		t.Fatalf("grant: got %s (%q), want revoked %q", got.Status, got.Reason, ReasonRemovedByCustomer)
	}
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Duplicate {
		t.Errorf("redelivery: got %q, %v; want duplicate", out, err)
	}
}

func TestLighthouseWatchFailureIsNotTakenForRemoval(t *testing.T) {
	f, arm, g := activeLighthouse(t)
	arm.listErr = access.Errorf(access.KindTransient, "ARM throttled")
	_, m := f.lastWatch()
	f.clock.Advance(25 * time.Hour)
	if _, err := f.svc.Expiring(f.ctx, m); err == nil {
		t.Error("a failed look succeeded")
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive {
		t.Errorf("grant: %s, want still active", got.Status)
	}
}

func TestLighthouseExpiryDeletesTheAssignmentOnceAndTellsBoth(t *testing.T) {
	f, arm, g := activeLighthouse(t)
	f.clock.Set(g.ExpiresAt)
	m := ExpiringMessage(customer, g.ID, g.ExpiresAt, 0, g.ExpiresAt)
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Processed {
		t.Fatalf("expiry: got %q, %v", out, err)
	}
	if got := arm.removals(); !slices.Equal(got, []string{assignmentID}) {
		t.Errorf("removals: got %v", got)
	}
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusExpired || strings.Contains(got.Reason, "must remove") {
		t.Errorf("grant: got %s (%q)", got.Status, got.Reason)
	}
	if acts := f.store.actions(customer, g.ID); !slices.Contains(acts, actionDelegationRemoved) {
		t.Errorf("audit: %v", acts)
	}
	for _, to := range []struct {
		a access.Audience
		c access.Channel
	}{{access.AudienceCustomer, access.ChannelMail}, {access.AudiencePartner, access.ChannelTeams}} {
		ms := f.notes.to(to.a, to.c)
		if len(ms) == 0 || !strings.Contains(ms[len(ms)-1].Text, "The app removed the Azure Lighthouse delegation") {
			t.Errorf("%s %s: %v", to.a, to.c, ms)
		}
	}
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Duplicate {
		t.Errorf("redelivery: got %q, %v", out, err)
	}
	if len(arm.removals()) != 1 {
		t.Errorf("removed again on redelivery: %v", arm.removals())
	}
}

func TestLighthouseEndFailingInARMKeepsTheGrantForTheRetry(t *testing.T) {
	f, arm, g := activeLighthouse(t)
	arm.removeErr = access.Errorf(access.KindTransient, "the operation failed")
	res, err := f.svc.TicketCommand(f.ctx, revoke("d-rv1", g.ID))
	if err == nil {
		t.Fatalf("revoke: got %+v, want the failure", res)
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive {
		t.Fatalf("grant: %s, want active until ARM confirms", got.Status)
	}
	arm.removeErr = nil
	if _, err := f.svc.TicketCommand(f.ctx, revoke("d-rv1", g.ID)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusRevoked || len(arm.removals()) != 1 {
		t.Errorf("grant: %s, removals %v", got.Status, arm.removals())
	}
}

func TestLighthouseRevokeRefusedByARMTellsTheCustomerToRemoveIt(t *testing.T) {
	f, arm, g := activeLighthouse(t)
	arm.removeErr = access.Errorf(access.KindRefused, "AuthorizationFailed: the client does not have authorization")
	if _, err := f.svc.TicketCommand(f.ctx, revoke("d-rv2", g.ID)); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusRevoked || !strings.Contains(got.Reason, "customer must remove it") {
		t.Errorf("grant: got %s (%q)", got.Status, got.Reason)
	}
	if acts := f.store.actions(customer, g.ID); !slices.Contains(acts, actionDelegationRefused) {
		t.Errorf("audit: %v", acts)
	}
	cm := f.notes.to(access.AudienceCustomer, access.ChannelMail)
	if last := cm[len(cm)-1].Text; !strings.Contains(last, "Action needed") || !strings.Contains(last, "Service providers > Delegations") {
		t.Errorf("customer mail: %q", last)
	}
}

func TestLighthouseRevokedWhilePendingRemovesADelegationDeployedMeanwhile(t *testing.T) {
	f, arm := lighthouseFixture(t)
	res := f.command(requestLighthouse("d-w4"))
	arm.deploy(subscription) // deployed, not seen yet
	if _, err := f.svc.TicketCommand(f.ctx, revoke("d-rv3", res.Reply.GrantID)); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got := arm.removals(); len(got) != 1 {
		t.Errorf("removals: %v", got)
	}
	f.look(Stale)
}
