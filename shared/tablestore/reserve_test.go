package tablestore

import (
	"context"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestReserveThenSettle(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	customer := guid(t)
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	first, err := s.Reserve(ctx, access.Reservation{CustomerTenantID: customer, Key: "gdap/d-1", Name: "Security Copilot SEC-1 a1b2", At: at})
	if err != nil || first.Version == "" || first.Result != "" {
		t.Fatalf("first Reserve = %+v, %v; want the reservation recorded with a version and no result", first, err)
	}
	// A copy of the request, with another name: the first name stands.
	second, err := s.Reserve(ctx, access.Reservation{CustomerTenantID: customer, Key: "gdap/d-1", Name: "another name", At: at.Add(time.Minute)})
	if err != nil || second.Name != first.Name || second.Version != first.Version || !second.At.Equal(at) {
		t.Fatalf("second Reserve = %+v, %v; want the first reservation %+v", second, err, first)
	}
	first.Result = "rel-1"
	if err := s.Settle(ctx, first); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	// A stale version cannot settle again.
	first.Result = "rel-2"
	if err := s.Settle(ctx, first); !access.IsKind(err, access.KindConflict) {
		t.Errorf("Settle with a stale version = %v, want KindConflict", err)
	}
	again, err := s.Reserve(ctx, access.Reservation{CustomerTenantID: customer, Key: "gdap/d-1", Name: "x"})
	if err != nil || again.Result != "rel-1" {
		t.Errorf("Reserve after Settle = %+v, %v; want result rel-1", again, err)
	}
	// Another customer's reservation of the same key is its own.
	other, err := s.Reserve(ctx, access.Reservation{CustomerTenantID: guid(t), Key: "gdap/d-1", Name: "y"})
	if err != nil || other.Name != "y" || other.Result != "" {
		t.Errorf("Reserve for another customer = %+v, %v; want a new reservation", other, err)
	}
	// Reservations are not grants.
	list, _, err := s.List(ctx, access.GrantQuery{CustomerTenantID: customer})
	if err != nil || len(list) != 0 {
		t.Errorf("List = %d grants, %v; want none", len(list), err)
	}
}

func TestLedgerKeepsTheReply(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	customer := guid(t)
	g := grantOf(customer, "gdap:"+guid(t))
	reply := &access.Reply{GrantID: g.ID, Status: "pending", ApprovalURL: "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/x"}
	commit(t, s, access.Change{Grant: g, EventID: "ticket-d-1", Outcome: "processed", Reply: reply})
	commit(t, s, access.Change{Grant: access.Grant{CustomerTenantID: customer}, EventID: "ev-2", Outcome: "processed"})
	l, ok, err := s.Processed(ctx, customer, "ticket-d-1")
	if err != nil || !ok || l.Outcome != "processed" || l.Reply == nil || *l.Reply != *reply {
		t.Errorf("Processed = %+v (reply %+v), %v, %v; want outcome processed and reply %+v", l, l.Reply, ok, err, *reply)
	}
	if l, _, err := s.Processed(ctx, customer, "ev-2"); err != nil || l.Reply != nil {
		t.Errorf("Processed of an event without a reply = %+v, %v; want no reply", l, err)
	}
}
