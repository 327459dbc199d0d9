package lifecycle

import (
	"slices"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestSweepPublishesAGrantExpiringMessagePerDueEntry(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	exp := g.ExpiresAt

	// sweep runs the sweep and returns what it published.
	sweep := func(wantRead, wantPublished int) []access.Message {
		t.Helper()
		before := len(f.pub.to(QueueGrantExpiring))
		res, err := f.svc.Sweep(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Read != wantRead || res.Published != wantPublished || res.Drift != 0 {
			t.Fatalf("sweep at %v: got %+v, want %d read, %d published", f.clock.Now(), res, wantRead, wantPublished)
		}
		return f.pub.to(QueueGrantExpiring)[before:]
	}
	// Nothing is due yet.
	sweep(0, 0)

	// The app was down through the 30- and 7-day notices: the sweep finds
	// the 30-day one in the due index; once sent, it schedules the 7-day
	// one, already due, which the next sweep finds.
	f.clock.Set(exp.Add(-5 * access.Day))
	for _, stage := range []int{30, 7} {
		msgs := sweep(1, 1)
		m := decode[GrantExpiring](t, msgs[0])
		if want := ExpiringMessage(customer, g.ID, exp, stage, t0).EventID; msgs[0].ID != want || m.EventID != want {
			t.Errorf("message id %s: want the scheduled id %s", msgs[0].ID, want)
		}
		if m.stage() != stage || !m.ExpiresAt.Equal(exp) || m.GrantID != g.ID || !msgs[0].NotBefore.IsZero() || msgs[0].Properties["source"] != "sweep" {
			t.Errorf("published %+v (%+v), want the %d-day notice of %s, due now", msgs[0], m, stage, g.ID)
		}
		if out, err := f.svc.Expiring(f.ctx, m); err != nil || out != Processed {
			t.Fatalf("%d-day notice from the sweep: got %q, %v", stage, out, err)
		}
	}
	// The 1-day notice is not due yet: nothing left to do.
	sweep(0, 0)
	if got := f.store.grant(t, customer, g.ID); !slices.Equal(got.NoticesSent, []int{30, 7}) {
		t.Errorf("NoticesSent: got %v, want [30 7]", got.NoticesSent)
	}
}

func TestSweepRecordsGDAPDrift(t *testing.T) {
	newEnd := relEnd.Add(180 * access.Day)
	for _, tc := range []relationshipCase{
		{"terminated", func(f *fixture) {
			f.gdap.change(relID, func(r *access.Relationship) { r.Status = access.RelTerminated })
		}, access.StatusRevoked, relEnd, "terminated in Partner Center", true},
		{"termination requested", func(f *fixture) {
			f.gdap.change(relID, func(r *access.Relationship) { r.Status = access.RelTerminationReq })
		}, access.StatusRevoked, relEnd, "terminated in Partner Center", true},
		{"gone", func(f *fixture) { f.gdap.remove(relID) }, access.StatusRevoked, relEnd, "no longer exists", true},
		{"expired", func(f *fixture) {
			f.gdap.change(relID, func(r *access.Relationship) { r.Status = access.RelExpired })
		}, access.StatusExpired, relEnd, "expired in Partner Center", true},
		{"auto-extended", func(f *fixture) {
			f.gdap.change(relID, func(r *access.Relationship) { r.EndDateTime = newEnd; r.AutoExtendDuration = access.AutoExtendP180D })
		}, access.StatusActive, newEnd, "", true},
		{"unchanged", func(*fixture) {}, access.StatusActive, relEnd, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			g := f.activeGDAP()
			tc.change(f)
			f.clock.Set(relEnd.Add(-29 * access.Day)) // the 30-day notice is due
			before := len(f.pub.to(QueueGrantExpiring))
			res, err := f.svc.Sweep(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := SweepResult{Read: 1, Published: 1}
			if tc.drift {
				want = SweepResult{Read: 1, Drift: 1}
			}
			if res != want {
				t.Fatalf("sweep: got %+v, want %+v", res, want)
			}
			tc.wantGrant(t, f.store.grant(t, customer, g.ID), strings.Contains)
			if len(f.gdap.terminated) != 0 {
				t.Errorf("terminated %v: drift is recorded, not acted on in Partner Center", f.gdap.terminated)
			}
			entry := access.DueEntry{Due: relEnd.Add(-30 * access.Day), CustomerTenantID: customer, GrantID: g.ID, Stage: 30}
			if forgot := slices.Contains(f.store.deletedDue(), entry); forgot != tc.drift {
				t.Errorf("due entry forgotten: %v, want %v", forgot, tc.drift)
			}
			published := f.pub.to(QueueGrantExpiring)[before:]
			switch {
			case !tc.drift:
				if len(published) != 1 || decode[GrantExpiring](t, published[0]).stage() != 30 {
					t.Errorf("published: got %+v, want the 30-day notice", published)
				}
			case tc.wantStatus == access.StatusActive:
				// The extension schedules the new end's next action.
				if len(published) != 1 || !decode[GrantExpiring](t, published[0]).ExpiresAt.Equal(newEnd) {
					t.Errorf("published: got %+v, want the new end's next action", published)
				}
			default:
				if len(published) != 0 {
					t.Errorf("published %+v for a grant that ended, want nothing", published)
				}
			}
			// A second sweep records nothing twice.
			commits := f.store.commitCount()
			if _, err := f.svc.Sweep(f.ctx); err != nil {
				t.Fatal(err)
			}
			if tc.drift && f.store.commitCount() != commits {
				t.Errorf("second sweep wrote %d more commits, want none", f.store.commitCount()-commits)
			}
		})
	}
}

func TestSweepThatCannotPublishIsTransientAndKeepsTheIndex(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	f.clock.Set(g.ExpiresAt.Add(-29 * access.Day))
	f.pub.setFail(true)
	res, err := f.svc.Sweep(f.ctx)
	wantKind(t, "sweep with the queue down", err, access.KindTransient)
	if res.Read != 1 || res.Published != 0 {
		t.Errorf("sweep: got %+v, want 1 read, none published", res)
	}
	if due := f.store.dueEntries(); len(due) != 1 {
		t.Errorf("due index: got %+v, want the entry kept for the next sweep", due)
	}
}
