package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// The partner side of the simulated directory (its tenant and mailbox are
// testenv's).
const (
	partnerGroup = "3f1e6a4b-2c5d-4e7f-8a9b-0c1d2e3f4a5b"
	partnerMail  = "soc@fabrikam.example"
	customerMail = "secops@contoso.example"
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
	// The floor's own guests and relationships, one per event as well, so
	// that its Graph writes never meet the handler's (an existing role
	// assignment would be a different request).
	floorGuests []guest
	floorRels   []relationship
	warm        int
	sweep       sweepData
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
	for i := range o.warmup + o.events {
		w.floorGuests = append(w.floorGuests, guest{tenant: w.customers[i%len(w.customers)], id: w.guid()})
		w.floorRels = append(w.floorRels, relationship{id: w.guid() + "-" + w.guid(), customer: w.customers[(i+1)%len(w.customers)]})
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
	return hostcall.FormatGUID(b)
}

// seed is the simulated directory: one partner tenant with its mailbox,
// security group and relationships (the queue events' and the sweep's due
// GDAP grants'), and the customer tenants with their guests.
func (w *workload) seed() graphsim.Seed {
	partner := graphsim.Tenant{ID: testenv.PartnerTenant, DisplayName: "Fabrikam MSSP",
		Domains: []graphsim.Domain{{ID: "fabrikam.example", IsVerified: true}},
		Users:   []graphsim.User{{ID: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", DisplayName: "Notifications", Mail: testenv.PartnerMailbox, UserPrincipalName: testenv.PartnerMailbox}},
		Groups:  []graphsim.Group{{ID: partnerGroup, DisplayName: "Fabrikam SOC analysts"}}}
	activated := w.now.Add(-time.Hour)
	for _, r := range slices.Concat(w.rels, w.floorRels) {
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
	for i, g := range slices.Concat(w.guests, w.floorGuests) {
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
		m := map[string]any{"eventId": id, "occurredAt": w.now.Format(time.RFC3339), "partnerTenantId": testenv.PartnerTenant,
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

// queueEnvelope puts an event into the host's Service Bus shape
// (internal/hostcall), first delivery, with the schemaVersion property the
// app's publisher adds.
func queueEnvelope(e event) []byte {
	return hostcall.Queue(hostcall.QueueArgs{Sys: hostcall.Sys{Function: e.function}, Body: e.body, MessageID: e.id,
		Properties: map[string]any{"schemaVersion": "1"}})
}

// timerEnvelope is the host's timer invocation of the sweep, on time, an
// hour after the previous run.
func timerEnvelope(now time.Time) []byte {
	return hostcall.Timer(hostcall.TimerArgs{Sys: hostcall.Sys{Function: fnExpirySweep, Now: now},
		Status: &hostcall.ScheduleStatus{Last: now.Add(-time.Hour), Next: now.Add(time.Hour), LastUpdated: now.Add(-time.Hour)}})
}
