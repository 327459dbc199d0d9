package lifecycle

import (
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestNextCheckBacksOffToHourly(t *testing.T) {
	since := t0
	var prev time.Time
	var gaps []time.Duration
	for now := since; now.Before(since.Add(6 * time.Hour)); {
		at := nextCheck(since, now)
		if !at.After(now) {
			t.Fatalf("nextCheck(%v) = %v, not after now", now, at)
		}
		if !prev.IsZero() {
			gaps = append(gaps, at.Sub(prev))
		}
		prev, now = at, at
	}
	if first := nextCheck(since, since); first.Sub(since) > 2*time.Minute {
		t.Errorf("first re-check after %s, want within 2 minutes", first.Sub(since))
	}
	for i, g := range gaps {
		if g > time.Hour || (i > 0 && g < gaps[i-1]) {
			t.Fatalf("gaps %v: want them growing, at most an hour", gaps)
		}
	}
	if gaps[len(gaps)-1] != time.Hour {
		t.Errorf("last gap %s, want hourly", gaps[len(gaps)-1])
	}
	// Two copies at the same moment pick the same checkpoint.
	if a, b := nextCheck(since, since.Add(5*time.Minute)), nextCheck(since, since.Add(5*time.Minute)); !a.Equal(b) {
		t.Errorf("nextCheck is not deterministic: %v, %v", a, b)
	}
}

// The sweep sends a deferred message again if its scheduled copy is lost,
// and forgets the entry.
func TestSweepResendsALostRecheck(t *testing.T) {
	f := newFixture(t)
	f.lateInvitation("ev-lost")
	due := f.store.dueEntries()
	if len(due) != 1 || due[0].Stage != access.StageRecheck || due[0].Message == nil {
		t.Fatalf("due index: %+v, want one re-check holding the message", due)
	}
	before := len(f.pub.to(QueueInvitationSent))
	f.clock.Set(due[0].Due.Add(time.Second))
	res, err := f.svc.Sweep(f.ctx)
	if err != nil || res.Rechecked != 1 {
		t.Fatalf("sweep: %+v, %v; want one re-check sent", res, err)
	}
	sent := f.pub.to(QueueInvitationSent)[before:]
	if len(sent) != 1 || sent[0].ID != due[0].Message.ID || string(sent[0].Body) != string(due[0].Message.Body) {
		t.Fatalf("sweep sent %+v, want the deferred message again", sent)
	}
	if left := f.store.dueEntries(); len(left) != 0 {
		t.Errorf("due index after the sweep: %+v, want the re-check forgotten", left)
	}
	// The guest appears: the message, as the sweep sent it, activates the
	// grant under the event's own id.
	f.guests.addUser(customer, access.User{ID: lateGuest, DisplayName: "Late analyst", Mail: guestMail, UserType: "Guest"})
	again := decode[InvitationSent](t, sent[0])
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: again})
	wantOutcome(t, "re-check", out, err, Processed)
	if _, seen, _ := f.store.Processed(f.ctx, customer, "ev-lost"); !seen {
		t.Errorf("ledger: the event ev-lost is not recorded")
	}
}
