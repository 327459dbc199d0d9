package access

import (
	"reflect"
	"testing"
	"time"
)

var (
	t0      = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	expires = t0.Add(90 * Day)
)

func grantIn(s Status) Grant {
	g := Grant{ID: "b2b:0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b", Method: B2B, Status: s, Roles: []string{SecurityOperatorID}}
	if s == StatusActive {
		g.ExpiresAt = expires
		g.PrincipalID = "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"
	}
	return g
}

func kinds(effs []Effect) []EffectKind {
	var out []EffectKind
	for _, e := range effs {
		out = append(out, e.Kind)
	}
	return out
}

// TestApplyLegal walks every legal move of the state machine.
func TestApplyLegal(t *testing.T) {
	cases := []struct {
		name    string
		from    Status
		ev      Event
		want    Status
		effects []EffectKind
	}{
		{"request new", StatusNew, Event{Type: EvRequest, Roles: []string{SecurityReaderID}}, StatusRequested, nil},
		{"await requested", StatusRequested, Event{Type: EvAwait, Reason: "approval link sent"}, StatusPending, []EffectKind{EffectNotify}},
		{"activate new", StatusNew, Event{Type: EvActivate, ExpiresAt: expires, PrincipalID: "p"}, StatusActive, []EffectKind{EffectSchedule, EffectNotify}},
		{"activate requested", StatusRequested, Event{Type: EvActivate, ExpiresAt: expires}, StatusActive, []EffectKind{EffectSchedule, EffectNotify}},
		{"activate pending", StatusPending, Event{Type: EvActivate, ExpiresAt: expires}, StatusActive, []EffectKind{EffectSchedule, EffectNotify}},
		{"refuse new", StatusNew, Event{Type: EvRefuse, Reason: "Global Administrator"}, StatusRefused, []EffectKind{EffectNotify}},
		{"refuse requested", StatusRequested, Event{Type: EvRefuse}, StatusRefused, []EffectKind{EffectNotify}},
		{"refuse pending", StatusPending, Event{Type: EvRefuse}, StatusRefused, []EffectKind{EffectNotify}},
		{"notice active", StatusActive, Event{Type: EvNotice, Stage: 30}, StatusActive, []EffectKind{EffectSchedule, EffectNotify}},
		{"notice pending", StatusPending, Event{Type: EvNotice, Stage: 7}, StatusPending, []EffectKind{EffectSchedule, EffectNotify}},
		{"extend active", StatusActive, Event{Type: EvExtend, ExpiresAt: expires.Add(30 * Day)}, StatusActive, []EffectKind{EffectSchedule, EffectNotify}},
		{"expire active", StatusActive, Event{Type: EvExpire}, StatusExpired, []EffectKind{EffectRemoveAccess, EffectNotify}},
		{"expire pending", StatusPending, Event{Type: EvExpire}, StatusExpired, []EffectKind{EffectRemoveAccess, EffectNotify}},
		{"revoke requested", StatusRequested, Event{Type: EvRevoke}, StatusRevoked, []EffectKind{EffectNotify}},
		{"revoke pending", StatusPending, Event{Type: EvRevoke}, StatusRevoked, []EffectKind{EffectRemoveAccess, EffectNotify}},
		{"revoke active", StatusActive, Event{Type: EvRevoke}, StatusRevoked, []EffectKind{EffectRemoveAccess, EffectNotify}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := grantIn(tc.from)
			got, effs, err := Apply(before, tc.ev, t0)
			if err != nil {
				t.Fatalf("Apply: got error %v, want none", err)
			}
			if got.Status != tc.want {
				t.Errorf("status: got %q, want %q", got.Status, tc.want)
			}
			if !reflect.DeepEqual(kinds(effs), tc.effects) {
				t.Errorf("effects: got %v, want %v", kinds(effs), tc.effects)
			}
			if !got.UpdatedAt.Equal(t0) {
				t.Errorf("UpdatedAt: got %v, want %v", got.UpdatedAt, t0)
			}
			if before.Status != tc.from {
				t.Errorf("input grant was modified: status %q", before.Status)
			}
		})
	}
}

// TestApplyIllegal refuses every event in every status it is not legal in.
func TestApplyIllegal(t *testing.T) {
	all := []Status{StatusNew, StatusRequested, StatusPending, StatusActive, StatusExpired, StatusRevoked, StatusRefused}
	events := []Event{
		{Type: EvRequest}, {Type: EvAwait}, {Type: EvActivate, ExpiresAt: expires}, {Type: EvRefuse},
		{Type: EvNotice, Stage: 7}, {Type: EvExtend, ExpiresAt: expires.Add(Day)}, {Type: EvExpire}, {Type: EvRevoke},
	}
	n := 0
	for _, ev := range events {
		for _, s := range all {
			if statusIn(s, transitions[ev.Type]) {
				continue
			}
			n++
			g := grantIn(s)
			got, effs, err := Apply(g, ev, t0)
			if KindOf(err) != KindConflict {
				t.Errorf("%s in %q: got error %v (kind %v), want a conflict", ev.Type, s, err, KindOf(err))
			}
			if effs != nil || !reflect.DeepEqual(got, g) {
				t.Errorf("%s in %q: got grant %+v effects %v, want the grant unchanged and no effects", ev.Type, s, got, effs)
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d illegal moves checked: the transition table looks too permissive", n)
	}
	for _, s := range []Status{StatusExpired, StatusRevoked, StatusRefused} {
		if !s.Final() {
			t.Errorf("%q: got Final false, want true", s)
		}
	}
}

func TestApplyDetails(t *testing.T) {
	t.Run("activate in the past is invalid", func(t *testing.T) {
		_, _, err := Apply(grantIn(StatusNew), Event{Type: EvActivate, ExpiresAt: t0}, t0)
		if KindOf(err) != KindInvalid {
			t.Fatalf("got %v, want invalid", err)
		}
	})
	t.Run("a notice is recorded once", func(t *testing.T) {
		g, _, err := Apply(grantIn(StatusActive), Event{Type: EvNotice, Stage: 7}, t0)
		if err != nil {
			t.Fatal(err)
		}
		g, _, _ = Apply(g, Event{Type: EvNotice, Stage: 30}, t0)
		if !reflect.DeepEqual(g.NoticesSent, []int{30, 7}) {
			t.Fatalf("NoticesSent: got %v, want [30 7]", g.NoticesSent)
		}
		_, _, err = Apply(g, Event{Type: EvNotice, Stage: 7}, t0)
		if KindOf(err) != KindConflict {
			t.Fatalf("second 7-day notice: got %v, want conflict", err)
		}
	})
	t.Run("extend re-arms notices that lie ahead again", func(t *testing.T) {
		g := grantIn(StatusActive)
		g.ExpiresAt = t0.Add(5 * Day)
		g.NoticesSent = []int{30, 7}
		got, _, err := Apply(g, Event{Type: EvExtend, ExpiresAt: t0.Add(20 * Day)}, t0)
		if err != nil {
			t.Fatal(err)
		}
		// 30-day stage of the new expiry is already past: stays sent; the 7-day one is ahead again.
		if !reflect.DeepEqual(got.NoticesSent, []int{30}) {
			t.Fatalf("NoticesSent: got %v, want [30]", got.NoticesSent)
		}
	})
	t.Run("extend to the same expiry is a conflict", func(t *testing.T) {
		_, _, err := Apply(grantIn(StatusActive), Event{Type: EvExtend, ExpiresAt: expires}, t0)
		if KindOf(err) != KindConflict {
			t.Fatalf("got %v, want conflict", err)
		}
	})
	t.Run("unknown event", func(t *testing.T) {
		_, _, err := Apply(grantIn(StatusActive), Event{Type: "explode"}, t0)
		if KindOf(err) != KindInvalid {
			t.Fatalf("got %v, want invalid", err)
		}
	})
	t.Run("notice effect carries the stage", func(t *testing.T) {
		_, effs, _ := Apply(grantIn(StatusActive), Event{Type: EvNotice, Stage: 1}, t0)
		if len(effs) != 2 || effs[0].Kind != EffectSchedule || effs[1].Stage != 1 || effs[1].Topic != EvNotice {
			t.Fatalf("effects: got %+v, want the next action scheduled and one notify of stage 1", effs)
		}
	})
	t.Run("audit line names roles and expiry", func(t *testing.T) {
		before := grantIn(StatusNew)
		after, _, _ := Apply(before, Event{Type: EvActivate, ExpiresAt: expires, PrincipalID: "guest-1", Actor: "servicenow INC1"}, t0)
		a := AuditFor(before, after, Event{Type: EvActivate, Actor: "servicenow INC1"}, t0)
		want := "active for guest-1 with roles Security Operator until 2027-02-25T08:00:00Z (by servicenow INC1)"
		if a.Detail != want || a.Action != "activate" {
			t.Fatalf("audit: got %q/%q, want activate/%q", a.Action, a.Detail, want)
		}
	})
}

// TestApplyWholeSeconds: a transition keeps its times in whole seconds,
// UTC, the precision the store keeps and the grants view shows, so that a
// grant-expiring message built from the view finds the grant's expiry equal.
func TestApplyWholeSeconds(t *testing.T) {
	zone := time.FixedZone("NZDT", 13*3600)
	now := t0.In(zone).Add(750 * time.Millisecond)
	until := expires.In(zone).Add(999 * time.Millisecond)
	shown := until.UTC().Format(time.RFC3339) // as the grants view writes it

	got, _, err := Apply(grantIn(StatusNew), Event{Type: EvActivate, ExpiresAt: until, PrincipalID: "p"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, tm := range map[string]time.Time{"ExpiresAt": got.ExpiresAt, "CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt} {
		if tm.Nanosecond() != 0 || tm.Location() != time.UTC {
			t.Errorf("%s = %v, want whole seconds in UTC", name, tm)
		}
	}
	if !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(expires) {
		t.Errorf("CreatedAt, ExpiresAt = %v, %v; want %v, %v", got.CreatedAt, got.ExpiresAt, t0, expires)
	}
	if fromView, _ := time.Parse(time.RFC3339, shown); !fromView.Equal(got.ExpiresAt) {
		t.Errorf("expiry shown as %s reads back as %v, the grant holds %v", shown, fromView, got.ExpiresAt)
	}
	// Moving the expiry within the same second is no change.
	if _, _, err := Apply(got, Event{Type: EvExtend, ExpiresAt: expires.Add(300 * time.Millisecond)}, now); !IsKind(err, KindConflict) {
		t.Errorf("extend within the same second = %v, want a conflict (no change)", err)
	}
	if a := AuditFor(grantIn(StatusNew), got, Event{Type: EvActivate}, now); !a.At.Equal(t0) || a.At.Nanosecond() != 0 {
		t.Errorf("audit At = %v, want %v", a.At, t0)
	}
	if z := WholeSeconds(time.Time{}); !z.IsZero() {
		t.Errorf("WholeSeconds(zero) = %v, want the zero time", z)
	}
}
