package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

func invitation(eventID string, roles ...string) map[string]any {
	if len(roles) == 0 {
		roles = []string{access.SecurityOperatorID}
	}
	return map[string]any{
		"eventId": eventID, "occurredAt": "2026-11-27T08:00:00Z",
		"customerTenantId": customerTenant, "partnerTenantId": partnerTenant,
		"invitationId": "7b3f0c57-1d2e-4c9a-9d6e-2f1a0b3c4d5e", "invitedUserId": guestID,
		"invitedUserEmail": "analyst@fabrikam.example", "roles": roles, "durationDays": 90,
		"ticket":          map[string]string{"system": "servicenow", "id": "INC0012345"},
		"partnerContacts": []string{"soc@fabrikam.example"}, "customerContacts": []string{"secops@contoso.example"},
	}
}

func statusOf(t *testing.T, status int, out map[string]any) {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("got outer status %d (logs %v), want 200", status, out["Logs"])
	}
}

// mustDeliver delivers a message and fails the test unless the function
// completes it (200).
func (e *env) mustDeliver(function, messageID string, delivery int, body []byte) {
	e.t.Helper()
	status, out := e.deliver(function, messageID, delivery, body)
	statusOf(e.t, status, out)
}

func TestInvitationSentActivatesOnce(t *testing.T) {
	e := newEnv(t)
	body := mustMarshal(t, invitation("5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10"))
	e.mustDeliver(FnInvitationSent, "5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10", 1, body)

	g := e.grant("b2b:" + guestID)
	want := t0.Add(90 * access.Day)
	if g.Status != access.StatusActive || !g.ExpiresAt.Equal(want) || g.PrincipalID != guestID || g.Method != access.B2B || g.CapacityPlan != "customer" {
		t.Fatalf("grant: got %+v, want active b2b for %s until %v paid by the customer", g, guestID, want)
	}
	if got := e.rolesOf(customerTenant, guestID); !slices.Equal(got, []string{access.SecurityOperatorID}) {
		t.Fatalf("guest roles in Graph: got %v, want [Security Operator]", got)
	}
	// The next action, the 30-day notice, is scheduled (each action
	// schedules the one after it).
	sched := e.published.to(FnGrantExpiring)
	if len(sched) != 1 {
		t.Fatalf("scheduled: got %d messages, want the 30-day notice only", len(sched))
	}
	var next lifecycle.GrantExpiring
	if err := json.Unmarshal(sched[0].Body, &next); err != nil {
		t.Fatal(err)
	}
	if *next.NoticeDays != 30 || sched[0].ID != next.EventID || !sched[0].NotBefore.Equal(want.Add(-30*access.Day)) || !next.ExpiresAt.Equal(want) {
		t.Fatalf("scheduled %s: stage %d due %v, want the 30-day notice due %v with MessageId = eventId", sched[0].ID, *next.NoticeDays, sched[0].NotBefore, want.Add(-30*access.Day))
	}
	mails := e.mails()
	if len(mails) != 2 {
		t.Fatalf("mails: got %d, want 2 (partner and customer): %+v", len(mails), mails)
	}
	partnerMail := mails[0]
	if !slices.Contains(partnerMail.To, "soc@fabrikam.example") {
		partnerMail = mails[1]
	}
	if !strings.Contains(partnerMail.Body, "https://securitycopilot.microsoft.com/?tenantId="+customerTenant) {
		t.Errorf("partner mail: got %q, want the tenant-switch link", partnerMail.Body)
	}
	if e.teams.count() != 1 || e.tickets.count() != 1 {
		t.Errorf("teams %d, ticket %d: want one card and one ticket comment", e.teams.count(), e.tickets.count())
	}
	trail := e.audit(g.ID)
	var actions []string
	for _, a := range trail {
		actions = append(actions, a.Action)
	}
	if !slices.Equal(actions, []string{"graph:assign-role", "activate"}) {
		t.Errorf("audit: got %v, want [graph:assign-role activate]", actions)
	}

	// The same message again, with another delivery count: nothing new.
	e.mustDeliver(FnInvitationSent, "5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10", 2, body)
	if got := e.rolesOf(customerTenant, guestID); len(got) != 1 {
		t.Errorf("after redelivery: got roles %v, want one assignment", got)
	}
	if len(e.mails()) != 2 || e.teams.count() != 1 || e.tickets.count() != 1 || len(e.published.to(FnGrantExpiring)) != 1 {
		t.Errorf("after redelivery: mails %d teams %d ticket %d scheduled %d; want 2 1 1 1",
			len(e.mails()), e.teams.count(), e.tickets.count(), len(e.published.to(FnGrantExpiring)))
	}
	if got := len(e.audit(g.ID)); got != len(trail) {
		t.Errorf("after redelivery: audit has %d rows, want %d", got, len(trail))
	}
}

func TestInvitationSentConcurrentCopies(t *testing.T) {
	e := newEnv(t)
	body := mustMarshal(t, invitation("9a0b1c2d-0000-4000-8000-000000000001", access.SecurityReaderID, access.SecurityOperatorID))
	var wg sync.WaitGroup
	statuses := make([]int, 3)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i], _ = e.deliver(FnInvitationSent, "9a0b1c2d-0000-4000-8000-000000000001", i+1, body)
		}(i)
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("copy %d: got status %d, want 200", i, s)
		}
	}
	roles := e.rolesOf(customerTenant, guestID)
	slices.Sort(roles)
	if want := []string{access.SecurityReaderID, access.SecurityOperatorID}; !slices.Equal(roles, want) {
		t.Errorf("roles: got %v, want one assignment each of %v", roles, want)
	}
	activations := 0
	for _, a := range e.audit("b2b:" + guestID) {
		if a.Action == "activate" {
			activations++
		}
	}
	if activations != 1 || len(e.mails()) != 2 || e.teams.count() != 1 || e.tickets.count() != 1 {
		t.Errorf("got %d activations, %d mails, %d cards, %d ticket comments; want 1, 2, 1, 1", activations, len(e.mails()), e.teams.count(), e.tickets.count())
	}
}

func TestInvitationSentRefusedByPolicy(t *testing.T) {
	for _, tc := range []struct{ name, role string }{
		{"global administrator", "Global Administrator"},
		{"security administrator not allowed", access.SecurityAdministratorID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			body := mustMarshal(t, invitation("7c000000-0000-4000-8000-00000000000"+string('1'+rune(len(tc.name)%8)), tc.role))
			e.mustDeliver(FnInvitationSent, "refused-1", 1, body)
			g := e.grant("b2b:" + guestID)
			if g.Status != access.StatusRefused || !strings.Contains(g.Reason, "refused by policy") {
				t.Fatalf("grant: got %s (%q), want refused by policy", g.Status, g.Reason)
			}
			if got := e.rolesOf(customerTenant, guestID); len(got) != 0 {
				t.Errorf("roles: got %v, want none assigned", got)
			}
			if len(e.mails()) != 2 || e.teams.count() != 1 || e.tickets.count() != 1 {
				t.Errorf("notifications: got %d mails %d cards %d comments, want every party told", len(e.mails()), e.teams.count(), e.tickets.count())
			}
			if n := len(e.published.to(FnGrantExpiring)); n != 0 {
				t.Errorf("scheduled %d notices for a refused grant, want none", n)
			}
		})
	}
}

func TestBadMessagesAreKeptWhole(t *testing.T) {
	e := newEnv(t)
	good := invitation("bad-0")
	mutate := func(k string, v any) []byte {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return mustMarshal(t, m)
	}
	cases := []struct {
		name, field string
		body        []byte
	}{
		{"not json", "", []byte("{not json")},
		{"tenant not a guid", "customerTenantId", mutate("customerTenantId", "contoso")},
		{"unknown role", "roles[0]", mutate("roles", []string{"Janitor"})},
		{"duration over the cap", "durationDays", mutate("durationDays", 400)},
		{"missing guest", "invitedUserId", mutate("invitedUserId", nil)},
		{"roles not a list", "roles", mutate("roles", "Security Reader")},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "bad-" + string(rune('a'+i))
			status, out := e.deliver(FnInvitationSent, id, 1, tc.body)
			statusOf(t, status, out)
			rej, err := e.store.Rejections(context.Background(), FnInvitationSent, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			var found *access.Rejected
			for i := range rej {
				if rej[i].MessageID == id {
					found = &rej[i]
				}
			}
			if found == nil {
				t.Fatalf("no Rejected row for %s", id)
			}
			if string(found.Body) != string(tc.body) {
				t.Errorf("kept body: got %q, want %q", found.Body, tc.body)
			}
			if tc.field != "" && !strings.Contains(found.Reason, tc.field) {
				t.Errorf("reason %q: want it to name %s", found.Reason, tc.field)
			}
		})
	}
	if _, _, err := e.store.Grant(context.Background(), customerTenant, "b2b:"+guestID); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("grant after bad messages: got %v, want none written", err)
	}
	// An envelope that is not even JSON is kept whole too.
	status, _ := e.invoke(FnInvitationSent, []byte("garbage envelope"))
	if status != http.StatusOK {
		t.Errorf("garbage envelope: got %d, want 200 (rejected)", status)
	}
}

func TestTransientFaultsChangeNothing(t *testing.T) {
	e := newEnv(t)
	body := mustMarshal(t, invitation("transient-1"))
	if err := e.sim.InjectFault(graphsim.Fault{Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	status, _ := e.deliver(FnInvitationSent, "transient-1", 1, body)
	if status < 500 {
		t.Fatalf("with Graph down: got %d, want a 5xx so the host redelivers", status)
	}
	if _, _, err := e.store.Grant(context.Background(), customerTenant, "b2b:"+guestID); !access.IsKind(err, access.KindNotFound) {
		t.Fatalf("grant after a failed delivery: got %v, want nothing written", err)
	}
	e.sim.ClearFaults()
	e.mustDeliver(FnInvitationSent, "transient-1", 2, body)
	if g := e.grant("b2b:" + guestID); g.Status != access.StatusActive {
		t.Fatalf("after redelivery: got %s, want active", g.Status)
	}
}

func TestFailedChannelIsRetriedAlone(t *testing.T) {
	e := newEnv(t)
	body := mustMarshal(t, invitation("teams-down-1"))
	e.teams.fail(http.StatusServiceUnavailable)
	status, _ := e.deliver(FnInvitationSent, "teams-down-1", 1, body)
	if status < 500 {
		t.Fatalf("with Teams down: got %d, want a 5xx", status)
	}
	if g := e.grant("b2b:" + guestID); g.Status != access.StatusActive {
		t.Fatalf("grant: got %s, want active (the state change is committed)", g.Status)
	}
	mails, tickets := len(e.mails()), e.tickets.count()
	if mails != 2 || tickets != 1 {
		t.Fatalf("first delivery: %d mails, %d ticket comments; want 2 and 1", mails, tickets)
	}
	e.teams.fail(0)
	un, err := e.store.Unsent(context.Background(), customerTenant, "teams-down-1")
	if err != nil || len(un) != 1 || un[0].Notification == nil || un[0].Notification.Channel != access.ChannelTeams {
		t.Fatalf("outbox after the first delivery: got %+v, %v; want only the Teams card unsent", un, err)
	}
	// The redelivery comes after the first delivery's claim has lapsed.
	e.clock.Set(e.clock.Now().Add(3 * time.Minute))
	e.mustDeliver(FnInvitationSent, "teams-down-1", 2, body)
	if e.teams.count() != 1 || len(e.mails()) != 2 || e.tickets.count() != 1 {
		t.Errorf("after redelivery: %d cards, %d mails, %d comments; want 1, 2, 1 (only Teams sent again)", e.teams.count(), len(e.mails()), e.tickets.count())
	}
}
