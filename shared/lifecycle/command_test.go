package lifecycle

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func revoke(delivery, grantID string) Command {
	return Command{DeliveryID: delivery, Action: ActionRevoke, Ticket: ticket, CustomerTenantID: customer, PartnerTenantID: partner, GrantID: grantID}
}

func extend(delivery, grantID string, days int) Command {
	return Command{DeliveryID: delivery, Action: ActionExtend, Ticket: ticket, CustomerTenantID: customer, PartnerTenantID: partner,
		GrantID: grantID, DurationDays: days}
}

func TestRevokeB2BRemovesExactlyTheRolesTheGrantGave(t *testing.T) {
	f := newFixture(t)
	// The customer gave the guest Security Reader itself; the grant gives
	// Security Operator.
	f.guests.giveRole(customer, "customers-own", guestID, access.SecurityReaderID)
	g := f.activeGuest()
	if got := f.guests.rolesOf(customer, guestID); len(got) != 2 {
		t.Fatalf("roles before revoke: got %v, want both", got)
	}
	notified := len(f.notes.all())

	res := f.command(revoke("d-rv", g.ID))
	if want := (access.Reply{GrantID: g.ID, Status: "revoked"}); res.Reply != want || res.Replayed {
		t.Fatalf("reply: got %+v, want %+v", res, want)
	}
	if got := f.guests.rolesOf(customer, guestID); !slices.Equal(got, []string{access.SecurityReaderID}) {
		t.Errorf("roles after revoke: got %v, want the customer's own Security Reader kept", got)
	}
	if len(f.guests.removed) != 1 || f.guests.removed[0] == "customers-own" {
		t.Errorf("removed assignments: got %v, want only the grant's", f.guests.removed)
	}
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusRevoked || got.Reason != "revoked on request" {
		t.Fatalf("grant: got %s (%q), want revoked on request", got.Status, got.Reason)
	}
	actions := f.store.actions(customer, g.ID)
	if n := len(actions); n < 2 || actions[n-2] != "graph:remove-role" || actions[n-1] != "revoke" {
		t.Errorf("audit: got %v, want the role removal, then the revocation", actions)
	}
	if n := len(f.notes.all()) - notified; n != 4 {
		t.Errorf("notifications of the revocation: got %d, want 4 (partner and customer mail, Teams, ticket)", n)
	}
	for _, n := range f.notes.all()[notified:] {
		if !strings.Contains(n.Subject, "was revoked") {
			t.Errorf("%s by %s: subject %q, want it to say revoked", n.Audience, n.Channel, n.Subject)
		}
	}

	// Revoked is final.
	_, err := f.svc.TicketCommand(f.ctx, revoke("d-rv2", g.ID))
	wantKind(t, "revoke again", err, access.KindConflict)
}

func TestRevokeGDAPTerminatesTheRelationship(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before        func(f *fixture)
		wantTerminate bool
	}{
		{"active relationship", func(*fixture) {}, true},
		{"terminated already", func(f *fixture) {
			f.gdap.change(relID, func(r *access.Relationship) { r.Status = access.RelTerminated })
		}, false},
		{"gone from Graph", func(f *fixture) { f.gdap.remove(relID) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			g := f.activeGDAP()
			tc.before(f)
			res, err := f.svc.TicketCommand(f.ctx, revoke("d-rg", g.ID))
			if err != nil || res.Reply.Status != "revoked" {
				t.Fatalf("revoke: got %+v, %v", res, err)
			}
			if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusRevoked {
				t.Fatalf("grant: got %s, want revoked", got.Status)
			}
			terminated := slices.Equal(f.gdap.terminated, []string{relID})
			if terminated != tc.wantTerminate || (!tc.wantTerminate && len(f.gdap.terminated) != 0) {
				t.Errorf("terminated: got %v, want termination %v", f.gdap.terminated, tc.wantTerminate)
			}
			if tc.wantTerminate {
				rel, _ := f.gdap.Relationship(f.ctx, partner, relID)
				if rel.Status != access.RelTerminationReq {
					t.Errorf("relationship: got %s, want terminationRequested", rel.Status)
				}
			}
			if got := contains(f.store.actions(customer, g.ID), "graph:terminate-relationship"); got != tc.wantTerminate {
				t.Errorf("audit %v: termination named %v, want %v", f.store.actions(customer, g.ID), got, tc.wantTerminate)
			}
		})
	}
}

func TestRevokeOfAnUnknownGrantIsNotFound(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.TicketCommand(f.ctx, revoke("d-nf", "b2b:"+guestID))
	wantKind(t, "revoke", err, access.KindNotFound)
	if f.store.commitCount() != 0 {
		t.Errorf("commits: got %d, want none", f.store.commitCount())
	}
}

func TestExtendMovesTheEndWithinPolicyAndReschedules(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	f.clock.Set(t0.Add(10 * access.Day))
	scheduled := len(f.pub.to(QueueGrantExpiring))

	res := f.command(extend("d-ex", g.ID, 60))
	newEnd := t0.Add(70 * access.Day)
	if want := (access.Reply{GrantID: g.ID, Status: "active", ExpiresAt: newEnd.Format(time.RFC3339)}); res.Reply != want {
		t.Fatalf("reply: got %+v, want %+v", res.Reply, want)
	}
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusActive || !got.ExpiresAt.Equal(newEnd) {
		t.Fatalf("grant: got %s until %v, want active until %v", got.Status, got.ExpiresAt, newEnd)
	}
	if actions := f.store.actions(customer, g.ID); actions[len(actions)-1] != "extend" {
		t.Errorf("audit: got %v, want the extension last", actions)
	}
	// Rescheduled: the extension's outbox holds a schedule entry, carried
	// out (due entry and message for the new end).
	var kinds []access.OutboxKind
	for _, e := range f.store.commits[len(f.store.commits)-1].Outbox {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Contains(kinds, access.OutboxSchedule) {
		t.Errorf("extension outbox: got kinds %v, want a schedule entry", kinds)
	}
	sched := f.pub.to(QueueGrantExpiring)[scheduled:]
	if len(sched) != 1 {
		t.Fatalf("scheduled after the extension: got %d messages, want 1", len(sched))
	}
	m := decode[GrantExpiring](t, sched[0])
	if !m.ExpiresAt.Equal(newEnd) || m.stage() != 30 || !sched[0].NotBefore.Equal(newEnd.Add(-30*access.Day)) {
		t.Errorf("scheduled: stage %d until %v due %v, want the 30-day notice of the new end", m.stage(), m.ExpiresAt, sched[0].NotBefore)
	}
	found := false
	for _, d := range f.store.dueEntries() {
		found = found || (d.Stage == 30 && d.Due.Equal(newEnd.Add(-30*access.Day)))
	}
	if !found {
		t.Errorf("due index: got %+v, want the 30-day notice of the new end", f.store.dueEntries())
	}
	if n := len(f.notes.to(access.AudiencePartner, access.ChannelMail)); n != 2 {
		t.Errorf("partner mails: got %d, want the activation and the extension", n)
	}

	// Beyond the cap: refused, nothing changes.
	commits := f.store.commitCount()
	_, err := f.svc.TicketCommand(f.ctx, extend("d-ex2", g.ID, 400))
	wantKind(t, "extend over the cap", err, access.KindRefused)
	if f.store.commitCount() != commits || !f.store.grant(t, customer, g.ID).ExpiresAt.Equal(newEnd) {
		t.Errorf("a refused extension changed the grant")
	}
}

func TestExtendRefusals(t *testing.T) {
	t.Run("gdap", func(t *testing.T) {
		f := newFixture(t)
		g := f.activeGDAP()
		commits := f.store.commitCount()
		_, err := f.svc.TicketCommand(f.ctx, extend("d-eg", g.ID, 30))
		wantKind(t, "extend a GDAP grant", err, access.KindRefused)
		if f.store.commitCount() != commits || !f.store.grant(t, customer, g.ID).ExpiresAt.Equal(relEnd) {
			t.Errorf("a refused extension changed the grant")
		}
	})
	t.Run("requested grant", func(t *testing.T) {
		f := newFixture(t)
		res := f.command(requestB2B("d-rq"))
		_, err := f.svc.TicketCommand(f.ctx, extend("d-eq", res.Reply.GrantID, 30))
		wantKind(t, "extend a requested grant", err, access.KindConflict)
	})
	t.Run("unknown grant", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.svc.TicketCommand(f.ctx, extend("d-en", "b2b:"+guestID, 30))
		wantKind(t, "extend an unknown grant", err, access.KindNotFound)
	})
}
