package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// The partner side of the simulated directory.
const (
	partnerTenant = "11112222-3333-4444-5555-666677778888"
	partnerGroup  = "3f1e6a4b-2c5d-4e7f-8a9b-0c1d2e3f4a5b"
	mailFrom      = "copilot-access@fabrikam.example"
	partnerMail   = "soc@fabrikam.example"
	customerMail  = "secops@contoso.example"
)

// Event types, named as the functions that take them.
const (
	fnInvitationSent = "invitation-sent"
	fnGDAPApproved   = "gdap-approved"
	fnExpirySweep    = "expiry-sweep"
)

// guest is a B2B guest user in a customer tenant, waiting for the
// invitation-sent event that activates its grant.
type guest struct{ tenant, id string }

// relationship is an active GDAP relationship of the partner, waiting for
// its gdap-approved event.
type relationship struct{ id, customer string }

// workload is everything the benchmark feeds the handler, generated from a
// fixed seed so that two runs do the same work.
type workload struct {
	rng       *rand.Rand
	now       time.Time
	customers []string
	// Warm-up entries come first; the measured ones follow.
	guests []guest
	rels   []relationship
	warm   int
	sweep  sweepData
}

func newWorkload(o options, now time.Time) *workload {
	w := &workload{rng: rand.New(rand.NewPCG(8, 2026)), now: now.UTC().Truncate(time.Second), warm: o.warmup}
	for range o.tenants {
		w.customers = append(w.customers, w.guid())
	}
	for i := range o.warmup + o.events {
		w.guests = append(w.guests, guest{tenant: w.customers[i%len(w.customers)], id: w.guid()})
		w.rels = append(w.rels, relationship{id: w.guid() + "-" + w.guid(), customer: w.customers[(i+1)%len(w.customers)]})
	}
	w.sweep = w.sweepData(o.grants, o.duePercent)
	return w
}

// guid returns the next pseudo-random GUID (version 4 layout).
func (w *workload) guid() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := w.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// seed is the simulated directory: one partner tenant with its mailbox,
// security group and relationships (the queue events' and the sweep's due
// GDAP grants'), and the customer tenants with their guests.
func (w *workload) seed() graphsim.Seed {
	partner := graphsim.Tenant{ID: partnerTenant, DisplayName: "Fabrikam MSSP",
		Users:  []graphsim.User{{ID: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", DisplayName: "Notifications", Mail: mailFrom, UserPrincipalName: mailFrom}},
		Groups: []graphsim.Group{{ID: partnerGroup, DisplayName: "Fabrikam SOC analysts"}}}
	activated := w.now.Add(-time.Hour)
	for _, r := range w.rels {
		partner.Relationships = append(partner.Relationships, graphsim.Relationship{
			ID: r.id, DisplayName: "Security Copilot " + r.id[:8], Status: "active", CustomerTenantID: r.customer,
			Roles: []string{access.SecurityReaderID}, Duration: "P730D", AutoExtendDuration: "PT0S", ActivatedDateTime: activated,
		})
	}
	for _, g := range w.sweep.grants {
		if g.Method != access.GDAP || !g.due {
			continue
		}
		// The relationship ends when the grant does: the sweep's drift
		// check finds nothing to record and publishes the notice.
		_, id, _ := access.SplitGrantID(g.ID)
		partner.Relationships = append(partner.Relationships, graphsim.Relationship{
			ID: id, DisplayName: "Security Copilot " + id[:8], Status: "active", CustomerTenantID: g.CustomerTenantID,
			Roles: []string{access.SecurityReaderID}, Duration: "P730D", AutoExtendDuration: "PT0S",
			ActivatedDateTime: g.ExpiresAt.Add(-730 * access.Day), EndDateTime: g.ExpiresAt,
		})
	}
	byTenant := map[string][]graphsim.User{}
	for i, g := range w.guests {
		byTenant[g.tenant] = append(byTenant[g.tenant], graphsim.User{ID: g.id, DisplayName: "Fabrikam analyst " + strconv.Itoa(i),
			Mail: fmt.Sprintf("analyst%d@fabrikam.example", i), UserType: "Guest"})
	}
	s := graphsim.Seed{Partner: partner}
	for i, c := range w.customers {
		s.Customers = append(s.Customers, graphsim.Tenant{ID: c, DisplayName: fmt.Sprintf("Customer %02d", i), Users: byTenant[c]})
	}
	return s
}

// event is one queue message for the handler: its function, id and body.
type event struct {
	function string
	id       string
	body     []byte
}

// events returns the invitation-sent events of guests[from:to] or the
// gdap-approved events of rels[from:to], as the contract writes them.
func (w *workload) events(function string, from, to int) []event {
	ticket := map[string]string{"system": "servicenow", "id": "INC0012345"}
	var out []event
	for i := from; i < to; i++ {
		id := w.guid()
		m := map[string]any{"eventId": id, "occurredAt": w.now.Format(time.RFC3339), "partnerTenantId": partnerTenant,
			"ticket": ticket, "partnerContacts": []string{partnerMail}, "customerContacts": []string{customerMail}}
		switch function {
		case fnInvitationSent:
			g := w.guests[i]
			m["customerTenantId"], m["invitedUserId"], m["invitedUserEmail"] = g.tenant, g.id, fmt.Sprintf("analyst%d@fabrikam.example", i)
			m["roles"], m["durationDays"] = []string{access.SecurityOperatorID}, 90
		case fnGDAPApproved:
			r := w.rels[i]
			m["relationshipId"], m["customerTenantId"] = r.id, r.customer
		}
		b, _ := json.Marshal(m)
		out = append(out, event{function: function, id: id, body: b})
	}
	return out
}

// hostShapes are the Functions host's own invocation payloads, from the
// repository's fixtures, so that the handler decodes what the real host
// sends (JSON-quoted string metadata, numbers as strings, base64 body).
type hostShapes struct {
	queue []byte // a Service Bus trigger invocation
	timer []byte // a timer trigger invocation
}

func loadHostShapes(repo string) (hostShapes, error) {
	var h hostShapes
	var err error
	if h.queue, err = os.ReadFile(filepath.Join(repo, "testdata", "servicebus-invitation-sent.json")); err != nil {
		return h, err
	}
	if h.timer, err = os.ReadFile(filepath.Join(repo, "testdata", "timer-expiry-sweep.json")); err != nil {
		return h, err
	}
	return h, nil
}

// queueEnvelope puts an event into the host's Service Bus shape, first
// delivery, keeping every other quirk of the fixture.
func (h hostShapes) queueEnvelope(e event) ([]byte, error) {
	var env map[string]any
	if err := json.Unmarshal(h.queue, &env); err != nil {
		return nil, fmt.Errorf("queue fixture: %w", err)
	}
	data, _ := env["Data"].(map[string]any)
	md, _ := env["Metadata"].(map[string]any)
	sys, _ := md["sys"].(map[string]any)
	if data == nil || md == nil || sys == nil {
		return nil, fmt.Errorf("queue fixture: no Data, Metadata or Metadata.sys")
	}
	data["msg"] = base64.StdEncoding.EncodeToString(e.body)
	md["MessageId"] = strconv.Quote(e.id)
	md["DeliveryCount"] = "1"
	sys["MethodName"] = e.function
	return json.Marshal(env)
}

// timerEnvelope is the host's timer invocation of the sweep, on time.
func (h hostShapes) timerEnvelope(now time.Time) ([]byte, error) {
	var env map[string]any
	if err := json.Unmarshal(h.timer, &env); err != nil {
		return nil, fmt.Errorf("timer fixture: %w", err)
	}
	md, _ := env["Metadata"].(map[string]any)
	sys, _ := md["sys"].(map[string]any)
	if sys == nil {
		return nil, fmt.Errorf("timer fixture: no Metadata.sys")
	}
	sys["UtcNow"] = now.UTC().Format(time.RFC3339Nano)
	return json.Marshal(env)
}
