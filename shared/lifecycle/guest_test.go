package lifecycle

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestActivateGuestOnceUnderRedelivery(t *testing.T) {
	f := newFixture(t)
	msg := invitation("ev-1", access.SecurityReaderID, access.SecurityOperatorID)
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg})
	wantOutcome(t, "first delivery", out, err, Processed)
	g := f.store.grant(t, customer, "b2b:"+guestID)
	want := t0.Add(90 * access.Day)
	if g.Status != access.StatusActive || !g.ExpiresAt.Equal(want) || g.PrincipalID != guestID || g.Method != access.B2B ||
		g.CapacityPlan != access.PaidByCustomer || g.AutoExtend != access.AutoExtendNone || g.InviteeEmail != guestMail {
		t.Fatalf("grant: got %+v, want active b2b for %s until %v paid by the customer", g, guestID, want)
	}
	if got := f.guests.rolesOf(customer, guestID); !slices.Equal(got, []string{access.SecurityReaderID, access.SecurityOperatorID}) {
		t.Fatalf("guest roles: got %v, want Security Reader and Security Operator", got)
	}
	if got, want := f.store.actions(customer, g.ID), []string{"graph:assign-role", "graph:assign-role", "activate"}; !slices.Equal(got, want) {
		t.Errorf("audit: got %v, want %v", got, want)
	}
	// Everyone told; the partner gets the tenant-switch link.
	if n := len(f.notes.all()); n != 4 {
		t.Fatalf("notifications: got %d, want 4 (partner and customer mail, Teams, ticket): %+v", n, f.notes.all())
	}
	pm := f.notes.to(access.AudiencePartner, access.ChannelMail)
	if len(pm) != 1 || pm[0].Link != access.TenantSwitchLink(customer) || !strings.Contains(pm[0].Text, access.TenantSwitchLink(customer)) {
		t.Errorf("partner mail: got %+v, want the tenant-switch link", pm)
	}
	// The next action, the 30-day notice, is scheduled and indexed.
	sched := f.pub.to(QueueGrantExpiring)
	if len(sched) != 1 {
		t.Fatalf("scheduled: got %d messages, want the 30-day notice only", len(sched))
	}
	next := decode[GrantExpiring](t, sched[0])
	if next.stage() != 30 || sched[0].ID != next.EventID || !sched[0].NotBefore.Equal(want.Add(-30*access.Day)) || !next.ExpiresAt.Equal(want) ||
		next.GrantID != g.ID || next.CustomerTenantID != customer {
		t.Errorf("scheduled %s: stage %d due %v, want the 30-day notice due %v with MessageId = eventId", sched[0].ID, next.stage(), sched[0].NotBefore, want.Add(-30*access.Day))
	}
	if due := f.store.dueEntries(); len(due) != 1 || due[0] != (access.DueEntry{Due: want.Add(-30 * access.Day), CustomerTenantID: customer, GrantID: g.ID, Stage: 30}) {
		t.Errorf("due index: got %+v, want the 30-day notice", due)
	}

	// The same message again: a duplicate, nothing new anywhere.
	before := f.snapshot()
	audit := len(f.store.actions(customer, g.ID))
	calls := f.guests.assignCalls
	for delivery := 2; delivery <= 3; delivery++ {
		out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg})
		if err != nil || out != Duplicate {
			t.Fatalf("delivery %d: got %q, %v; want duplicate", delivery, out, err)
		}
	}
	// Another event about the same invitation is a duplicate too.
	other := msg
	other.EventID = "ev-1-again"
	if out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: other}); err != nil || out != Duplicate {
		t.Fatalf("same invitation, new event: got %q, %v; want duplicate", out, err)
	}
	if after := f.snapshot(); after != before {
		t.Errorf("redeliveries changed the world: before %+v, after %+v", before, after)
	}
	if f.guests.assignCalls != calls {
		t.Errorf("redeliveries called AssignRole %d more times, want none", f.guests.assignCalls-calls)
	}
	if n := len(f.store.actions(customer, g.ID)); n != audit {
		t.Errorf("audit after redelivery: got %d rows, want %d", n, audit)
	}
}

func TestActivateGuestConcurrentCopies(t *testing.T) {
	f := newFixture(t)
	msg := invitation("ev-c", access.SecurityReaderID, access.SecurityOperatorID)
	var wg sync.WaitGroup
	outs := make([]Outcome, 3)
	errs := make([]error, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg})
		}()
	}
	wg.Wait()
	processed := 0
	for i := range outs {
		if errs[i] != nil {
			t.Errorf("copy %d: %v", i, errs[i])
		}
		if outs[i] == Processed {
			processed++
		}
	}
	if processed != 1 {
		t.Errorf("outcomes: got %v, want one processed and the others duplicates", outs)
	}
	if got := f.guests.rolesOf(customer, guestID); len(got) != 2 {
		t.Errorf("roles: got %v, want one assignment of each role", got)
	}
	activations := 0
	for _, a := range f.store.actions(customer, "b2b:"+guestID) {
		if a == "activate" {
			activations++
		}
	}
	if activations != 1 || len(f.notes.all()) != 4 || len(f.pub.to(QueueGrantExpiring)) != 1 {
		t.Errorf("got %d activations, %d notifications, %d scheduled; want 1, 4, 1", activations, len(f.notes.all()), len(f.pub.to(QueueGrantExpiring)))
	}
}

func TestActivateGuestRefusedRoles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		roles  []string
		reason string
	}{
		{"global administrator", []string{access.GlobalAdministratorID}, "Global Administrator is never granted"},
		{"global administrator beside an allowed role", []string{access.SecurityReaderID, access.GlobalAdministratorID}, "Global Administrator"},
		{"security administrator", []string{access.SecurityAdministratorID}, "Security Administrator is not an allowed role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: invitation("ev-r", tc.roles...)})
			if err != nil || out != Refused {
				t.Fatalf("got %q, %v; want refused (recorded, not an error)", out, err)
			}
			g := f.store.grant(t, customer, "b2b:"+guestID)
			if g.Status != access.StatusRefused || !strings.Contains(g.Reason, "refused by policy") || !strings.Contains(g.Reason, tc.reason) {
				t.Fatalf("grant: got %s (%q), want refused by policy: %s", g.Status, g.Reason, tc.reason)
			}
			if got := f.guests.rolesOf(customer, guestID); len(got) != 0 || f.guests.assignCalls != 0 {
				t.Errorf("roles: got %v after %d AssignRole calls, want none", got, f.guests.assignCalls)
			}
			if len(f.notes.all()) != 4 {
				t.Errorf("notifications: got %d, want every party told", len(f.notes.all()))
			}
			if n := len(f.pub.to(QueueGrantExpiring)); n != 0 {
				t.Errorf("scheduled %d notices for a refused grant, want none", n)
			}
			if e, _, _ := f.store.Processed(f.ctx, customer, "ev-r"); e.Outcome != string(Refused) {
				t.Errorf("ledger outcome: got %q, want refused", e.Outcome)
			}
		})
	}
}

func TestActivateGuestWaitsForTheGuestToAppear(t *testing.T) {
	f := newFixture(t)

	// Not visible yet: deferred, nothing written, the message sent again
	// for later and indexed for the sweep in case the queue loses it.
	msg := f.lateInvitation("ev-late")
	if f.store.commitCount() != 0 || f.guests.assignCalls != 0 {
		t.Fatalf("a deferred message wrote %d commits and made %d assignments, want none", f.store.commitCount(), f.guests.assignCalls)
	}
	again := f.pub.to(QueueInvitationSent)
	if len(again) != 1 || !again[0].NotBefore.After(f.clock.Now()) || !strings.HasPrefix(again[0].ID, "ev-late~r") {
		t.Fatalf("re-check: got %+v, want one invitation-sent message for later, named after the event", again)
	}
	next := decode[InvitationSent](t, again[0])
	if next.EventID != msg.EventID || next.InvitedUserID != lateGuest || !next.OccurredAt.Equal(msg.OccurredAt) {
		t.Errorf("re-check body: got %+v, want the event itself (its id and invitation time) under a message id of its own", next)
	}
	due := f.store.dueEntries()
	if len(due) != 1 || due[0].Stage != access.StageRecheck || due[0].Message == nil || due[0].Message.ID != again[0].ID || !due[0].Due.Equal(again[0].NotBefore) {
		t.Fatalf("due index: got %+v, want the re-check, holding its message", due)
	}

	// A copy at the same moment defers to the same checkpoint.
	if out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg}); err != nil || out != Deferred {
		t.Fatalf("copy: got %q, %v; want deferred", out, err)
	}
	if msgs := f.pub.to(QueueInvitationSent); msgs[len(msgs)-1].ID != again[0].ID {
		t.Errorf("copy's re-check: got id %s, want %s", msgs[len(msgs)-1].ID, again[0].ID)
	}

	// The sweep sends a due re-check again, and forgets its entry.
	f.clock.Set(due[0].Due)
	res, err := f.svc.Sweep(f.ctx)
	if err != nil || res.Rechecked != 1 || res.Published != 0 {
		t.Fatalf("sweep: got %+v, %v; want the re-check sent again", res, err)
	}
	if msgs := f.pub.to(QueueInvitationSent); msgs[len(msgs)-1].ID != again[0].ID || !msgs[len(msgs)-1].NotBefore.IsZero() {
		t.Errorf("sweep's copy: got %+v, want the re-check, due now", msgs[len(msgs)-1])
	}
	if due := f.store.dueEntries(); len(due) != 0 {
		t.Errorf("due index after the sweep: got %+v, want none", due)
	}

	// Once the guest is there, the re-check activates the grant.
	f.guests.addUser(customer, access.User{ID: lateGuest, Mail: "late@fabrikam.example", UserType: "Guest"})
	if out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: next}); err != nil || out != Processed {
		t.Fatalf("once the guest is there: got %q, %v; want processed", out, err)
	}
	if got := f.guests.rolesOf(customer, lateGuest); !slices.Equal(got, []string{access.SecurityOperatorID}) {
		t.Errorf("roles: got %v, want Security Operator", got)
	}
}

func TestActivateGuestGivesUpOnAGuestThatNeverAppears(t *testing.T) {
	f := newFixture(t)
	const ghost = "0a7e0000-0000-4000-8000-000000000098"
	msg := invitation("ev-ghost")
	msg.InvitedUserID = ghost
	f.clock.Set(t0.Add(GuestWait + time.Second))
	_, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg})
	wantKind(t, "past GuestWait", err, access.KindInvalid)
	g := f.store.grant(t, customer, "b2b:"+ghost)
	if g.Status != access.StatusRefused || !strings.Contains(g.Reason, "did not appear") {
		t.Fatalf("grant: got %s (%q), want refused: the guest did not appear", g.Status, g.Reason)
	}
	if len(f.notes.all()) != 4 || f.guests.assignCalls != 0 {
		t.Errorf("got %d notifications and %d assignments, want everyone told and nothing assigned", len(f.notes.all()), f.guests.assignCalls)
	}
}

func TestActivateGuestFromAnotherDomainIsRefused(t *testing.T) {
	f := newFixture(t)
	msg := invitation("ev-dom")
	msg.InvitedUserEmail = "someone@elsewhere.example"
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg})
	wantOutcome(t, "a guest of another domain", out, err, Refused)
	if g := f.store.grant(t, customer, "b2b:"+guestID); g.Status != access.StatusRefused || !strings.Contains(g.Reason, "elsewhere.example") {
		t.Errorf("grant: got %s (%q), want refused naming the domain", g.Status, g.Reason)
	}
	if f.guests.assignCalls != 0 {
		t.Errorf("AssignRole called %d times, want none", f.guests.assignCalls)
	}
}

func TestActivateGuestNeverWidensAGrant(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest() // Security Operator
	wider := invitation("ev-wide", access.SecurityReaderID, access.SecurityOperatorID)
	_, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: wider})
	wantKind(t, "a message with more roles", err, access.KindInvalid)
	if got := f.guests.rolesOf(customer, guestID); !slices.Equal(got, []string{access.SecurityOperatorID}) {
		t.Errorf("roles: got %v, want the grant's own", got)
	}
	if got := f.store.grant(t, customer, g.ID); !slices.Equal(got.Roles, g.Roles) {
		t.Errorf("grant roles: got %v, want %v", got.Roles, g.Roles)
	}
}

// An invitation the request made is not visible at once: the
// invitation-sent message it published is deferred until it is.
func TestRequestThenActivateWithReplicationDelay(t *testing.T) {
	f := newFixture(t)
	f.guests.hideInvited = true
	res := f.command(requestB2B("d-hid"))
	sent := decode[InvitationSent](t, f.pub.to(QueueInvitationSent)[0])
	if out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: sent}); err != nil || out != Deferred {
		t.Fatalf("before replication: got %q, %v; want deferred", out, err)
	}
	if g := f.store.grant(t, customer, res.Reply.GrantID); g.Status != access.StatusRequested {
		t.Fatalf("grant: got %s, want still requested", g.Status)
	}
	f.guests.show()
	f.clock.Advance(time.Minute)
	recheck := decode[InvitationSent](t, f.pub.to(QueueInvitationSent)[1])
	if out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: recheck}); err != nil || out != Processed {
		t.Fatalf("after replication: got %q, %v", out, err)
	}
	if g := f.store.grant(t, customer, res.Reply.GrantID); g.Status != access.StatusActive {
		t.Errorf("grant: got %s, want active", g.Status)
	}
}
