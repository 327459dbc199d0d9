package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestExpiringSendsEachNoticeStageOnce(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	exp := g.ExpiresAt
	for i, tc := range []struct{ stage, next int }{{30, 7}, {7, 1}, {1, 0}} {
		f.clock.Set(exp.Add(-time.Duration(tc.stage) * access.Day))
		notified, scheduled := len(f.notes.all()), len(f.pub.to(QueueGrantExpiring))
		m := expiring(g, tc.stage, exp)
		if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Processed {
			t.Fatalf("%d-day notice: got %q, %v; want processed", tc.stage, out, err)
		}
		if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Duplicate {
			t.Fatalf("%d-day notice again: got %q, %v; want duplicate", tc.stage, out, err)
		}
		got := f.store.grant(t, customer, g.ID)
		if want := []int{30, 7, 1}[:i+1]; !slices.Equal(got.NoticesSent, want) || got.Status != access.StatusActive {
			t.Fatalf("after the %d-day notice: %s with NoticesSent %v, want active with %v", tc.stage, got.Status, got.NoticesSent, want)
		}
		news := f.notes.all()[notified:]
		if len(news) != 4 {
			t.Fatalf("%d-day notice: got %d notifications, want 4, once", tc.stage, len(news))
		}
		wantSubject := fmt.Sprintf("ends in %d day", tc.stage)
		for _, n := range news {
			if !strings.Contains(n.Subject, wantSubject) {
				t.Errorf("%d-day notice to %s by %s: subject %q, want %q", tc.stage, n.Audience, n.Channel, n.Subject, wantSubject)
			}
		}
		// Each action schedules the one after it, once.
		sched := f.pub.to(QueueGrantExpiring)[scheduled:]
		if len(sched) != 1 || decode[GrantExpiring](t, sched[0]).stage() != tc.next {
			t.Fatalf("after the %d-day notice: scheduled %+v, want the %d-day action", tc.stage, sched, tc.next)
		}
		done := access.DueEntry{Due: exp.Add(-time.Duration(tc.stage) * access.Day), CustomerTenantID: customer, GrantID: g.ID, Stage: tc.stage}
		if !slices.Contains(f.store.deletedDue(), done) {
			t.Errorf("due entries forgotten: got %+v, want the %d-day one done", f.store.deletedDue(), tc.stage)
		}
	}
	due := f.store.dueEntries()
	if len(due) != 1 || due[0].Stage != 0 || !due[0].Due.Equal(exp) {
		t.Errorf("due index: got %+v, want only the expiry", due)
	}
}

func TestExpiringStaleNotices(t *testing.T) {
	t.Run("another expiry", func(t *testing.T) {
		f := newFixture(t)
		g := f.activeGuest()
		f.clock.Set(g.ExpiresAt.Add(-access.Day))
		before := f.snapshot()
		old := g.ExpiresAt.Add(-access.Day)
		out, err := f.svc.Expiring(f.ctx, expiring(g, 1, old))
		wantOutcome(t, "the notice of the old end", out, err, Stale)
		if after := f.snapshot(); after != before {
			t.Errorf("a stale notice changed the world: before %+v, after %+v", before, after)
		}
		if got := f.store.grant(t, customer, g.ID); len(got.NoticesSent) != 0 {
			t.Errorf("NoticesSent: got %v, want none", got.NoticesSent)
		}
		want := access.DueEntry{Due: old.Add(-access.Day), CustomerTenantID: customer, GrantID: g.ID, Stage: 1}
		if !slices.Contains(f.store.deletedDue(), want) {
			t.Errorf("due entries forgotten: got %+v, want the stale one %+v", f.store.deletedDue(), want)
		}
	})
	t.Run("grant ended", func(t *testing.T) {
		f := newFixture(t)
		g := f.activeGuest()
		f.command(revoke("d-x", g.ID))
		f.clock.Set(g.ExpiresAt.Add(time.Second))
		before := f.snapshot()
		if out, err := f.svc.Expiring(f.ctx, expiring(g, 0, g.ExpiresAt)); err != nil || out != Stale {
			t.Fatalf("expiry of a revoked grant: got %q, %v; want stale", out, err)
		}
		if after := f.snapshot(); after != before {
			t.Errorf("a stale expiry changed the world: before %+v, after %+v", before, after)
		}
	})
	t.Run("unknown grant", func(t *testing.T) {
		f := newFixture(t)
		g := access.Grant{ID: "b2b:" + guestID, CustomerTenantID: customer}
		_, err := f.svc.Expiring(f.ctx, expiring(g, 7, t0.Add(7*access.Day)))
		wantKind(t, "notice of an unknown grant", err, access.KindNotFound)
		if len(f.store.deletedDue()) != 1 {
			t.Errorf("due entries forgotten: got %+v, want the orphan one", f.store.deletedDue())
		}
	})
}

func TestExpiryRemovesAccessAndMarksExpired(t *testing.T) {
	f := newFixture(t)
	f.guests.giveRole(customer, "customers-own", guestID, access.SecurityReaderID)
	g := f.activeGuest() // grants Security Operator only
	notified := len(f.notes.all())
	f.clock.Set(g.ExpiresAt.Add(time.Second))
	m := expiring(g, 0, g.ExpiresAt)
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Processed {
		t.Fatalf("expiry: got %q, %v; want processed", out, err)
	}
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusExpired || got.Reason != "the grant reached its end date" {
		t.Fatalf("grant: got %s (%q), want expired at its end date", got.Status, got.Reason)
	}
	if roles := f.guests.rolesOf(customer, guestID); !slices.Equal(roles, []string{access.SecurityReaderID}) {
		t.Fatalf("roles after expiry: got %v, want the customer's own Security Reader kept", roles)
	}
	actions := f.store.actions(customer, g.ID)
	if n := len(actions); n < 2 || actions[n-2] != "graph:remove-role" || actions[n-1] != "expire" {
		t.Errorf("audit: got %v, want the role removal, then the expiry last", actions)
	}
	news := f.notes.all()[notified:]
	if len(news) != 4 || !strings.Contains(news[0].Subject, "expired") {
		t.Errorf("notifications: got %+v, want 4 saying it expired", news)
	}
	if want := (access.DueEntry{Due: g.ExpiresAt, CustomerTenantID: customer, GrantID: g.ID}); !slices.Contains(f.store.deletedDue(), want) {
		t.Errorf("due entries forgotten: got %+v, want the expiry", f.store.deletedDue())
	}
	before := f.snapshot()
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Duplicate {
		t.Fatalf("expiry again: got %q, %v; want duplicate", out, err)
	}
	if after := f.snapshot(); after != before {
		t.Errorf("a repeated expiry changed the world: before %+v, after %+v", before, after)
	}
}

func TestEarlyExpiryIsRepublishedForItsTime(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	f.clock.Set(g.ExpiresAt.Add(-time.Hour))
	commits := f.store.commitCount()
	m := expiring(g, 0, g.ExpiresAt)
	out, err := f.svc.Expiring(f.ctx, m)
	wantOutcome(t, "early expiry", out, err, Stale)
	f.wantUntouched("early expiry", g.ID, commits)
	last := f.lastScheduled()
	body := decode[GrantExpiring](t, last)
	if last.ID != m.EventID+"-deferred" || body.EventID != last.ID || !last.NotBefore.Equal(g.ExpiresAt) || body.stage() != 0 || !body.ExpiresAt.Equal(g.ExpiresAt) {
		t.Errorf("republished: got %s due %v (%+v), want %s-deferred due at the expiry", last.ID, last.NotBefore, body, m.EventID)
	}
	// Within the tolerance it is carried out.
	f.clock.Set(g.ExpiresAt.Add(-30 * time.Second))
	if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Processed {
		t.Fatalf("expiry 30 s early: got %q, %v; want processed", out, err)
	}
}

// relationshipCase is a change Partner Center makes to the relationship of
// an active GDAP grant, and what the grant becomes once the app sees it.
type relationshipCase struct {
	name       string
	change     func(f *fixture)
	wantStatus access.Status
	wantEnd    time.Time
	reason     string
	drift      bool // the sweep records it as drift
}

// wantGrant fails t unless got is as tc says, its reason matched by match.
func (tc relationshipCase) wantGrant(t *testing.T, got access.Grant, match func(got, want string) bool) {
	t.Helper()
	if got.Status != tc.wantStatus || !got.ExpiresAt.Equal(tc.wantEnd) || !match(got.Reason, tc.reason) {
		t.Fatalf("grant: got %s until %v (%q), want %s until %v (%q)", got.Status, got.ExpiresAt, got.Reason, tc.wantStatus, tc.wantEnd, tc.reason)
	}
}

func TestGDAPExpiry(t *testing.T) {
	newEnd := relEnd.Add(180 * access.Day)
	for _, tc := range []relationshipCase{
		{"auto-extended", func(f *fixture) {
			f.gdap.change(relID, func(r *access.Relationship) { r.EndDateTime = newEnd; r.AutoExtendDuration = access.AutoExtendP180D })
		}, access.StatusActive, newEnd, "", false},
		{"expired in Partner Center", func(f *fixture) {
			f.gdap.change(relID, func(r *access.Relationship) { r.Status = access.RelExpired })
		}, access.StatusExpired, relEnd, "the GDAP relationship ended (expired)", false},
		{"gone", func(f *fixture) { f.gdap.remove(relID) }, access.StatusExpired, relEnd, "the relationship no longer exists", false},
		{"still active, same end", func(*fixture) {}, access.StatusExpired, relEnd, "the GDAP relationship ended (active)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			g := f.activeGDAP()
			tc.change(f)
			f.clock.Set(relEnd.Add(time.Second))
			scheduled := len(f.pub.to(QueueGrantExpiring))
			if out, err := f.svc.Expiring(f.ctx, expiring(g, 0, g.ExpiresAt)); err != nil || out != Processed {
				t.Fatalf("expiry: got %q, %v; want processed", out, err)
			}
			tc.wantGrant(t, f.store.grant(t, customer, g.ID), func(got, want string) bool { return got == want })
			if len(f.gdap.terminated) != 0 {
				t.Errorf("terminated %v: an expiry leaves the relationship to Partner Center", f.gdap.terminated)
			}
			if tc.wantStatus == access.StatusActive {
				if aa := f.gdap.assignmentsOf(relID); len(aa) != 1 {
					t.Errorf("access assignments: got %d, want the one kept", len(aa))
				}
				sched := f.pub.to(QueueGrantExpiring)[scheduled:]
				if len(sched) != 1 || !decode[GrantExpiring](t, sched[0]).ExpiresAt.Equal(newEnd) {
					t.Errorf("scheduled: got %+v, want the next action of the new end", sched)
				}
			}
		})
	}
}

// Partner Center moves the end of an auto-extending relationship some
// time after the old end: the expiry waits for it, up to AutoExtendWait.
func TestGDAPExpiryWaitsForAutoExtend(t *testing.T) {
	f := newFixture(t)
	g := f.activeGDAP()
	f.gdap.change(relID, func(r *access.Relationship) { r.AutoExtendDuration = access.AutoExtendP180D })
	f.clock.Set(relEnd.Add(time.Second))
	m := expiring(g, 0, g.ExpiresAt)
	commits := f.store.commitCount()
	out, err := f.svc.Expiring(f.ctx, m)
	wantOutcome(t, "expiry before the auto-extension shows", out, err, Deferred)
	f.wantUntouched("expiry before the auto-extension shows", g.ID, commits)
	last := f.lastScheduled()
	if !strings.HasPrefix(last.ID, m.EventID+"~r") || !last.NotBefore.After(f.clock.Now()) || decode[GrantExpiring](t, last).stage() != 0 {
		t.Errorf("re-check: got %+v, want the expiry again for later", last)
	}

	// It extends: followed.
	newEnd := relEnd.Add(180 * access.Day)
	f.gdap.change(relID, func(r *access.Relationship) { r.EndDateTime = newEnd })
	f.clock.Set(last.NotBefore)
	if out, err := f.svc.Expiring(f.ctx, decode[GrantExpiring](t, last)); err != nil || out != Processed {
		t.Fatalf("re-check after the extension: got %q, %v; want processed", out, err)
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive || !got.ExpiresAt.Equal(newEnd) {
		t.Errorf("grant: got %s until %v, want active until %v", got.Status, got.ExpiresAt, newEnd)
	}
}

func TestGDAPExpiryGivesUpOnAutoExtendAfterTheWait(t *testing.T) {
	f := newFixture(t)
	g := f.activeGDAP()
	f.gdap.change(relID, func(r *access.Relationship) { r.AutoExtendDuration = access.AutoExtendP180D })
	f.clock.Set(relEnd.Add(AutoExtendWait + time.Second))
	if out, err := f.svc.Expiring(f.ctx, expiring(g, 0, g.ExpiresAt)); err != nil || out != Processed {
		t.Fatalf("expiry: got %q, %v; want processed", out, err)
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusExpired || !strings.Contains(got.Reason, "did not auto-extend") {
		t.Errorf("grant: got %s (%q), want expired: it did not auto-extend", got.Status, got.Reason)
	}
}

func TestLighthouseExpiryTellsTheCustomerToRemoveTheDelegation(t *testing.T) {
	f := newFixture(t)
	res := f.command(requestLighthouse("d-le"))
	g := f.store.grant(t, customer, res.Reply.GrantID)
	f.clock.Set(g.ExpiresAt.Add(time.Second))
	if out, err := f.svc.Expiring(f.ctx, expiring(g, 0, g.ExpiresAt)); err != nil || out != Processed {
		t.Fatalf("expiry: got %q, %v", out, err)
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusExpired {
		t.Fatalf("grant: got %s, want expired", got.Status)
	}
	cm := f.notes.to(access.AudienceCustomer, access.ChannelMail)
	if last := cm[len(cm)-1]; !strings.Contains(last.Text, "remove the delegation") {
		t.Errorf("customer mail: got %q, want the step to remove the delegation", last.Text)
	}
}
