package lifecycle

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestReviewKeepIsAuditedOnceAndChangesNothingElse(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	notified := len(f.notes.all())
	in := ReviewInput{GrantCommand: GrantCommand{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-1",
		Actor: "Megan Bowen <oid c0000000> (portal)"}, Decision: ReviewKeep}
	reply, err := f.svc.Review(f.ctx, in)
	if err != nil || reply.GrantID != g.ID || reply.Status != "active" {
		t.Fatalf("keep: got %+v, %v", reply, err)
	}
	if _, err := f.svc.Review(f.ctx, in); err != nil {
		t.Fatalf("keep again (redelivery): %v", err)
	}
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusActive || !got.ExpiresAt.Equal(g.ExpiresAt) {
		t.Errorf("grant after keep: %s until %s, want unchanged", got.Status, got.ExpiresAt)
	}
	reviews := 0
	_, trail, _ := f.svc.Trail(f.ctx, customer, g.ID)
	for _, a := range trail {
		if a.Action == ActionReview {
			reviews++
			if !strings.Contains(a.Detail, "kept") || !strings.Contains(a.Detail, "c0000000") {
				t.Errorf("review line %q: want kept and the actor's object id", a.Detail)
			}
		}
	}
	if reviews != 1 {
		t.Errorf("review lines: got %d, want 1 under redelivery", reviews)
	}
	if n := len(f.notes.all()) - notified; n != 0 {
		t.Errorf("notifications of a kept review: got %d, want none", n)
	}
}

func TestReviewRevokeEndsTheGrantThroughRevoke(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	reply, err := f.svc.Review(f.ctx, ReviewInput{GrantCommand: GrantCommand{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-2",
		Actor: "Megan Bowen (portal)"}, Decision: ReviewRevoke})
	if err != nil || reply.Status != "revoked" {
		t.Fatalf("revoke: got %+v, %v", reply, err)
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusRevoked {
		t.Errorf("grant: got %s, want revoked", got.Status)
	}
	if roles := f.guests.rolesOf(customer, guestID); len(roles) != 0 {
		t.Errorf("roles after a revoking review: got %v, want none", roles)
	}
	_, err = f.svc.Review(f.ctx, ReviewInput{GrantCommand: GrantCommand{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-3"}, Decision: ReviewKeep})
	wantKind(t, "keep a revoked grant", err, access.KindConflict)
	_, err = f.svc.Review(f.ctx, ReviewInput{GrantCommand: GrantCommand{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-4"}, Decision: "maybe"})
	wantKind(t, "bad decision", err, access.KindInvalid)
}

// reviewFixture is newFixture with access reviews on.
func reviewFixture(t *testing.T, o ReviewOptions) *fixture {
	f := newFixture(t)
	f.svc = New(Deps{Store: f.store, Guests: f.guests, GDAP: f.gdap, Publisher: f.pub, Notifier: f.notes, Templates: f.tmpl, Domains: f.doms, Clock: f.clock},
		Options{Policy: access.DefaultPolicy(), Channels: access.Channels{Mail: true, Teams: true, Ticket: true},
			PartnerTenantID: partner, SecurityGroupID: group, Reviews: o})
	return f
}

func (f *fixture) dueAt(stage int) []time.Time {
	var out []time.Time
	for _, d := range f.store.dueEntries() {
		if d.Stage == stage {
			out = append(out, d.Due)
		}
	}
	return out
}

func (f *fixture) reviewMails() []access.Notification {
	var out []access.Notification
	for _, n := range f.notes.all() {
		if strings.HasPrefix(n.Subject, "Review the partner's access") {
			out = append(out, n)
		}
	}
	return out
}

func (f *fixture) mustSweep() SweepResult {
	f.t.Helper()
	res, err := f.svc.Sweep(f.ctx)
	if err != nil {
		f.t.Fatalf("sweep: %v", err)
	}
	return res
}

// reviewAsked is a fixture with an active guest grant whose first access
// review (30 days after start) the sweep has just asked for.
func reviewAsked(t *testing.T, o ReviewOptions) (*fixture, access.Grant, time.Time) {
	t.Helper()
	f := reviewFixture(t, o)
	g := f.activeGuest()
	start := f.store.grant(t, customer, g.ID).CreatedAt
	f.clock.Set(start.Add(30*access.Day + time.Hour))
	f.mustSweep()
	return f, g, start
}

func TestReviewIsAskedThenKeptByDefault(t *testing.T) {
	f := reviewFixture(t, ReviewOptions{EveryDays: 30, DeadlineDays: 7, PortalURL: "https://portal.example/"})
	g := f.activeGuest()
	start := f.store.grant(t, customer, g.ID).CreatedAt
	if got := f.dueAt(StageReview); len(got) != 1 || !got[0].Equal(start.Add(30*access.Day)) {
		t.Fatalf("review due: %v, want one at start + 30 days", got)
	}

	f.clock.Set(start.Add(30*access.Day + time.Hour))
	f.mustSweep()
	mails := f.reviewMails()
	if len(mails) != 1 || mails[0].Audience != access.AudienceCustomer || mails[0].To[0] != customerMail ||
		mails[0].Link != "https://portal.example/api/portal/grants/"+customer+"/"+g.ID {
		t.Fatalf("review request: %+v, want one mail to the customer linking the grant's page", mails)
	}
	if got := f.dueAt(StageReviewDeadline); len(got) != 1 || !got[0].Equal(start.Add(37*access.Day)) {
		t.Fatalf("deadline due: %v, want start + 37 days", got)
	}
	if got := f.dueAt(StageReview); len(got) != 0 {
		t.Errorf("the request's due entry stays: %v", got)
	}
	// The sweep again (a redelivery, a second instance): asked once.
	f.mustSweep()
	if n := len(f.reviewMails()); n != 1 {
		t.Errorf("review mails after a second sweep: %d, want 1", n)
	}

	f.clock.Set(start.Add(37*access.Day + time.Hour))
	f.mustSweep()
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusActive {
		t.Fatalf("kept by default: grant is %s", got.Status)
	}
	if actions := f.store.actions(customer, g.ID); !slices.Contains(actions, ActionReviewRequested) || !slices.Contains(actions, ActionReviewDefault) {
		t.Errorf("audit: %v, want the request and the default", actions)
	}
	if next := f.dueAt(StageReview); len(next) != 1 || !next[0].Equal(start.Add(60*access.Day)) {
		t.Errorf("next review: %v, want start + 60 days", next)
	}
	if n := len(f.dueAt(StageReviewDeadline)); n != 0 {
		t.Errorf("deadline entries left: %d", n)
	}
}

func TestReviewUnansweredRevokesWhenSoConfigured(t *testing.T) {
	f, g, start := reviewAsked(t, ReviewOptions{EveryDays: 30, DeadlineDays: 7, RevokeByDefault: true})
	f.clock.Set(start.Add(37*access.Day + time.Hour))
	f.mustSweep()
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusRevoked || !strings.Contains(got.Reason, "unanswered") {
		t.Fatalf("revoked by default: %s (%q)", got.Status, got.Reason)
	}
	if roles := f.guests.rolesOf(customer, guestID); len(roles) != 0 {
		t.Errorf("roles after the default revoke: %v", roles)
	}
}

func TestReviewAnsweredInTimeIsNotDefaulted(t *testing.T) {
	f, g, start := reviewAsked(t, ReviewOptions{EveryDays: 30, DeadlineDays: 7, RevokeByDefault: true})
	f.clock.Set(start.Add(32 * access.Day))
	if _, err := f.svc.Review(f.ctx, ReviewInput{GrantCommand: GrantCommand{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-keep", Actor: "Megan"}, Decision: ReviewKeep}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(start.Add(37*access.Day + time.Hour))
	f.mustSweep()
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive {
		t.Fatalf("answered keep, then the deadline: grant is %s, want active", got.Status)
	}
	if slices.Contains(f.store.actions(customer, g.ID), ActionReviewDefault) {
		t.Errorf("an answered review was defaulted")
	}
	if next := f.dueAt(StageReview); len(next) != 1 || !next[0].Equal(start.Add(60*access.Day)) {
		t.Errorf("next review: %v, want start + 60 days", next)
	}
}

func TestReviewsOffScheduleNothing(t *testing.T) {
	f := reviewFixture(t, ReviewOptions{})
	f.activeGuest()
	if n := len(f.dueAt(StageReview)); n != 0 {
		t.Errorf("review entries with reviews off: %d", n)
	}
}
