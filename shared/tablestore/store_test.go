package tablestore

// Tests against a real Azurite (internal/testenv). Each test gets its own
// tables through a unique prefix, so tests never see each other's rows.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// newStore returns a store on fresh tables, deleted when the test ends.
func newStore(t *testing.T) *Store {
	t.Helper()
	return newStoreWith(t, Options{})
}

func newStoreWith(t *testing.T, opts Options) *Store {
	t.Helper()
	opts.ConnectionString = testenv.Azurite(t).ConnectionString
	opts.TablePrefix = testenv.UniqueName(t, "t")
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		for _, c := range []*aztables.Client{s.grants, s.due, s.rejected} {
			if _, err := c.Delete(context.Background(), nil); err != nil {
				t.Logf("delete table: %v", err)
			}
		}
	})
	return s
}

// fixture is a fresh store and a grant of a new customer, not committed.
func fixture(t *testing.T) (*Store, context.Context, access.Grant) {
	t.Helper()
	return newStore(t), context.Background(), grantOf(guid(t), "b2b:"+guid(t))
}

func guid(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// grantOf is a small grant of a customer.
func grantOf(customer, id string) access.Grant {
	return access.Grant{
		ID: id, CustomerTenantID: customer, PartnerTenantID: "partner",
		Method: access.B2B, Status: access.StatusActive,
		Roles:     []string{"5d6b6bb7-de71-4623-b4af-96380a352509"},
		ExpiresAt: time.Date(2027, 2, 25, 8, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
	}
}

// commit commits c and returns the grant's version after it ("" for a
// change without a grant).
func commit(t *testing.T, s *Store, c access.Change) string {
	t.Helper()
	if err := s.Commit(context.Background(), c); err != nil {
		t.Fatalf("Commit %s: %v", describeChange(c), err)
	}
	if c.Grant.ID == "" {
		return ""
	}
	_, v, err := s.Grant(context.Background(), c.Grant.CustomerTenantID, c.Grant.ID)
	if err != nil || v == "" {
		t.Fatalf("grant after Commit %s: version %q, %v", describeChange(c), v, err)
	}
	return v
}

// snapshot returns every row of a customer's partition, RowKey to ETag: a
// failed commit must leave it exactly as it was.
func snapshot(t *testing.T, s *Store, customer string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	_, err := s.query(context.Background(), s.grants, buildFilter(cond{pPartitionKey, "eq", customerPartition(customer)}), func(r *row) error {
		rows[r.e.RowKey] = r.e.ETag
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", customer, err)
	}
	return rows
}

func countPrefix(rows map[string]string, prefix string) int {
	n := 0
	for k := range rows {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func TestStoreGrantRoundTrip(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	full := fullGrant()
	hostile := grantOf(full.CustomerTenantID, "b2b:we/ird#id?x\\y'z|w~%\u00e9\x01")
	tests := []struct {
		name string
		g    access.Grant
	}{
		{"every field", full},
		{"only ids", access.Grant{ID: "gdap:rel-1", CustomerTenantID: full.CustomerTenantID}},
		{"hostile id", hostile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := commit(t, s, access.Change{Grant: tt.g})
			got, gotV, err := s.Grant(ctx, tt.g.CustomerTenantID, tt.g.ID)
			if err != nil {
				t.Fatalf("Grant: %v", err)
			}
			if want := asStored(tt.g); !reflect.DeepEqual(got, want) {
				t.Errorf("Grant\n got %+v\nwant %+v", got, want)
			}
			if gotV != v {
				t.Errorf("Grant version = %q, want the version Commit returned, %q", gotV, v)
			}
			// Operators filter on GrantId and Status in Storage Explorer;
			// times must be real Edm.DateTime to compare in filters.
			raw, err := s.grants.GetEntity(ctx, customerPartition(tt.g.CustomerTenantID), grantRowKey(tt.g.ID), nil)
			if err != nil {
				t.Fatalf("GetEntity: %v", err)
			}
			var e aztables.EDMEntity
			if err := e.UnmarshalJSON(raw.Value); err != nil {
				t.Fatal(err)
			}
			if e.Properties["GrantId"] != tt.g.ID || e.Properties["Status"] != string(tt.g.Status) {
				t.Errorf("row properties GrantId=%v Status=%v, want %q and %q", e.Properties["GrantId"], e.Properties["Status"], tt.g.ID, tt.g.Status)
			}
			if !tt.g.ExpiresAt.IsZero() {
				if _, ok := e.Properties["ExpiresAt"].(aztables.EDMDateTime); !ok {
					t.Errorf("ExpiresAt is %T, want Edm.DateTime", e.Properties["ExpiresAt"])
				}
			}
		})
	}
	if _, _, err := s.Grant(ctx, full.CustomerTenantID, "b2b:absent"); !access.Match(access.E(access.KindNotFound, opGrant, access.Code("ResourceNotFound")), err) {
		t.Errorf("Grant of an absent grant = %+v (kind %v), want KindNotFound of op %s", err, access.KindOf(err), opGrant)
	}
}

func TestCommitInsertThenUpdate(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	g := grantOf(guid(t), "b2b:"+guid(t))

	v1 := commit(t, s, access.Change{Grant: g})
	g.Status, g.Reason = access.StatusRevoked, "ticket SEC-42"
	v2 := commit(t, s, access.Change{Grant: g, Version: v1})
	if v2 == v1 {
		t.Fatalf("update returned the old version %q", v2)
	}
	got, gotV, err := s.Grant(ctx, g.CustomerTenantID, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gotV != v2 || got.Status != access.StatusRevoked || got.Reason != "ticket SEC-42" {
		t.Errorf("after update: %s %q at %q, want revoked %q at %q", got.Status, got.Reason, gotV, "ticket SEC-42", v2)
	}

	g.Status = access.StatusActive
	if err := s.Commit(ctx, access.Change{Grant: g, Version: v1}); !access.Match(access.E(access.KindConflict, opCommit), err) {
		t.Errorf("update at the old version = %+v (kind %v), want KindConflict of op %s", err, access.KindOf(err), opCommit)
	}
	if err := s.Commit(ctx, access.Change{Grant: g}); !access.IsKind(err, access.KindConflict) {
		t.Errorf("insert of an existing grant = %v (kind %v), want KindConflict", err, access.KindOf(err))
	}
	if got, _, _ := s.Grant(ctx, g.CustomerTenantID, g.ID); got.Status != access.StatusRevoked {
		t.Errorf("after refused writes the grant is %s, want revoked", got.Status)
	}
}

// Two writers read the same version and commit at once: exactly one wins,
// the other gets KindConflict, and nothing of the loser is stored.
func TestConcurrentWritersOneWins(t *testing.T) {
	s, ctx, g := fixture(t)
	customer := g.CustomerTenantID
	commit(t, s, access.Change{Grant: g})

	for round := 0; round < 5; round++ {
		read, v, err := s.Grant(ctx, customer, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		changes := make([]access.Change, 2)
		for i := range changes {
			w := read
			w.Reason = fmt.Sprintf("round %d writer %d", round, i)
			ev := fmt.Sprintf("ev-%d-%d", round, i)
			changes[i] = access.Change{
				Grant: w, Version: v, EventID: ev, Outcome: "processed",
				Audit:  []access.AuditEntry{{At: time.Now(), Action: w.Reason}},
				Outbox: []access.OutboxEntry{notifyEntry(ev+"/0", access.Notification{Audience: access.AudiencePartner})},
			}
		}
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range changes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Commit(ctx, changes[i])
			}()
		}
		close(start)
		wg.Wait()

		var won, lost int
		switch {
		case errs[0] == nil && access.IsKind(errs[1], access.KindConflict):
			won, lost = 0, 1
		case errs[1] == nil && access.IsKind(errs[0], access.KindConflict):
			won, lost = 1, 0
		default:
			t.Fatalf("round %d: errors %v and %v, want one nil and one KindConflict", round, errs[0], errs[1])
		}
		got, _, err := s.Grant(ctx, customer, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Reason != changes[won].Grant.Reason {
			t.Errorf("round %d: grant reason %q, want the winner's %q", round, got.Reason, changes[won].Grant.Reason)
		}
		trail, err := s.Audit(ctx, customer, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range trail {
			if a.Action == changes[lost].Grant.Reason {
				t.Errorf("round %d: the loser's audit entry %q is stored", round, a.Action)
			}
		}
		if _, ok, _ := s.Processed(ctx, customer, changes[lost].EventID); ok {
			t.Errorf("round %d: the loser's event %s is in the ledger", round, changes[lost].EventID)
		}
		if _, ok, _ := s.Processed(ctx, customer, changes[won].EventID); !ok {
			t.Errorf("round %d: the winner's event %s is not in the ledger", round, changes[won].EventID)
		}
		if n, _ := s.Unsent(ctx, customer, changes[lost].EventID); len(n) != 0 {
			t.Errorf("round %d: the loser's outbox holds %d rows", round, len(n))
		}
	}
	trail, err := s.Audit(ctx, customer, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 5 {
		t.Errorf("audit trail has %d entries after 5 rounds, want 5 (one per winner)", len(trail))
	}
}

func TestSameEventTwice(t *testing.T) {
	s, ctx, g := fixture(t)
	customer := g.CustomerTenantID
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	first := access.Change{Grant: g, EventID: "ev-1", Outcome: "processed",
		Audit:  []access.AuditEntry{{At: at, Action: "granted"}},
		Outbox: []access.OutboxEntry{{ID: "ev-1/0"}}}
	v := commit(t, s, first)

	before := snapshot(t, s, customer)
	again := first
	again.Version = v
	again.Grant.Reason = "applied twice"
	again.Audit = []access.AuditEntry{{At: at.Add(time.Minute), Action: "granted again"}}
	again.Outbox = []access.OutboxEntry{{ID: "ev-1/other"}}
	err := s.Commit(ctx, again)
	if !access.IsKind(err, access.KindConflict) {
		t.Fatalf("second commit of ev-1 = %v (kind %v), want KindConflict", err, access.KindOf(err))
	}
	if !strings.Contains(err.Error(), "ledger row") {
		t.Errorf("error %q does not say the ledger row was refused", err)
	}
	after := snapshot(t, s, customer)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("rows after the refused commit\n got %v\nwant %v", after, before)
	}
	if n := countPrefix(after, kindEvent+sep); n != 1 {
		t.Errorf("ledger holds %d rows, want 1", n)
	}
	l, ok, err := s.Processed(ctx, customer, "ev-1")
	if err != nil || !ok || l.EventID != "ev-1" || l.GrantID != g.ID || l.Outcome != "processed" || l.At.IsZero() {
		t.Errorf("Processed(ev-1) = %+v, %v, %v; want the first commit's entry", l, ok, err)
	}
	if _, ok, err := s.Processed(ctx, customer, "ev-unseen"); ok || err != nil {
		t.Errorf("Processed(ev-unseen) = %v, %v; want false, nil", ok, err)
	}
}

// Whatever makes a commit fail, none of its rows is written.
func TestConflictWritesNothing(t *testing.T) {
	s, ctx, g := fixture(t)
	customer := g.CustomerTenantID
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	v1 := commit(t, s, access.Change{Grant: g, EventID: "ev-0", Audit: []access.AuditEntry{{At: at, Action: "requested"}}})
	g.Status = access.StatusPending
	v2 := commit(t, s, access.Change{Grant: g, Version: v1, EventID: "ev-00"})

	// failing builds a change that carries audit, ledger and outbox rows.
	failing := func(grant access.Grant, version, event string) access.Change {
		return access.Change{Grant: grant, Version: version, EventID: event, Outcome: "processed",
			Audit:  []access.AuditEntry{{At: at.Add(time.Hour), Action: "must not appear"}, {At: at.Add(2 * time.Hour), Action: "nor this"}},
			Outbox: []access.OutboxEntry{{ID: event + "/0"}, {ID: event + "/1"}}}
	}
	tests := []struct {
		name string
		c    access.Change
	}{
		{"stale version", failing(g, v1, "ev-a")},
		{"new grant that exists", failing(g, "", "ev-b")},
		{"event already in the ledger", failing(g, v2, "ev-0")},
		{"grant that vanished", failing(grantOf(customer, "b2b:gone"), v2, "ev-c")},
		{"no grant, event already in the ledger", access.Change{Grant: access.Grant{CustomerTenantID: customer}, EventID: "ev-00",
			Outbox: []access.OutboxEntry{{ID: "ev-00/9"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, s, customer)
			err := s.Commit(ctx, tt.c)
			if !access.IsKind(err, access.KindConflict) {
				t.Fatalf("Commit = %v (kind %v), want KindConflict", err, access.KindOf(err))
			}
			if after := snapshot(t, s, customer); !reflect.DeepEqual(after, before) {
				t.Errorf("rows after the refused commit\n got %v\nwant %v", after, before)
			}
		})
	}
	got, v, err := s.Grant(ctx, customer, g.ID)
	if err != nil || v != v2 || got.Status != access.StatusPending {
		t.Errorf("grant after refused commits: %s at %q, %v; want pending at %q", got.Status, v, err, v2)
	}
}

func TestCommitWithoutGrant(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	customer := guid(t)
	c := access.Change{Grant: access.Grant{CustomerTenantID: customer}, EventID: "ev-refused", Outcome: "refused",
		Outbox: []access.OutboxEntry{notifyEntry("ev-refused/0", access.Notification{Audience: access.AudienceTicket, Channel: access.ChannelTicket})}}
	if err := s.Commit(ctx, c); err != nil {
		t.Fatalf("Commit without a grant = %v, want nil", err)
	}
	l, ok, err := s.Processed(ctx, customer, "ev-refused")
	if err != nil || !ok || l.Outcome != "refused" || l.GrantID != "" {
		t.Errorf("Processed = %+v, %v, %v; want a refused entry with no grant", l, ok, err)
	}
	if n, err := s.Unsent(ctx, customer, "ev-refused"); err != nil || len(n) != 1 {
		t.Errorf("Unsent = %d rows, %v; want 1", len(n), err)
	}
	if rows := snapshot(t, s, customer); countPrefix(rows, kindGrant+sep) != 0 || countPrefix(rows, kindAudit+sep) != 0 {
		t.Errorf("rows %v: want no grant or audit row", rows)
	}
	if err := s.Commit(ctx, c); !access.IsKind(err, access.KindConflict) {
		t.Errorf("second commit = %v, want KindConflict", err)
	}
}

func TestCommitRefusesInvalidChange(t *testing.T) {
	s := newStore(t)
	g := grantOf(guid(t), "b2b:"+guid(t))
	audit := make([]access.AuditEntry, MaxBatch)
	for i := range audit {
		audit[i] = access.AuditEntry{At: time.Now(), Action: "x"}
	}
	err := s.Commit(context.Background(), access.Change{Grant: g, Audit: audit})
	if !access.IsKind(err, access.KindInvalid) {
		t.Errorf("Commit of %d rows = %v (kind %v), want KindInvalid", MaxBatch+1, err, access.KindOf(err))
	}
	if _, _, err := s.Grant(context.Background(), g.CustomerTenantID, g.ID); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("after the refused commit Grant = %v, want KindNotFound", err)
	}
}

func TestUnsentAndMarkSent(t *testing.T) {
	s, ctx, g := fixture(t)
	customer := g.CustomerTenantID
	event := `ev/1#?\'|~x` // event ids come from outside
	// Ids that sort differently from the order the Change lists them in.
	ids3 := func(n access.Notification, id string) access.Notification {
		n.ID, n.CustomerTenantID, n.GrantID, n.EventID = id, customer, g.ID, event
		return n
	}
	notes := []access.OutboxEntry{
		notifyEntry("n-b", ids3(access.Notification{Audience: access.AudiencePartner, Channel: access.ChannelMail, To: []string{"soc@fabrikam.example"},
			Subject: "Access granted", Text: "You can now use Security Copilot.", Link: "https://securitycopilot.microsoft.com/?tenantId=" + customer,
			Facts: map[string]string{"roles": "Security Reader"}}, "n-b")),
		notifyEntry("n-a", ids3(access.Notification{Audience: access.AudienceCustomer, Channel: access.ChannelTeams}, "n-a")),
		notifyEntry("n-c", ids3(access.Notification{Audience: access.AudienceTicket, Channel: access.ChannelTicket, Ticket: access.Ticket{System: "jira", ID: "SEC-42"}}, "n-c")),
		{ID: "n-p", Kind: access.OutboxPublish, Message: &access.Message{Queue: "grant-expiring", ID: "exp-7",
			Body: []byte(`{"noticeDays":7}`), NotBefore: time.Date(2027, 2, 18, 8, 0, 0, 0, time.UTC),
			Properties: map[string]any{"grantId": g.ID, "noticeDays": 7}}},
	}
	commit(t, s, access.Change{Grant: g, EventID: event, Outbox: notes})
	commit(t, s, access.Change{Grant: access.Grant{CustomerTenantID: customer}, EventID: "other", Outbox: []access.OutboxEntry{{ID: "n-a"}}})

	ids := func(ns []access.OutboxEntry) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}
	unsent, err := s.Unsent(ctx, customer, event)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(unsent), []string{"n-b", "n-a", "n-c", "n-p"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Unsent = %q, want %q (the Change's order)", got, want)
	}
	for i, want := range []access.OutboxEntry{notes[0], notes[3]} {
		got := unsent[3*i]
		if got.Version == "" {
			t.Errorf("Unsent[%d] has no Version, which Claim needs", 3*i)
		}
		want.CustomerTenantID, want.GrantID, want.EventID, want.Version = customer, g.ID, event, got.Version
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Unsent[%d]\n got %+v\nwant %+v", 3*i, got, want)
		}
	}

	sentAt := time.Date(2026, 11, 27, 8, 5, 0, 0, time.UTC)
	a := unsent[1]
	a.SentAt = sentAt
	for i := 0; i < 2; i++ { // marking twice is harmless
		if err := s.MarkAllSent(ctx, []access.OutboxEntry{a}); err != nil {
			t.Fatalf("MarkSent #%d: %v", i+1, err)
		}
	}
	unsent, err = s.Unsent(ctx, customer, event)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(unsent), []string{"n-b", "n-c", "n-p"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unsent after MarkSent(n-a) = %q, want %q", got, want)
	}
	raw, err := s.grants.GetEntity(ctx, customerPartition(customer), outboxRowKey(event, "n-a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := decodeRow(raw.Value)
	if n, _, err := outboxFromRow(r); err != nil || !n.Sent || !n.SentAt.Equal(sentAt) || n.Notification == nil || n.Notification.Audience != access.AudienceCustomer {
		t.Errorf("row of n-a = %+v, %v; want sent at %s with its other fields kept", n, err, sentAt)
	}

	missing := access.OutboxEntry{ID: "n-zzz", CustomerTenantID: customer, EventID: event}
	if err := s.MarkAllSent(ctx, []access.OutboxEntry{missing}); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("MarkSent of an unknown notification = %v (kind %v), want KindNotFound", err, access.KindOf(err))
	}
	if _, err := s.grants.GetEntity(ctx, customerPartition(customer), outboxRowKey(event, "n-zzz"), nil); err == nil {
		t.Errorf("MarkSent of an unknown notification created a row")
	}
	if err := s.MarkAllSent(ctx, []access.OutboxEntry{{ID: "n-b", CustomerTenantID: customer}}); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("MarkSent without an event id = %v, want KindInvalid", err)
	}

	if err := s.MarkAllSent(ctx, unsent); err != nil {
		t.Fatal(err)
	}
	if unsent, err := s.Unsent(ctx, customer, event); err != nil || len(unsent) != 0 {
		t.Errorf("Unsent after all sent = %q, %v; want none", ids(unsent), err)
	}
	if other, err := s.Unsent(ctx, customer, "other"); err != nil || !reflect.DeepEqual(ids(other), []string{"n-a"}) {
		t.Errorf("Unsent(other) = %q, %v; want [n-a] untouched", ids(other), err)
	}
}

func TestAuditTrailOrder(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	customer := guid(t)
	g := grantOf(customer, "b2b:1")
	neighbour := grantOf(customer, "b2b:10") // its id extends g's
	t1 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	t2, t3 := t1.Add(time.Minute), t1.Add(time.Hour)

	// Entries listed out of time order, and three commits sharing t3.
	v := commit(t, s, access.Change{Grant: g, Audit: []access.AuditEntry{
		{At: t3, Action: "c1", Detail: "first commit", Actor: "ticket SEC-42", EventID: "ev-1"}, {At: t1, Action: "a"}}})
	commit(t, s, access.Change{Grant: neighbour, Audit: []access.AuditEntry{{At: t2, Action: "neighbour"}}})
	v = commit(t, s, access.Change{Grant: g, Version: v, Audit: []access.AuditEntry{{At: t3, Action: "c2"}, {At: t2, Action: "b"}}})
	commit(t, s, access.Change{Grant: g, Version: v, Audit: []access.AuditEntry{{At: t3, Action: "c3"}, {At: t3, Action: "c4"}}})

	trail, got := auditOf(t, s, customer, g.ID)
	if want := []string{"a", "b", "c1", "c2", "c3", "c4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Audit = %q, want %q", got, want)
	}
	want := access.AuditEntry{At: t3, Action: "c1", Detail: "first commit", Actor: "ticket SEC-42", EventID: "ev-1"}
	if len(trail) > 2 && trail[2] != want {
		t.Errorf("Audit[2] = %+v, want %+v", trail[2], want)
	}
	if trail, err := s.Audit(ctx, customer, "b2b:none"); err != nil || len(trail) != 0 {
		t.Errorf("Audit of a grant without entries = %v, %v; want none", trail, err)
	}
}

// auditOf reads a grant's audit trail and lists its actions.
func auditOf(t *testing.T, s *Store, customer, grantID string) ([]access.AuditEntry, []string) {
	t.Helper()
	trail, err := s.Audit(context.Background(), customer, grantID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range trail {
		actions = append(actions, a.Action)
	}
	return trail, actions
}

// TestAuditOfOneChangeInOrder: audit entries of one Change that fall in
// one second (a use case stamps them all with its one "now") come back in
// the order the Change lists them, whatever their sub-second digits, which
// the store does not keep.
func TestAuditOfOneChangeInOrder(t *testing.T) {
	s, _, g := fixture(t)
	customer := g.CustomerTenantID
	sec := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	commit(t, s, access.Change{Grant: g, EventID: "ev-1", Audit: []access.AuditEntry{
		{At: sec.Add(900 * time.Millisecond), Action: "graph:invite"},
		{At: sec, Action: "request"},
		{At: sec.Add(100 * time.Millisecond), Action: "graph:assign-role"},
		{At: sec.Add(500 * time.Millisecond), Action: "activate"},
	}})
	trail, got := auditOf(t, s, customer, g.ID)
	for _, a := range trail {
		if !a.At.Equal(sec) {
			t.Errorf("%s at %v, want %v: audit times are whole seconds", a.Action, a.At, sec)
		}
	}
	if want := []string{"graph:invite", "request", "graph:assign-role", "activate"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Audit = %q, want %q (the order written)", got, want)
	}
}

// TestTimesInWholeSeconds: every time of a grant, its audit, ledger,
// outbox and due rows is stored in whole seconds, UTC, so that it compares
// equal to the same time shown in RFC 3339 without a fraction.
func TestTimesInWholeSeconds(t *testing.T) {
	zone := time.FixedZone("NZDT", 13*3600)
	sec := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	frac := func(d time.Duration) time.Time { return sec.Add(d).In(zone).Add(123456700 * time.Nanosecond) }
	s := newStoreWith(t, Options{Now: func() time.Time { return frac(0) }})
	ctx := context.Background()
	customer := guid(t)
	g := grantOf(customer, "b2b:"+guid(t))
	g.ExpiresAt, g.CreatedAt, g.UpdatedAt = frac(90*access.Day), frac(0), frac(time.Minute)
	commit(t, s, access.Change{Grant: g, EventID: "ev-1",
		Audit:  []access.AuditEntry{{At: frac(time.Minute), Action: "activate"}},
		Outbox: []access.OutboxEntry{{ID: "ev-1/0", Kind: access.OutboxSchedule, ClaimedUntil: frac(2 * time.Minute)}}})
	if err := s.SetDue(ctx, access.DueEntry{Due: frac(83 * access.Day), CustomerTenantID: customer, GrantID: g.ID, Stage: 7}); err != nil {
		t.Fatal(err)
	}

	got, _, err := s.Grant(ctx, customer, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := s.Audit(ctx, customer, g.ID)
	if err != nil || len(trail) != 1 {
		t.Fatalf("Audit = %v, %v; want one entry", trail, err)
	}
	l, _, err := s.Processed(ctx, customer, "ev-1")
	if err != nil {
		t.Fatal(err)
	}
	unsent, err := s.Unsent(ctx, customer, "ev-1")
	if err != nil || len(unsent) != 1 {
		t.Fatalf("Unsent = %v, %v; want one row", unsent, err)
	}
	var due []access.DueEntry
	if _, err := s.DueUntil(ctx, sec.Add(100*access.Day), func(d access.DueEntry) error { due = append(due, d); return nil }); err != nil || len(due) != 1 {
		t.Fatalf("DueUntil = %v, %v; want one entry", due, err)
	}
	for name, tc := range map[string]struct{ got, want time.Time }{
		"ExpiresAt":    {got.ExpiresAt, sec.Add(90 * access.Day)},
		"CreatedAt":    {got.CreatedAt, sec},
		"UpdatedAt":    {got.UpdatedAt, sec.Add(time.Minute)},
		"audit At":     {trail[0].At, sec.Add(time.Minute)},
		"ledger At":    {l.At, sec},
		"ClaimedUntil": {unsent[0].ClaimedUntil, sec.Add(2 * time.Minute)},
		"Due":          {due[0].Due, sec.Add(83 * access.Day)},
	} {
		if !tc.got.Equal(tc.want) || tc.got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}
	// The grants view shows expiresAt without a fraction; a grant-expiring
	// message built from it carries the grant's expiry exactly.
	shown, _ := time.Parse(time.RFC3339, got.ExpiresAt.Format(time.RFC3339))
	if !shown.Equal(got.ExpiresAt) {
		t.Errorf("expiry shown as %s reads back as %v, the store holds %v", got.ExpiresAt.Format(time.RFC3339), shown, got.ExpiresAt)
	}
	if err := s.MarkAllSent(ctx, []access.OutboxEntry{{ID: "ev-1/0", EventID: "ev-1", CustomerTenantID: customer}}); err != nil {
		t.Fatal(err)
	}
	raw, err := s.grants.GetEntity(ctx, customerPartition(customer), outboxRowKey("ev-1", "ev-1/0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := decodeRow(raw.Value)
	if n, _, err := outboxFromRow(r); err != nil || !n.SentAt.Equal(sec) {
		t.Errorf("SentAt = %v, %v; want %v (the store's clock, in whole seconds)", n.SentAt, err, sec)
	}
}

func TestList(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	c1, c2 := guid(t), guid(t)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	statuses := []access.Status{access.StatusActive, access.StatusExpired, access.StatusPending}

	// Seven grants of c1, five of c2; the last of each has no expiry. Each
	// is committed with audit, ledger and outbox rows, which List must skip.
	var seeded []access.Grant
	for _, c := range []struct {
		customer string
		n        int
	}{{c1, 7}, {c2, 5}} {
		for i := 0; i < c.n; i++ {
			g := grantOf(c.customer, fmt.Sprintf("b2b:%02d-%s", i, c.customer[:8]))
			g.Status = statuses[i%len(statuses)]
			g.ExpiresAt = base.AddDate(0, 0, i)
			if i == c.n-1 {
				g.ExpiresAt = time.Time{}
			}
			ev := "ev-" + g.ID
			commit(t, s, access.Change{Grant: g, EventID: ev, Audit: []access.AuditEntry{{At: base, Action: "x"}},
				Outbox: []access.OutboxEntry{{ID: ev + "/0"}}})
			seeded = append(seeded, g)
		}
	}
	matching := func(keep func(access.Grant) bool) []string {
		var ids []string
		for _, g := range seeded {
			if keep(g) {
				ids = append(ids, g.CustomerTenantID+"/"+g.ID)
			}
		}
		sort.Strings(ids)
		return ids
	}
	hostile := "x' or '1' eq '1"
	tests := []struct {
		name string
		q    access.GrantQuery
		want []string
	}{
		{"all", access.GrantQuery{}, matching(func(access.Grant) bool { return true })},
		{"one customer", access.GrantQuery{CustomerTenantID: c1}, matching(func(g access.Grant) bool { return g.CustomerTenantID == c1 })},
		{"status", access.GrantQuery{Status: access.StatusActive}, matching(func(g access.Grant) bool { return g.Status == access.StatusActive })},
		{"customer and status", access.GrantQuery{CustomerTenantID: c2, Status: access.StatusExpired},
			matching(func(g access.Grant) bool { return g.CustomerTenantID == c2 && g.Status == access.StatusExpired })},
		{"expires before", access.GrantQuery{ExpiresBefore: base.AddDate(0, 0, 3)},
			matching(func(g access.Grant) bool { return !g.ExpiresAt.IsZero() && g.ExpiresAt.Before(base.AddDate(0, 0, 3)) })},
		{"all filters", access.GrantQuery{CustomerTenantID: c1, Status: access.StatusActive, ExpiresBefore: base.AddDate(0, 0, 4)},
			matching(func(g access.Grant) bool {
				return g.CustomerTenantID == c1 && g.Status == access.StatusActive && !g.ExpiresAt.IsZero() && g.ExpiresAt.Before(base.AddDate(0, 0, 4))
			})},
		{"unknown customer", access.GrantQuery{CustomerTenantID: guid(t)}, nil},
		{"hostile status", access.GrantQuery{Status: access.Status(hostile)}, nil},
		{"hostile customer", access.GrantQuery{CustomerTenantID: hostile}, nil},
	}
	for _, tt := range tests {
		for _, limit := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s limit %d", tt.name, limit), func(t *testing.T) {
				q := tt.q
				q.Limit = limit
				var got []string
				pages := 0
				for {
					grants, next, err := s.List(ctx, q)
					if err != nil {
						t.Fatalf("List page %d: %v", pages+1, err)
					}
					pages++
					if limit > 0 && len(grants) > limit {
						t.Errorf("page %d holds %d grants, over the limit %d", pages, len(grants), limit)
					}
					for _, g := range grants {
						got = append(got, g.CustomerTenantID+"/"+g.ID)
					}
					if next == "" {
						break
					}
					if pages > 20 {
						t.Fatalf("still paging after %d pages", pages)
					}
					q.ContinuationToken = next
				}
				sort.Strings(got)
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("List\n got %q\nwant %q", got, tt.want)
				}
				if minPages := int(math.Ceil(float64(len(tt.want)) / 2)); limit == 2 && pages < minPages {
					t.Errorf("%d pages for %d grants at limit 2, want at least %d", pages, len(tt.want), minPages)
				}
			})
		}
	}
	// Full grants come back, not just ids.
	grants, _, err := s.List(ctx, access.GrantQuery{CustomerTenantID: c1, Limit: 1})
	if err != nil || len(grants) != 1 || !reflect.DeepEqual(grants[0], asStored(seeded[0])) {
		t.Errorf("List limit 1 = %+v, %v; want %+v", grants, err, seeded[0])
	}
	if _, _, err := s.List(ctx, access.GrantQuery{ContinuationToken: "forged"}); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("List with a forged token = %v, want KindInvalid", err)
	}
}

func TestDueUntil(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	day0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	until := day0.Add(12 * time.Hour)

	// Thirty days of entries, three a day, from ten days ago on.
	var want []access.DueEntry
	total := 0
	for d := -10; d < 20; d++ {
		for _, h := range []int{6, 12, 18} {
			e := access.DueEntry{
				Due:              day0.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour),
				CustomerTenantID: fmt.Sprintf("c%02d", h),
				GrantID:          fmt.Sprintf("b2b:%+03d", d),
				Stage:            []int{30, 7, 1, 0}[(d+10)%4],
			}
			if err := s.SetDue(ctx, e); err != nil {
				t.Fatalf("SetDue: %v", err)
			}
			total++
			if !e.Due.After(until) {
				want = append(want, e)
			}
		}
	}
	// Setting an entry again replaces it.
	if err := s.SetDue(ctx, want[0]); err != nil {
		t.Fatal(err)
	}

	var got []access.DueEntry
	read, err := s.DueUntil(ctx, until, func(e access.DueEntry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("DueUntil: %v", err)
	}
	if read != len(want) {
		t.Errorf("DueUntil read %d entities of %d, want only the %d due", read, total, len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DueUntil\n got %+v\nwant %+v", got, want)
	}

	if err := s.DeleteDue(ctx, want[0]); err != nil {
		t.Fatalf("DeleteDue: %v", err)
	}
	if err := s.DeleteDue(ctx, want[0]); err != nil {
		t.Errorf("DeleteDue of an entry already gone = %v, want nil", err)
	}
	stop := errors.New("stop")
	calls := 0
	read, err = s.DueUntil(ctx, until, func(access.DueEntry) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 || read != 1 {
		t.Errorf("DueUntil with fn failing = %d read, %d calls, %v; want 1, 1, stop", read, calls, err)
	}
	read, err = s.DueUntil(ctx, until, func(access.DueEntry) error { return nil })
	if err != nil || read != len(want)-1 {
		t.Errorf("DueUntil after DeleteDue read %d, %v; want %d", read, err, len(want)-1)
	}
	if err := s.SetDue(ctx, access.DueEntry{CustomerTenantID: "c", GrantID: "g"}); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("SetDue without a time = %v, want KindInvalid", err)
	}
}

func TestReject(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 23, 59, 59, 999999900, time.UTC)
	random := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	tests := []struct {
		name string
		id   string
		body []byte
	}{
		{"empty", "m-empty", nil},
		{"json", "m-json", []byte(`{"eventId": "8b1c", "roles": ["Global Administrator"]}`)},
		{"every byte value", "m-bytes", every},
		{"hostile id", `m/1#?\'|~`, []byte("x")},
		{"64 KiB", "m-64k", random(64 << 10)},
		{"64 KiB and one", "m-64k1", random(64<<10 + 1)},
		{"300 KiB", "m-300k", random(300 << 10)},
		{"the most kept", "m-max", random(MaxRejectedBody)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := access.Rejected{Source: "invitation-sent", MessageID: tt.id, ReceivedAt: at, Reason: "bad: it's wrong", Body: tt.body}
			if err := s.Reject(ctx, r); err != nil {
				t.Fatalf("Reject: %v", err)
			}
		})
	}
	if err := s.Reject(ctx, access.Rejected{Source: "invitation-sent", MessageID: "m-json", ReceivedAt: at, Body: []byte("again")}); err != nil {
		t.Errorf("Reject of the same message at the same instant = %v, want nil", err)
	}
	if err := s.Reject(ctx, access.Rejected{Source: "gdap-approved", MessageID: "m-json", ReceivedAt: at}); err != nil {
		t.Fatal(err)
	}
	kept, err := s.Rejections(ctx, "invitation-sent", at)
	if err != nil {
		t.Fatalf("Rejections: %v", err)
	}
	byID := map[string]access.Rejected{}
	for _, r := range kept {
		byID[r.MessageID] = r
	}
	if len(kept) != len(tests) {
		t.Errorf("Rejections holds %d messages, want %d", len(kept), len(tests))
	}
	for _, tt := range tests {
		r, ok := byID[tt.id]
		switch {
		case !ok:
			t.Errorf("%s: not kept", tt.name)
		case !bytes.Equal(r.Body, tt.body):
			t.Errorf("%s: body of %d bytes came back as %d bytes, or different", tt.name, len(tt.body), len(r.Body))
		case r.Source != "invitation-sent" || !r.ReceivedAt.Equal(at) || r.Reason != "bad: it's wrong":
			t.Errorf("%s: kept %s %s %q, want invitation-sent %s %q", tt.name, r.Source, r.ReceivedAt, r.Reason, at, "bad: it's wrong")
		}
	}

	// A body over the limit keeps what fits and says so.
	big := random(MaxRejectedBody + 100)
	if err := s.Reject(ctx, access.Rejected{Source: "ticket-webhook", MessageID: "m-big", ReceivedAt: at, Reason: "too big", Body: big}); err != nil {
		t.Fatalf("Reject of %d bytes: %v", len(big), err)
	}
	kept, err = s.Rejections(ctx, "ticket-webhook", at)
	if err != nil || len(kept) != 1 {
		t.Fatalf("Rejections(ticket-webhook) = %d, %v; want 1", len(kept), err)
	}
	if !bytes.Equal(kept[0].Body, big[:MaxRejectedBody]) || !strings.Contains(kept[0].Reason, "body cut") {
		t.Errorf("over-limit body came back as %d bytes with reason %q, want the first %d and a note", len(kept[0].Body), kept[0].Reason, MaxRejectedBody)
	}
	if kept, err := s.Rejections(ctx, "invitation-sent", at.Add(time.Second)); err != nil || len(kept) != 0 {
		t.Errorf("Rejections of the next day = %d, %v; want none", len(kept), err)
	}
}

// countingTransport counts round trips, as a benchmark would.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultClient.Do(req)
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	tr := &countingTransport{}
	s := newStoreWith(t, Options{Transport: tr})
	afterNew := tr.n.Load()
	if afterNew < int64(len(Tables)) {
		t.Errorf("New made %d round trips through the transport, want at least %d", afterNew, len(Tables))
	}
	g := grantOf(guid(t), "b2b:"+guid(t))
	if err := s.Commit(ctx, access.Change{Grant: g, EventID: "e", Audit: []access.AuditEntry{{At: time.Now(), Action: "a"}}}); err != nil {
		t.Fatal(err)
	}
	if n := tr.n.Load() - afterNew; n != 1 {
		t.Errorf("Commit made %d round trips, want 1", n)
	}

	// New on existing tables is fine: every instance calls it at start.
	ep := testenv.Azurite(t)
	prefix := testenv.UniqueName(t, "t")
	for i := 0; i < 2; i++ {
		s, err := New(ctx, Options{ConnectionString: ep.ConnectionString, TablePrefix: prefix})
		if err != nil {
			t.Fatalf("New #%d: %v", i+1, err)
		}
		if i == 1 {
			for _, c := range []*aztables.Client{s.grants, s.due, s.rejected} {
				c.Delete(ctx, nil)
			}
		}
	}

	for name, opts := range map[string]Options{
		"nothing":                {},
		"bad prefix":             {ConnectionString: ep.ConnectionString, TablePrefix: "1-x"},
		"url without credential": {ServiceURL: "https://acct.table.core.windows.net"},
		"malformed conn string":  {ConnectionString: "nonsense"},
		"development shorthand":  {ConnectionString: "UseDevelopmentStorage=true"},
	} {
		if _, err := New(ctx, opts); !access.IsKind(err, access.KindInvalid) {
			t.Errorf("New with %s = %v (kind %v), want KindInvalid", name, err, access.KindOf(err))
		}
	}
}

func TestClaim(t *testing.T) {
	clk := testenv.NewClock(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)) // the store's claim lapses follow it
	s := newStoreWith(t, Options{Now: clk.Now})
	ctx := context.Background()
	customer := guid(t)
	g := grantOf(customer, "b2b:"+guid(t))
	commit(t, s, access.Change{Grant: g, EventID: "ev", Outbox: []access.OutboxEntry{
		{ID: "free"},
		{ID: "held", ClaimedUntil: clk.Now().Add(2 * time.Minute)}, // written claimed by its sender
		{ID: "race"},
		{ID: "sent"},
	}})
	unsent, err := s.Unsent(ctx, customer, "ev")
	if err != nil || len(unsent) != 4 {
		t.Fatalf("Unsent = %d rows, %v; want 4", len(unsent), err)
	}
	free, held, race, sent := unsent[0], unsent[1], unsent[2], unsent[3]
	until := clk.Now().Add(2 * time.Minute)

	claim := func(n access.OutboxEntry) bool {
		t.Helper()
		ok, err := s.Claim(ctx, n, until)
		if err != nil {
			t.Fatalf("Claim(%s): %v", n.ID, err)
		}
		return ok
	}
	if !claim(free) {
		t.Errorf("Claim of an unclaimed row = false, want true")
	}
	if claim(free) {
		t.Errorf("Claim again from the same read = true, want false (the row changed)")
	}
	free.Version = ""
	if claim(free) {
		t.Errorf("Claim from a fresh read of a claimed row = true, want false")
	}
	if claim(held) {
		t.Errorf("Claim of a row claimed by another sender = true, want false")
	}
	clk.Advance(3 * time.Minute) // the other sender's claim lapses
	held.Version = ""
	until = clk.Now().Add(2 * time.Minute)
	if !claim(held) {
		t.Errorf("Claim of a lapsed claim = false, want true")
	}

	// Two senders that read the row unclaimed: only one takes it.
	results := make([]bool, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.Claim(ctx, race, until)
			if err != nil {
				t.Errorf("Claim: %v", err)
			}
			results[i] = ok
		}()
	}
	wg.Wait()
	if results[0] == results[1] {
		t.Errorf("two concurrent claims = %v, want exactly one true", results)
	}

	if err := s.MarkAllSent(ctx, []access.OutboxEntry{sent}); err != nil {
		t.Fatal(err)
	}
	sent.Version = ""
	clk.Advance(time.Hour)
	if claim(sent) {
		t.Errorf("Claim of a sent row = true, want false")
	}
	if _, err := s.Claim(ctx, access.OutboxEntry{ID: "nope", EventID: "ev", CustomerTenantID: customer}, until); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("Claim of an unknown row = %v (kind %v), want KindNotFound", err, access.KindOf(err))
	}
}

func TestMarkAllSent(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	customer := guid(t)
	outbox := func(event string, n int) []access.OutboxEntry {
		ns := make([]access.OutboxEntry, n)
		for i := range ns {
			ns[i] = access.OutboxEntry{ID: fmt.Sprintf("%s/%02d", event, i), EventID: event, CustomerTenantID: customer}
		}
		return ns
	}
	// Two events of 75 rows: more than one transaction can mark.
	a, b := outbox("ev-a", 75), outbox("ev-b", 75)
	for _, ns := range [][]access.OutboxEntry{a, b} {
		commit(t, s, access.Change{Grant: access.Grant{CustomerTenantID: customer}, EventID: ns[0].EventID, Outbox: ns})
	}
	unsentCount := func(event string) int {
		t.Helper()
		ns, err := s.Unsent(ctx, customer, event)
		if err != nil {
			t.Fatal(err)
		}
		return len(ns)
	}

	// One unknown row fails its whole transaction.
	bad := append([]access.OutboxEntry{a[0], a[1]}, access.OutboxEntry{ID: "nope", EventID: "ev-a", CustomerTenantID: customer})
	if err := s.MarkAllSent(ctx, bad); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("MarkAllSent with an unknown row = %v (kind %v), want KindNotFound", err, access.KindOf(err))
	}
	if n := unsentCount("ev-a"); n != 75 {
		t.Errorf("after the failed MarkAllSent %d rows are unsent, want all 75", n)
	}

	all := append(append([]access.OutboxEntry{a[0]}, a...), b...) // a[0] twice
	if err := s.MarkAllSent(ctx, all); err != nil {
		t.Fatalf("MarkAllSent of %d rows: %v", len(all), err)
	}
	if na, nb := unsentCount("ev-a"), unsentCount("ev-b"); na != 0 || nb != 0 {
		t.Errorf("after MarkAllSent %d and %d rows are unsent, want none", na, nb)
	}
	if err := s.MarkAllSent(ctx, a[:3]); err != nil {
		t.Errorf("MarkAllSent again = %v, want nil", err)
	}
	other := access.OutboxEntry{ID: "x", EventID: "ev-a", CustomerTenantID: guid(t)}
	if err := s.MarkAllSent(ctx, []access.OutboxEntry{a[0], other}); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("MarkAllSent across customers = %v, want KindInvalid", err)
	}
	if err := s.MarkAllSent(ctx, nil); err != nil {
		t.Errorf("MarkAllSent(nil) = %v, want nil", err)
	}
}

// notifyEntry is the outbox entry of a notification with the given id.
func notifyEntry(id string, n access.Notification) access.OutboxEntry {
	if n.ID == "" {
		n.ID = id
	}
	return access.OutboxEntry{ID: id, Kind: access.OutboxNotify, Notification: &n}
}
