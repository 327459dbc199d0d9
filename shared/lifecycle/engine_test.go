package lifecycle

import (
	"slices"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestFailedSendStaysUnsentAndIsRetriedAlone(t *testing.T) {
	f := newFixture(t)
	f.notes.failChannel(access.ChannelTeams, access.Errorf(access.KindTransient, "Teams webhook answered 503"))
	msg := GuestInvited{InvitationSent: invitation("teams-down-1")}
	_, err := f.svc.ActivateGuest(f.ctx, msg)
	wantKind(t, "with Teams down", err, access.KindTransient)
	if g := f.store.grant(t, customer, "b2b:"+guestID); g.Status != access.StatusActive {
		t.Fatalf("grant: got %s, want active (the state change is committed)", g.Status)
	}
	mails, tickets := f.notes.count("", access.ChannelMail), f.notes.count("", access.ChannelTicket)
	if mails != 2 || tickets != 1 || f.notes.count("", access.ChannelTeams) != 0 || len(f.pub.to(QueueGrantExpiring)) != 1 {
		t.Fatalf("first delivery: %d mails, %d ticket comments, %d cards, %d scheduled; want 2, 1, 0, 1",
			mails, tickets, f.notes.count("", access.ChannelTeams), len(f.pub.to(QueueGrantExpiring)))
	}
	un, _ := f.store.Unsent(f.ctx, customer, "teams-down-1")
	if len(un) != 1 || un[0].Kind != access.OutboxNotify || un[0].Notification.Channel != access.ChannelTeams {
		t.Fatalf("outbox after the first delivery: got %+v, want only the Teams card unsent", un)
	}
	if un[0].ClaimedUntil.After(f.clock.Now()) {
		t.Errorf("the failed entry is claimed until %v, want its claim released for the redelivery", un[0].ClaimedUntil)
	}

	f.notes.failChannel(access.ChannelTeams, nil)
	start := time.Now()
	if out, err := f.svc.ActivateGuest(f.ctx, msg); err != nil || out != Duplicate {
		t.Fatalf("redelivery: got %q, %v; want duplicate", out, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("redelivery took %v, want no wait for a released claim", d)
	}
	if f.notes.count("", access.ChannelTeams) != 1 || f.notes.count("", access.ChannelMail) != 2 || f.notes.count("", access.ChannelTicket) != 1 ||
		len(f.pub.to(QueueGrantExpiring)) != 1 {
		t.Errorf("after redelivery: %d cards, %d mails, %d comments, %d scheduled; want 1, 2, 1, 1 (only Teams done again)",
			f.notes.count("", access.ChannelTeams), f.notes.count("", access.ChannelMail), f.notes.count("", access.ChannelTicket), len(f.pub.to(QueueGrantExpiring)))
	}
	if un := f.store.allUnsent(); len(un) != 0 {
		t.Errorf("outbox: got %+v unsent, want none", un)
	}
}

// A concurrent writer changes the grant between this delivery's read and
// its commit: the commit loses, the event is decided again against the
// grant as it is now, and succeeds.
func TestLostETagRaceDecidesAgain(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	f.clock.Set(g.ExpiresAt.Add(-7 * access.Day))
	const second = "second@contoso.example"
	f.store.interfere = func(s *fakeStore) {
		sg := s.grants[pk{customer, g.ID}]
		sg.g.CustomerContacts = append(sg.g.CustomerContacts, second)
		sg.version = s.nextETag()
	}
	commits := f.store.count("Commit")
	if out, err := f.svc.Expiring(f.ctx, expiring(g, 7, g.ExpiresAt)); err != nil || out != Processed {
		t.Fatalf("notice: got %q, %v; want processed", out, err)
	}
	if n := f.store.count("Commit") - commits; n != 2 {
		t.Errorf("commits tried: got %d, want 2 (one lost, one won)", n)
	}
	got := f.store.grant(t, customer, g.ID)
	if !slices.Equal(got.NoticesSent, []int{7}) || !slices.Contains(got.CustomerContacts, second) {
		t.Fatalf("grant: notices %v, contacts %v; want the notice recorded on the grant the other writer changed", got.NoticesSent, got.CustomerContacts)
	}
	cm := f.notes.to(access.AudienceCustomer, access.ChannelMail)
	if last := cm[len(cm)-1]; !slices.Contains(last.To, second) {
		t.Errorf("customer mail to %v: want it decided on the grant as it is now, with %s", last.To, second)
	}
	if n := len(f.notes.all()); n != 8 {
		t.Errorf("notifications: got %d, want 8 (activation and one notice, each once)", n)
	}
}

func TestLosingEveryRaceGivesUpAsAConflict(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	f.clock.Set(g.ExpiresAt.Add(-7 * access.Day))
	var hit func(s *fakeStore)
	hit = func(s *fakeStore) {
		s.grants[pk{customer, g.ID}].version = s.nextETag()
		s.interfere = hit
	}
	f.store.interfere = hit
	commits := f.store.count("Commit")
	_, err := f.svc.Expiring(f.ctx, expiring(g, 7, g.ExpiresAt))
	wantKind(t, "always losing", err, access.KindConflict)
	if n := f.store.count("Commit") - commits; n != maxAttempts {
		t.Errorf("commits tried: got %d, want %d", n, maxAttempts)
	}
	f.store.mu.Lock()
	f.store.interfere = nil
	f.store.mu.Unlock()
	if got := f.store.grant(t, customer, g.ID); len(got.NoticesSent) != 0 {
		t.Errorf("NoticesSent: got %v, want none recorded", got.NoticesSent)
	}
}

// A delivery that finds its event applied leaves the entries another
// sender holds to it while that sender's claim runs.
func TestDuplicateLeavesALiveClaimToItsSender(t *testing.T) {
	f := newFixture(t)
	f.store.markErr = access.Errorf(access.KindTransient, "storage throttled")
	msg := GuestInvited{InvitationSent: invitation("ev-held")}
	_, err := f.svc.ActivateGuest(f.ctx, msg)
	wantKind(t, "first delivery that cannot record what it sent", err, access.KindTransient)
	held := f.store.allUnsent()
	if len(held) != 5 {
		t.Fatalf("outbox: got %d unsent, want the 4 notifications and the schedule, still claimed", len(held))
	}
	for _, e := range held {
		if !e.ClaimedUntil.After(f.clock.Now()) {
			t.Fatalf("entry %s: claimed until %v, want a live claim", e.ID, e.ClaimedUntil)
		}
	}
	notified := len(f.notes.all())
	f.store.clearFaults()

	claims := f.store.count("Claim")
	done := f.redeliver(msg, Duplicate)
	// Once the redelivery has found the entries claimed, their sender
	// records them sent.
	waitFor(func() bool { return f.store.count("Claim") >= claims+len(held) })
	if err := f.store.MarkAllSent(f.ctx, held); err != nil {
		t.Fatal(err)
	}
	wantDone(t, done, "finish once the entries were sent")
	if n := len(f.notes.all()) - notified; n != 0 {
		t.Errorf("the redelivery sent %d notifications another sender held, want none", n)
	}
}

// A sender that dies holding a claim (its release failed too) leaves the
// entry to the redelivery once the claim lapses by the store's clock.
func TestDuplicateSendsWhatALapsedClaimLeft(t *testing.T) {
	f := newFixture(t)
	f.notes.failChannel(access.ChannelTeams, access.Errorf(access.KindTransient, "Teams down"))
	f.store.releaseErr = access.Errorf(access.KindTransient, "storage throttled")
	msg := GuestInvited{InvitationSent: invitation("ev-lapse")}
	_, err := f.svc.ActivateGuest(f.ctx, msg)
	wantKind(t, "first delivery", err, access.KindTransient)
	un := f.store.allUnsent()
	if len(un) != 1 || !un[0].ClaimedUntil.After(f.clock.Now()) {
		t.Fatalf("outbox: got %+v, want the Teams card unsent and still claimed", un)
	}
	f.notes.failChannel(access.ChannelTeams, nil)
	f.store.clearFaults()

	claims := f.store.count("Claim")
	done := f.redeliver(msg, "")
	waitFor(func() bool { return f.store.count("Claim") != claims })
	if f.notes.count("", access.ChannelTeams) != 0 {
		t.Fatalf("the redelivery sent an entry whose claim was live")
	}
	f.clock.Advance(claimFor + time.Second)
	wantDone(t, done, "send the entry once its claim lapsed")
	if n := f.notes.count("", access.ChannelTeams); n != 1 || f.notes.count("", access.ChannelMail) != 2 {
		t.Errorf("after the claim lapsed: %d cards and %d mails, want 1 and 2", n, f.notes.count("", access.ChannelMail))
	}
	if un := f.store.allUnsent(); len(un) != 0 {
		t.Errorf("outbox: got %+v unsent, want none", un)
	}
}

func TestScheduleOfAGrantThatEndedSinceDoesNothing(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	f.command(revoke("d-end", g.ID))
	ended := f.store.grant(t, customer, g.ID)
	sets, msgs := f.store.count("SetDue"), len(f.pub.to(QueueGrantExpiring))
	if err := f.svc.schedule(f.ctx, ended); err != nil {
		t.Fatal(err)
	}
	if f.store.count("SetDue") != sets || len(f.pub.to(QueueGrantExpiring)) != msgs {
		t.Errorf("scheduled the next action of a revoked grant")
	}
}
