package access

import (
	"testing"
	"time"
)

func TestChangeOutboxRows(t *testing.T) {
	g := Grant{ID: "b2b:g1", CustomerTenantID: "c1"}
	sentAt := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c := Change{Grant: g, EventID: "e1", Outbox: []OutboxEntry{
		{ID: "n1", Sent: true, SentAt: sentAt, Version: "W/x"},
		{ID: "n2", EventID: "e0", GrantID: "b2b:other", CustomerTenantID: "c1"},
	}}
	rows, err := c.OutboxRows()
	if err != nil {
		t.Fatalf("OutboxRows: %v", err)
	}
	if r := rows[0]; r.EventID != "e1" || r.GrantID != g.ID || r.CustomerTenantID != "c1" || r.Sent || !r.SentAt.IsZero() || r.Version != "" {
		t.Errorf("first row = %+v, want the change's event and grant, the customer's, unsent", r)
	}
	if r := rows[1]; r.EventID != "e0" || r.GrantID != "b2b:other" {
		t.Errorf("second row = %+v, want its own event and grant kept", r)
	}
	if c.Outbox[0].EventID != "" || !c.Outbox[0].Sent {
		t.Error("OutboxRows changed the change's own entries")
	}

	for name, out := range map[string][]OutboxEntry{
		"no id":          {{EventID: "e1"}},
		"no event":       {{ID: "n1"}},
		"other customer": {{ID: "n1", CustomerTenantID: "c2"}},
		"id used twice":  {{ID: "n1"}, {ID: "n1"}},
	} {
		ev := "e1"
		if name == "no event" {
			ev = ""
		}
		if _, err := (Change{Grant: g, EventID: ev, Outbox: out}).OutboxRows(); !IsKind(err, KindInvalid) {
			t.Errorf("%s: err = %v, want KindInvalid", name, err)
		}
	}
	if _, err := (Change{Grant: g, EventID: "e1", Outbox: []OutboxEntry{{ID: "n1", EventID: "a"}, {ID: "n1", EventID: "b"}}}).OutboxRows(); err != nil {
		t.Errorf("one id under two events: %v, want no error", err)
	}
}
