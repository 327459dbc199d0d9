package reliability

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// The partner side of every scenario (its tenant and mailbox are
// testenv's): the security group GDAP access lands on.
const (
	partnerGroup  = "f1000000-0000-4000-8000-000000000001"
	customerCount = 5
)

// Function names of the contract.
const (
	fnInvitationSent = "invitation-sent"
	fnGDAPApproved   = "gdap-approved"
)

// event is one queue message of a workload and what it must lead to.
type event struct {
	N        int
	ID       string // eventId and MessageId
	Function string // invitation-sent or gdap-approved
	Customer string
	GrantID  string
	// Principal holds the access: the guest (B2B) or the partner group.
	Principal    string
	Relationship string // GDAP only
	Roles        []string
	// PartnerContact and CustomerContact are unique to the event, so that
	// every mail can be traced to the event that caused it.
	PartnerContact, CustomerContact string
	Ticket                          string
	Body                            []byte
}

// notifications is how many notifications an activation sends: mail to
// the partner and to the customer, a Teams card, a ticket comment.
const notifications = 4

// workload is a scenario's directory and events. Each scenario draws its
// own tenants, so that scenarios sharing one Azurite never share a
// partition of the Grants table.
type workload struct {
	Customers []graphsim.Tenant
	Rels      []graphsim.Relationship
	Events    []event
}

// guid draws a version 4 GUID from rng: the same seed, the same ids.
func guid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return hostcall.FormatGUID(b)
}

// newWorkload draws n events for scenario: invitation-sent for n distinct
// guests seeded in a few customer tenants, every gdapEvery-th a
// gdap-approved for a seeded active relationship. Roles vary among Security
// Reader, Security Operator and both.
func newWorkload(rng *rand.Rand, scenario string, n, gdapEvery int, now time.Time) workload {
	var w workload
	for i := range customerCount {
		id := guid(rng)
		w.Customers = append(w.Customers, graphsim.Tenant{ID: id, DisplayName: fmt.Sprintf("Customer %s %d", scenario, i),
			Domain: fmt.Sprintf("customer%d-%s.example", i, id[:8])})
	}
	roleSets := [][]string{{access.SecurityReaderID}, {access.SecurityOperatorID}, {access.SecurityReaderID, access.SecurityOperatorID}}
	for i := range n {
		c := &w.Customers[i%customerCount]
		e := event{
			N: i, ID: fmt.Sprintf("rel-%s-%04d-%s", scenario, i, guid(rng)[:8]), Customer: c.ID,
			PartnerContact:  fmt.Sprintf("soc-%s-%04d@fabrikam.example", scenario, i),
			CustomerContact: fmt.Sprintf("secops-%s-%04d@%s", scenario, i, c.Domain),
			Ticket:          fmt.Sprintf("REL-%s-%04d", scenario, i),
		}
		ticket := map[string]string{"system": "jira", "id": e.Ticket}
		if gdapEvery > 0 && i%gdapEvery == gdapEvery-1 {
			rel := graphsim.Relationship{ID: guid(rng) + "-" + c.ID, DisplayName: "Security Copilot " + e.Ticket, Status: "active",
				CustomerTenantID: c.ID, Roles: []string{access.SecurityReaderID, access.SecurityOperatorID},
				Duration: "P730D", AutoExtendDuration: "PT0S"}
			w.Rels = append(w.Rels, rel)
			e.Function, e.Relationship, e.Principal = fnGDAPApproved, rel.ID, partnerGroup
			e.GrantID = access.GrantID(access.GDAP, rel.ID)
			e.Roles = sortedRoles(rel.Roles)
			e.Body = mustJSON(map[string]any{
				"eventId": e.ID, "occurredAt": now.UTC().Format(time.RFC3339), "relationshipId": rel.ID,
				"partnerTenantId": testenv.PartnerTenant, "customerTenantId": c.ID, "ticket": ticket,
				"partnerContacts": []string{e.PartnerContact}, "customerContacts": []string{e.CustomerContact},
			})
		} else {
			guest := guid(rng)
			c.Users = append(c.Users, graphsim.User{ID: guest, DisplayName: fmt.Sprintf("Analyst %d", i),
				Mail: fmt.Sprintf("analyst-%s-%04d@fabrikam.example", scenario, i), UserType: "Guest"})
			e.Function, e.Principal = fnInvitationSent, guest
			e.GrantID = access.GrantID(access.B2B, guest)
			e.Roles = sortedRoles(roleSets[i%len(roleSets)])
			e.Body = mustJSON(map[string]any{
				"eventId": e.ID, "occurredAt": now.UTC().Format(time.RFC3339), "customerTenantId": c.ID,
				"partnerTenantId": testenv.PartnerTenant, "invitationId": guid(rng), "invitedUserId": guest,
				"invitedUserEmail": fmt.Sprintf("analyst-%s-%04d@fabrikam.example", scenario, i),
				"roles":            e.Roles, "durationDays": 90, "ticket": ticket,
				"partnerContacts": []string{e.PartnerContact}, "customerContacts": []string{e.CustomerContact},
			})
		}
		w.Events = append(w.Events, e)
	}
	return w
}

// seed is graphsim's starting directory for the workload.
func (w workload) seed() graphsim.Seed {
	return graphsim.Seed{
		Partner: graphsim.Tenant{ID: testenv.PartnerTenant, DisplayName: "Fabrikam",
			Domains:       []graphsim.Domain{{ID: "fabrikam.example", IsVerified: true}},
			Users:         []graphsim.User{{ID: "f0000000-0000-4000-8000-000000000001", DisplayName: "Notifications", Mail: testenv.PartnerMailbox, UserPrincipalName: testenv.PartnerMailbox}},
			Groups:        []graphsim.Group{{ID: partnerGroup, DisplayName: "SOC analysts"}},
			Relationships: slices.Clone(w.Rels)},
		Customers: slices.Clone(w.Customers),
	}
}

func sortedRoles(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
}

func mustJSON(v any) []byte {
	b, err := jsonMarshal(v)
	if err != nil {
		panic(err) // only plain maps and strings reach here
	}
	return b
}
