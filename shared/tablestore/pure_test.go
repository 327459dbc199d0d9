package tablestore

// Tests of the parts that need no Azurite: key escaping and order, filter
// building, entity mapping, Change rendering, batch response parsing and
// error translation.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestEscapeKey(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"b2b:0f8fad5b-d9cb-469f-a165-70867728950e", "b2b:0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"Az09-_.:@", "Az09-_.:@"},
		{"a/b", "a~2Fb"},
		{`a\b`, "a~5Cb"},
		{"a#b?c", "a~23b~3Fc"},
		{"a|b", "a~7Cb"},
		{"a~7Cb", "a~7E7Cb"}, // the escape character escapes itself
		{"it's", "it~27s"},
		{"tab\tnl\nnul\x00del\x7f", "tab~09nl~0Anul~00del~7F"},
		{"é", "~C3~A9"},
		{"\u0085", "~C2~85"}, // a C1 control character
		{"a b+c%d", "a~20b~2Bc~25d"},
		{"\xff", "~FF"}, // not UTF-8
	}
	for _, tt := range tests {
		if got := escapeKey(tt.in); got != tt.want {
			t.Errorf("escapeKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzEscapeKey checks the two properties keys rely on: an escaped id holds
// only characters Azure accepts and that are not our separator, and two
// different ids never share a key.
func FuzzEscapeKey(f *testing.F) {
	f.Add("a|b", "a~7Cb")
	f.Add("x/y", "x~2Fy")
	f.Add("é", "~C3~A9")
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := escapeKey(a), escapeKey(b)
		if a != b && ea == eb {
			t.Fatalf("escapeKey(%q) = escapeKey(%q) = %q", a, b, ea)
		}
		for i := 0; i < len(ea); i++ {
			if c := ea[i]; !keySafe(c) && c != '~' {
				t.Fatalf("escapeKey(%q) = %q holds byte %#x", a, ea, c)
			}
		}
		if len(ea) > 3*len(a) {
			t.Fatalf("escapeKey(%q) = %q: longer than 3 bytes per byte", a, ea)
		}
	})
}

func TestKeysSortInTimeOrder(t *testing.T) {
	base := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	// In the order the trail must read.
	keys := []string{
		auditRowKey("b2b:1", time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), "0000000000000001", 0),
		auditRowKey("b2b:1", base.Add(-time.Hour), "00000000000000ff", 7),
		auditRowKey("b2b:1", base, "0000000000000001", 0),
		auditRowKey("b2b:1", base, "0000000000000001", 1),
		auditRowKey("b2b:1", base, "0000000000000001", 10),
		auditRowKey("b2b:1", base, "0000000000000002", 0),
		auditRowKey("b2b:1", base.Add(100*time.Nanosecond), "0000000000000000", 0),
		auditRowKey("b2b:1", base.In(time.FixedZone("UTC+14", 14*3600)).Add(time.Second), "0000000000000000", 0),
		auditRowKey("b2b:1", base.AddDate(1, 0, 0), "0000000000000000", 0),
	}
	if !sort.StringsAreSorted(keys) {
		t.Errorf("audit keys do not sort in time order:\n%s", strings.Join(keys, "\n"))
	}
	// Every key of a grant lies in its prefix range, and a grant whose id
	// extends another's lies outside it.
	p := auditPrefix("b2b:1")
	for _, k := range append(keys, auditRowKey("b2b:1", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "ffffffffffffffff", 999)) {
		if k < p || k >= prefixEnd(p) {
			t.Errorf("key %q outside [%q, %q)", k, p, prefixEnd(p))
		}
	}
	if other := auditRowKey("b2b:10", base, "0", 0); other >= p && other < prefixEnd(p) {
		t.Errorf("key %q of grant b2b:10 is inside the range of b2b:1 [%q, %q)", other, p, prefixEnd(p))
	}
	if other := auditRowKey("b2b:1|x", base, "0", 0); other >= p && other < prefixEnd(p) {
		t.Errorf("key %q of grant b2b:1|x is inside the range of b2b:1 [%q, %q)", other, p, prefixEnd(p))
	}
	if got, want := prefixEnd("grant|"), "grant}"; got != want {
		t.Errorf("prefixEnd(%q) = %q, want %q", "grant|", got, want)
	}
}

func TestBuildFilter(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 0, 500, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		conds []cond
		want  string
	}{
		{"string", []cond{{"Status", "eq", "active"}}, "Status eq 'active'"},
		{"hostile string", []cond{{"Status", "eq", "x' or '1' eq '1"}}, "Status eq 'x'' or ''1'' eq ''1'"},
		{"only a quote", []cond{{"Status", "eq", "'"}}, "Status eq ''''"},
		{"time in UTC", []cond{{"Due", "le", at}}, "Due le datetime'2026-11-27T07:00:00.0000005Z'"},
		{"bool and int", []cond{{"Sent", "eq", false}, {"Stage", "ge", 7}}, "Sent eq false and Stage ge 7"},
		{"range", rangeConds("RowKey", "grant|", "grant}"), "RowKey ge 'grant|' and RowKey lt 'grant}'"},
	}
	for _, tt := range tests {
		if got := buildFilter(tt.conds...); got != tt.want {
			t.Errorf("%s: buildFilter = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDueFilter(t *testing.T) {
	until := time.Date(2026, 11, 28, 0, 30, 0, 0, time.FixedZone("CET", 3600)) // still the 27th in UTC
	want := "PartitionKey le '2026-11-27' and Due le datetime'2026-11-27T23:30:00.0000000Z'"
	if got := dueFilter(until); got != want {
		t.Errorf("dueFilter = %q, want %q", got, want)
	}
}

func TestGrantFilter(t *testing.T) {
	grantRows := "RowKey ge 'grant|' and RowKey lt 'grant}'"
	tests := []struct {
		name string
		q    access.GrantQuery
		want string
	}{
		{"all", access.GrantQuery{}, grantRows},
		{"customer", access.GrantQuery{CustomerTenantID: "c1"}, grantRows + " and PartitionKey eq 'c1'"},
		{"status", access.GrantQuery{Status: access.StatusActive}, grantRows + " and Status eq 'active'"},
		{"expires", access.GrantQuery{ExpiresBefore: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, grantRows + " and ExpiresAt lt datetime'2027-01-01T00:00:00.0000000Z'"},
		{"hostile status", access.GrantQuery{Status: "x' or '1' eq '1"}, grantRows + " and Status eq 'x'' or ''1'' eq ''1'"},
		// The customer id is escaped as a key before it is quoted: no quote
		// survives to the filter at all.
		{"hostile customer", access.GrantQuery{CustomerTenantID: "x' or '1' eq '1"}, grantRows + " and PartitionKey eq 'x~27~20or~20~271~27~20eq~20~271'"},
		{"limit and token do not filter", access.GrantQuery{Limit: 3, ContinuationToken: "abc"}, grantRows},
	}
	for _, tt := range tests {
		if got := grantFilter(tt.q); got != tt.want {
			t.Errorf("%s: grantFilter = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// fullGrant sets every field, with times at the 100 ns precision Table
// Storage keeps and in a zone other than UTC.
func fullGrant() access.Grant {
	zone := time.FixedZone("NZDT", 13*3600)
	return access.Grant{
		ID:               "b2b:0f8fad5b-d9cb-469f-a165-70867728950e",
		CustomerTenantID: "3c5f0a7e-1b2c-4d5e-8f90-123456789abc",
		PartnerTenantID:  "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
		Method:           access.B2B,
		Status:           access.StatusActive,
		Roles:            []string{"5d6b6bb7-de71-4623-b4af-96380a352509", "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"},
		PrincipalID:      "0f8fad5b-d9cb-469f-a165-70867728950e",
		ExpiresAt:        time.Date(2027, 2, 25, 21, 0, 0, 1234500, zone),
		AutoExtend:       "PT0S",
		CapacityPlan:     "customer",
		Ticket:           access.Ticket{System: "servicenow", ID: "INC0012345"},
		NoticesSent:      []int{30, 7},
		PartnerContacts:  []string{"soc@fabrikam.example", "a, b <x@fabrikam.example>"},
		CustomerContacts: []string{"secops@contoso.example"},
		InviteeEmail:     "analyst@fabrikam.example",
		Reason:           "it's \"quoted\" | and / slashed",
		CreatedAt:        time.Date(2026, 11, 27, 8, 0, 0, 100, time.UTC),
		UpdatedAt:        time.Date(2026, 11, 28, 9, 30, 0, 0, zone),
	}
}

// asStored is g as it reads back: times in whole seconds, UTC.
func asStored(g access.Grant) access.Grant {
	for _, t := range []*time.Time{&g.ExpiresAt, &g.CreatedAt, &g.UpdatedAt} {
		*t = access.WholeSeconds(*t)
	}
	return g
}

func TestGrantEntityRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		g    access.Grant
	}{
		{"every field", fullGrant()},
		{"only ids", access.Grant{ID: "gdap:rel-1", CustomerTenantID: "c1", Status: access.StatusRequested}},
		{"empty lists", access.Grant{ID: "gdap:rel-2", CustomerTenantID: "c1", Roles: []string{}, NoticesSent: []int{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := grantProps(tt.g)
			if err != nil {
				t.Fatalf("grantProps: %v", err)
			}
			b, err := marshalEntity(customerPartition(tt.g.CustomerTenantID), grantRowKey(tt.g.ID), p)
			if err != nil {
				t.Fatalf("marshalEntity: %v", err)
			}
			r, err := decodeRow(b)
			if err != nil {
				t.Fatalf("decodeRow(%s): %v", b, err)
			}
			got, err := grantFromRow(r)
			if err != nil {
				t.Fatalf("grantFromRow: %v", err)
			}
			want := asStored(tt.g)
			if len(want.Roles) == 0 {
				want.Roles = nil // empty and nil lists read back as nil
			}
			if len(want.NoticesSent) == 0 {
				want.NoticesSent = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, want)
			}
			if r.e.Properties[pGrantID] != tt.g.ID || r.e.Properties[pStatus] != string(tt.g.Status) {
				t.Errorf("properties GrantId=%v Status=%v, want %q and %q", r.e.Properties[pGrantID], r.e.Properties[pStatus], tt.g.ID, tt.g.Status)
			}
		})
	}
}

func TestMarshalEntity(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	b, err := marshalEntity("p", "r", props{"T": at, "B": []byte{0, 1, 0xff}, "S": "it's", "N": 7, "F": true})
	if err != nil {
		t.Fatalf("marshalEntity: %v", err)
	}
	for _, want := range []string{
		`"T":"2026-11-27T08:00:00.0000000Z"`, `"T@odata.type":"Edm.DateTime"`,
		`"B":"AAH/"`, `"B@odata.type":"Edm.Binary"`,
		`"S":"it's"`, `"N":7`, `"F":true`, `"PartitionKey":"p"`, `"RowKey":"r"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("marshalEntity = %s, want it to hold %s", b, want)
		}
	}
	for name, p := range map[string]props{
		"time before 1601":  {"T": time.Date(1600, 12, 31, 0, 0, 0, 0, time.UTC)},
		"int over 32 bits":  {"N": 1 << 40},
		"unsupported float": {"F": 1.5},
	} {
		if _, err := marshalEntity("p", "r", p); err == nil {
			t.Errorf("%s: marshalEntity = nil error, want one", name)
		}
	}
}

func TestOutboxEntityRoundTrip(t *testing.T) {
	sentAt := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	claimed := time.Date(2026, 11, 27, 8, 2, 0, 0, time.UTC)
	n := access.OutboxEntry{
		ID: "ev-1/2", CustomerTenantID: "c1", GrantID: "b2b:g", EventID: "ev-1", Kind: access.OutboxNotify,
		Notification: &access.Notification{
			ID: "ev-1/2", CustomerTenantID: "c1", GrantID: "b2b:g", EventID: "ev-1",
			Audience: access.AudienceCustomer, Channel: access.ChannelMail,
			To: []string{"secops@contoso.example"}, Ticket: access.Ticket{System: "jira", ID: "SEC-42"},
			Subject: "Access granted", Text: "Line one\nline two", Facts: map[string]string{"roles": "Security Reader"},
			Link: "https://securitycopilot.microsoft.com/?tenantId=c1",
		},
		Sent: true, SentAt: sentAt, ClaimedUntil: claimed,
	}
	pub := access.OutboxEntry{
		ID: "ev-1/publish", CustomerTenantID: "c1", GrantID: "b2b:g", EventID: "ev-1", Kind: access.OutboxPublish,
		Message: &access.Message{
			Queue: "grant-expiring", ID: "ev-1/7", Body: []byte(`{"noticeDays":7}`),
			NotBefore:  time.Date(2027, 2, 18, 8, 0, 0, 0, time.UTC),
			Properties: map[string]any{"grantId": "b2b:g", "noticeDays": 7, "ratio": 0.5, "final": false},
		},
		ClaimedUntil: claimed,
	}
	sched := access.OutboxEntry{ID: "ev-1/schedule", CustomerTenantID: "c1", GrantID: "b2b:g", EventID: "ev-1", Kind: access.OutboxSchedule}
	roundTrip := func(e access.OutboxEntry, seq int) (access.OutboxEntry, int) {
		t.Helper()
		p, err := outboxProps(e, seq)
		if err != nil {
			t.Fatalf("outboxProps: %v", err)
		}
		b, err := marshalEntity("c1", outboxRowKey(e.EventID, e.ID), p)
		if err != nil {
			t.Fatalf("marshalEntity: %v", err)
		}
		r, err := decodeRow(b)
		if err != nil {
			t.Fatalf("decodeRow: %v", err)
		}
		got, gotSeq, err := outboxFromRow(r)
		if err != nil {
			t.Fatalf("outboxFromRow: %v", err)
		}
		return got, gotSeq
	}
	for i, want := range []access.OutboxEntry{n, pub, sched} {
		if got, seq := roundTrip(want, i+4); !reflect.DeepEqual(got, want) || seq != i+4 {
			t.Errorf("round trip of a %s entry\n got %+v seq %d\nwant %+v seq %d", want.Kind, got, seq, want, i+4)
		}
	}
	if got, _ := roundTrip(pub, 0); !reflect.DeepEqual(got.Message, pub.Message) {
		t.Errorf("message\n got %+v\nwant %+v", got.Message, pub.Message)
	}

	// A message with no body or properties.
	pub.Message = &access.Message{Queue: "invitation-sent", ID: "m"}
	if got, _ := roundTrip(pub, 0); !reflect.DeepEqual(got.Message, pub.Message) {
		t.Errorf("message round trip = %+v; want %+v", got.Message, pub.Message)
	}
	pub.Message = &access.Message{Queue: "q", ID: "big", Body: make([]byte, bodyPartSize+1)}
	if _, err := outboxProps(pub, 0); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("outboxProps with a %d-byte message = %v, want KindInvalid", len(pub.Message.Body), err)
	}
}

func TestRowTypeMismatch(t *testing.T) {
	r, err := decodeRow([]byte(`{"PartitionKey":"p","RowKey":"r","GrantId":7,"Status":"active"}`))
	if err != nil {
		t.Fatalf("decodeRow: %v", err)
	}
	if g, err := grantFromRow(r); err == nil {
		t.Errorf("grantFromRow with a numeric GrantId = %+v, nil; want an error", g)
	}
}

// change is a valid Change of an existing grant with two audit entries, a
// ledger row and two notifications.
func change() access.Change {
	g := fullGrant()
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	return access.Change{
		Grant:   g,
		Version: `W/"datetime'2026-11-27T08%3A00%3A00Z'"`,
		EventID: "ev-1",
		Outcome: "processed",
		Audit: []access.AuditEntry{
			{At: at, Action: "roles-assigned", Detail: "Security Reader"},
			{At: at, Action: "notified", Detail: "partner, customer"},
		},
		Outbox: []access.OutboxEntry{
			{ID: "ev-1/0", Kind: access.OutboxNotify, Notification: &access.Notification{Audience: access.AudiencePartner, Channel: access.ChannelMail}},
			{ID: "ev-1/1", Kind: access.OutboxNotify, Notification: &access.Notification{Audience: access.AudienceCustomer, Channel: access.ChannelTeams},
				Sent: true, Version: "W/x", ClaimedUntil: time.Date(2026, 11, 27, 8, 2, 0, 0, time.UTC)},
		},
	}
}

func TestBuildChange(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 1, 0, time.UTC)
	c := change()
	b, err := buildChange(c, now, "0000000000000001")
	if err != nil {
		t.Fatalf("buildChange: %v", err)
	}
	var gotWhat []string
	var gotTypes []aztables.TransactionType
	for i, a := range b.actions {
		gotWhat = append(gotWhat, b.what[i])
		gotTypes = append(gotTypes, a.ActionType)
	}
	wantWhat := []string{"grant row", "audit row 0", "audit row 1", "ledger row", "outbox row 0 (ev-1/0)", "outbox row 1 (ev-1/1)"}
	wantTypes := []aztables.TransactionType{aztables.TransactionTypeUpdateReplace, aztables.TransactionTypeAdd, aztables.TransactionTypeAdd, aztables.TransactionTypeAdd, aztables.TransactionTypeAdd, aztables.TransactionTypeAdd}
	if !reflect.DeepEqual(gotWhat, wantWhat) || !reflect.DeepEqual(gotTypes, wantTypes) {
		t.Fatalf("actions\n got %q %v\nwant %q %v", gotWhat, gotTypes, wantWhat, wantTypes)
	}
	if b.actions[0].IfMatch == nil || string(*b.actions[0].IfMatch) != c.Version {
		t.Errorf("grant IfMatch = %v, want %q", b.actions[0].IfMatch, c.Version)
	}
	// Every outbox row goes in unsent, whatever the Notification says, and
	// takes the Change's event, grant and customer.
	r, err := decodeRow(b.actions[5].Entity)
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := outboxFromRow(r)
	if err != nil {
		t.Fatal(err)
	}
	if n.Sent || n.EventID != "ev-1" || n.GrantID != c.Grant.ID || n.CustomerTenantID != c.Grant.CustomerTenantID {
		t.Errorf("outbox row = %+v, want unsent, for event ev-1, grant %s, customer %s", n, c.Grant.ID, c.Grant.CustomerTenantID)
	}
	// A sender may write its rows claimed.
	if want := c.Outbox[1].ClaimedUntil; !n.ClaimedUntil.Equal(want) {
		t.Errorf("outbox row claimed until %s, want %s", n.ClaimedUntil, want)
	}

	c.Version = ""
	b, err = buildChange(c, now, "0000000000000001")
	if err != nil {
		t.Fatalf("buildChange of a new grant: %v", err)
	}
	if b.actions[0].ActionType != aztables.TransactionTypeAdd || b.actions[0].IfMatch != nil {
		t.Errorf("new grant action = %v IfMatch %v, want Add without IfMatch", b.actions[0].ActionType, b.actions[0].IfMatch)
	}

	noGrant := access.Change{Grant: access.Grant{CustomerTenantID: "c1"}, EventID: "ev-9", Outcome: "refused",
		Outbox: []access.OutboxEntry{{ID: "ev-9/0"}}}
	b, err = buildChange(noGrant, now, "1")
	if err != nil {
		t.Fatalf("buildChange without a grant: %v", err)
	}
	if got, want := b.what, []string{"ledger row", "outbox row 0 (ev-9/0)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("actions without a grant = %q, want %q", got, want)
	}
}

func TestBuildChangeRefuses(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 1, 0, time.UTC)
	many := func(n int) []access.AuditEntry {
		a := make([]access.AuditEntry, n)
		for i := range a {
			a[i] = access.AuditEntry{At: now, Action: "x"}
		}
		return a
	}
	tests := []struct {
		name   string
		modify func(*access.Change)
		want   string // in the error; "" means valid
	}{
		{"no customer", func(c *access.Change) { c.Grant.CustomerTenantID = "" }, "customer tenant id is empty"},
		{"audit without time", func(c *access.Change) { c.Audit[1].At = time.Time{} }, "audit entry 1 (notified) has no time"},
		{"notification without id", func(c *access.Change) { c.Outbox[0].ID = "" }, "outbox row 0 has no notification id"},
		{"notification id twice", func(c *access.Change) { c.Outbox[1].ID = c.Outbox[0].ID }, "notification id used twice"},
		{"notification of another customer", func(c *access.Change) { c.Outbox[0].CustomerTenantID = "other" }, "is for customer other"},
		{"notification without event", func(c *access.Change) { c.EventID = "" }, "has no event id"},
		{"over 100 rows", func(c *access.Change) { c.Audit = many(97) }, "101 rows, over the 100"},
		{"exactly 100 rows", func(c *access.Change) { c.Audit = many(96) }, ""},
		{"no grant but a version", func(c *access.Change) { c.Grant.ID = "" }, "a change without a grant has a version"},
		{"no grant but audit", func(c *access.Change) { c.Grant.ID, c.Version = "", "" }, "a change without a grant has audit entries"},
		{"nothing at all", func(c *access.Change) { *c = access.Change{Grant: access.Grant{CustomerTenantID: "c"}} }, "empty change"},
		{"event id too long", func(c *access.Change) { c.EventID = strings.Repeat("/", 400) }, "over the 1024-byte key limit"},
		{"time out of range", func(c *access.Change) { c.Grant.ExpiresAt = time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside the range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := change()
			tt.modify(&c)
			_, err := buildChange(c, now, "1")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("buildChange = %v, want no error", err)
				}
				return
			}
			if err == nil || !access.IsKind(err, access.KindInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("buildChange = %v (kind %v), want KindInvalid with %q", err, access.KindOf(err), tt.want)
			}
		})
	}
}

func TestStamperIncreases(t *testing.T) {
	var s stamper
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	a, b := s.next(now), s.next(now)
	c := s.next(now.Add(-time.Hour)) // a clock that steps back
	if !(a < b && b < c) || len(a) != 16 {
		t.Errorf("stamps %q %q %q, want 16 hex digits, increasing", a, b, c)
	}
}

// Batch responses as Azurite 3.35 sends them (Azure's have the same shape).
const (
	okBatch = "--batchresponse_1\r\n" +
		"Content-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n" +
		"--changesetresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\nDataServiceVersion: 3.0;\r\nETag: W/\"datetime'2026-11-27T09%3A15%3A34.7789043Z'\"\r\n\r\n\r\n" +
		"--changesetresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\nDataServiceVersion: 3.0;\r\nETag: W/\"datetime'2026-11-27T09%3A15%3A34.7789052Z'\"\r\n\r\n\r\n" +
		"--changesetresponse_1--\r\n--batchresponse_1--\r\n"
	failedBatch = "--batchresponse_2\r\n" +
		"Content-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n" +
		"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 %d Whatever\r\nContent-ID: 2\r\nContent-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n" +
		`{"odata.error":{"code":"%s","message":{"lang":"en-US","value":"%d:The message.\nRequestId:9d92\nTime:2026-11-27T09:15:34.787Z"}}}` +
		"\r\n--changesetresponse_2--\r\n--batchresponse_2--\r\n"
)

func TestParseBatchBody(t *testing.T) {
	got, err := parseBatchBody("multipart/mixed; boundary=batchresponse_1", []byte(okBatch))
	if err != nil {
		t.Fatalf("parseBatchBody: %v", err)
	}
	want := []batchResult{
		{status: 204},
		{status: 204},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseBatchBody\n got %+v\nwant %+v", got, want)
	}
	got, err = parseBatchBody("multipart/mixed; boundary=batchresponse_2", []byte(fmt.Sprintf(failedBatch, 412, "UpdateConditionNotSatisfied", 1)))
	if err != nil {
		t.Fatalf("parseBatchBody of a failure: %v", err)
	}
	if len(got) != 1 || got[0].status != 412 || got[0].code != "UpdateConditionNotSatisfied" || !strings.HasPrefix(got[0].message, "1:The message.") {
		t.Errorf("parseBatchBody of a failure = %+v, want one 412 UpdateConditionNotSatisfied at index 1", got)
	}
	if _, err := parseBatchBody("application/json", []byte(`{}`)); err == nil {
		t.Errorf("parseBatchBody of JSON = nil error, want one")
	}
}

func TestBatchError(t *testing.T) {
	what := []string{"grant row", "audit row 0", "ledger row"}
	tests := []struct {
		status   int
		code     string
		index    int
		wantKind access.Kind
		wantOp   string
	}{
		{412, "UpdateConditionNotSatisfied", 0, access.KindConflict, "grant row"},
		{409, "EntityAlreadyExists", 2, access.KindConflict, "ledger row"},
		{404, "ResourceNotFound", 0, access.KindNotFound, "grant row"}, // Commit makes it a conflict: the grant vanished
		{404, "TableNotFound", 0, access.KindInternal, "grant row"},
		{503, "ServerBusy", 1, access.KindTransient, "audit row 0"},
		{400, "InvalidInput", 7, access.KindInternal, "an operation"},
		{400, "PropertyValueTooLarge", 1, access.KindInvalid, "audit row 0"},
	}
	for _, tt := range tests {
		body := fmt.Sprintf(failedBatch, tt.status, tt.code, tt.index)
		resp := &http.Response{
			StatusCode: http.StatusAccepted,
			Header:     http.Header{"Content-Type": {"multipart/mixed; boundary=batchresponse_2"}},
			Body:       readCloser(body),
		}
		sdkErr := &azcore.ResponseError{StatusCode: http.StatusAccepted, RawResponse: resp}
		err := batchError(opCommit, sdkErr, resp, what, "commit %s", "x")
		if access.KindOf(err) != tt.wantKind || !strings.Contains(err.Error(), tt.wantOp+" refused: The message.") || !strings.HasPrefix(err.Error(), "commit x") {
			t.Errorf("%d %s: batchError = %q (kind %v), want kind %v naming %q", tt.status, tt.code, err, access.KindOf(err), tt.wantKind, tt.wantOp)
		}
		if !access.Match(access.E(opCommit, access.Code(tt.code)), err) {
			t.Errorf("%d %s: batchError = %+v, want op %s and code %s", tt.status, tt.code, err, opCommit, tt.code)
		}
		if strings.Contains(err.Error(), "RequestId") {
			t.Errorf("%d %s: batchError = %q, want the message without request id", tt.status, tt.code, err)
		}
	}
	// A batch refused as a whole (not 202) is an ordinary response error.
	err := batchError(opCommit, &azcore.ResponseError{StatusCode: 503, ErrorCode: "ServerBusy"}, nil, what, "commit")
	if access.KindOf(err) != access.KindTransient || err.Kind != access.KindTransient || !access.Match(access.E(opCommit, access.Code("ServerBusy")), err) {
		t.Errorf("batchError of a 503 = %v (kind %v), want transient", err, access.KindOf(err))
	}
}

type stringReadCloser struct{ *strings.Reader }

func (stringReadCloser) Close() error { return nil }

func readCloser(s string) stringReadCloser { return stringReadCloser{strings.NewReader(s)} }

func TestTranslate(t *testing.T) {
	netErr := &url.Error{Op: "Get", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name     string
		err      error
		wantKind access.Kind
		wantCode string
	}{
		{"entity not found", &azcore.ResponseError{StatusCode: 404, ErrorCode: "ResourceNotFound"}, access.KindNotFound, "ResourceNotFound"},
		{"table not found", &azcore.ResponseError{StatusCode: 404, ErrorCode: "TableNotFound"}, access.KindInternal, "TableNotFound"},
		{"exists", &azcore.ResponseError{StatusCode: 409, ErrorCode: "EntityAlreadyExists"}, access.KindConflict, "EntityAlreadyExists"},
		{"etag", &azcore.ResponseError{StatusCode: 412, ErrorCode: "UpdateConditionNotSatisfied"}, access.KindConflict, "UpdateConditionNotSatisfied"},
		{"throttled", &azcore.ResponseError{StatusCode: 429}, access.KindTransient, ""},
		{"unavailable", &azcore.ResponseError{StatusCode: 503, ErrorCode: "ServerBusy"}, access.KindTransient, "ServerBusy"},
		{"timeout", &azcore.ResponseError{StatusCode: 408}, access.KindTransient, ""},
		{"too large", &azcore.ResponseError{StatusCode: 400, ErrorCode: "EntityTooLarge"}, access.KindInvalid, "EntityTooLarge"},
		{"forbidden", &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthorizationFailure"}, access.KindInternal, "AuthorizationFailure"},
		{"bad request", &azcore.ResponseError{StatusCode: 400, ErrorCode: "InvalidInput"}, access.KindInternal, "InvalidInput"},
		{"connection refused", netErr, access.KindTransient, ""},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), access.KindTransient, ""},
		{"unexpected", errors.New("boom"), access.KindInternal, ""},
		{"already classified", access.Errorf(access.KindInvalid, "bad"), access.KindInvalid, ""},
	}
	for _, tt := range tests {
		err := translate(opGrant, tt.err, "read grant %s", "g1")
		var ae *access.Error
		if !errors.As(err, &ae) || access.KindOf(err) != tt.wantKind || codeOf(err) != tt.wantCode {
			t.Errorf("%s: translate = %v (kind %v code %q), want kind %v code %q", tt.name, err, access.KindOf(err), codeOf(err), tt.wantKind, tt.wantCode)
			continue
		}
		if ae.Op != opGrant {
			t.Errorf("%s: translate = %+v, want op %s", tt.name, ae, opGrant)
		}
		if !strings.HasPrefix(err.Error(), "read grant g1") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: translate = %q, want one line starting with the context", tt.name, err)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: translate = %v does not wrap the cause", tt.name, err)
		}
	}
	if translate(opGrant, nil, "x") != nil {
		t.Errorf("translate(nil) != nil")
	}
}

func codeOf(err error) string {
	var ae *access.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestContinuationToken(t *testing.T) {
	c := continuation{P: "1!48!M2M1ZjBh", R: "1!20!Z3JhbnR8"}
	got, err := decodeToken(encodeToken(c))
	if err != nil || got != c {
		t.Errorf("decodeToken(encodeToken(%+v)) = %+v, %v", c, got, err)
	}
	if got, err := decodeToken(""); err != nil || !got.empty() {
		t.Errorf(`decodeToken("") = %+v, %v; want empty, nil`, got, err)
	}
	for _, bad := range []string{"not base64!", "e30", "bnVsbA"} { // garbage, {}, null
		if _, err := decodeToken(bad); !access.IsKind(err, access.KindInvalid) {
			t.Errorf("decodeToken(%q) = %v, want KindInvalid", bad, err)
		}
	}
}

func TestRejectedPropsSplitBody(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		size      int
		wantParts int
		wantLen   int
	}{
		{0, 0, 0},
		{1, 1, 1},
		{bodyPartSize, 1, bodyPartSize},
		{bodyPartSize + 1, 2, bodyPartSize + 1},
		{MaxRejectedBody, 15, MaxRejectedBody},
		{MaxRejectedBody + 10, 15, MaxRejectedBody},
	}
	for _, tt := range tests {
		body := bytes.Repeat([]byte{0xAB}, tt.size)
		p := rejectedProps(access.Rejected{Source: "invitation-sent", MessageID: "m", ReceivedAt: at, Reason: "bad json", Body: body})
		if p[pBodyParts] != tt.wantParts || p[pBodyLength] != tt.wantLen {
			t.Errorf("size %d: %d parts of %d bytes, want %d parts of %d", tt.size, p[pBodyParts], p[pBodyLength], tt.wantParts, tt.wantLen)
		}
		for i := 0; i < tt.wantParts; i++ {
			if n := len(p[pBody+fmt.Sprint(i)].([]byte)); n > bodyPartSize {
				t.Errorf("size %d: part %d holds %d bytes, over %d", tt.size, i, n, bodyPartSize)
			}
		}
		cut := strings.Contains(p[pReason].(string), "body cut")
		if cut != (tt.size > MaxRejectedBody) {
			t.Errorf("size %d: reason %q, want a note of the cut only when over %d", tt.size, p[pReason], MaxRejectedBody)
		}
	}
}

func TestValidTableName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Grants", true},
		{"t1DueIndex", true},
		{"ab", false},
		{"abc", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"1abc", false},
		{"ab-c", false},
		{"ab_c", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := validTableName(tt.name); got != tt.want {
			t.Errorf("validTableName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
