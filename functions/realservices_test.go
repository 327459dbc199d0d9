package functions

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Four copies of one GDAP request at once make exactly one relationship
// (Graph keeps display names unique), and every copy answers with it.
func TestGDAPRequestCopiesMakeOneRelationship(t *testing.T) {
	e := newEnv(t)
	cmd := map[string]any{"deliveryId": "d-g-copies", "action": "request-access", "method": "gdap",
		"ticket": map[string]string{"system": "jira", "id": "SEC-900"}, "customerTenantId": customerTenant,
		"roles": []string{"Security Reader"}, "durationDays": 90}
	results := make([]httpResult, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = e.ticket(cmd) }()
	}
	wg.Wait()
	grants := map[string]bool{}
	for _, r := range results {
		switch r.Status {
		case http.StatusAccepted, http.StatusOK:
			grants[r.Body["grantId"].(string)] = true
		case http.StatusConflict, http.StatusServiceUnavailable:
			// A copy that lost a race is told to send again: it then gets
			// the same answer.
			again := e.ticket(cmd)
			if again.Status != http.StatusOK {
				t.Fatalf("a losing copy sent again: got %d %s, want 200", again.Status, again.Raw)
			}
			grants[again.Body["grantId"].(string)] = true
		default:
			t.Fatalf("a copy: got %d %s", r.Status, r.Raw)
		}
	}
	var rels []string
	for _, r := range e.sim.State().Tenants[0].Relationships {
		if strings.HasPrefix(r.DisplayName, "Security Copilot SEC-900") {
			rels = append(rels, r.ID)
		}
	}
	if len(rels) != 1 || len(grants) != 1 || !grants["gdap:"+rels[0]] {
		t.Fatalf("relationships %v, grants %v: want exactly one, the same", rels, grants)
	}
	// The same ticket for another customer gets a relationship of its own.
	other := map[string]any{}
	for k, v := range cmd {
		other[k] = v
	}
	other["deliveryId"] = "d-g-copies-2"
	if res := e.ticket(other); res.Status != http.StatusAccepted {
		t.Fatalf("a new request on the same ticket: got %d %s, want 202", res.Status, res.Raw)
	}
	if n := len(e.sim.State().Tenants[0].Relationships); n != 2 {
		t.Errorf("relationships: %d, want 2 (one per request)", n)
	}
}

func TestPartnerCenterEventWithoutDateIsInvalid(t *testing.T) {
	e := newEnvWith(t, withRelationship("active", access.SecurityReaderID))
	event := []byte(`{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` +
		relationshipID + `","ResourceName":"GranularAdminRelationship","AuditUri":null}`)
	res := e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", e.pc.Headers(t, event), event, nil)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Raw, "ResourceChangeUtcDate") {
		t.Fatalf("an event without its date: got %d %s, want 400 naming ResourceChangeUtcDate", res.Status, res.Raw)
	}
}

func TestPartnerCenterActivatedIsLikeApproved(t *testing.T) {
	e := newEnv(t)
	res := e.ticket(map[string]any{"deliveryId": "d-act-1", "action": "request-access", "method": "gdap",
		"ticket": map[string]string{"system": "jira", "id": "SEC-901"}, "customerTenantId": customerTenant,
		"roles": []string{"Security Reader"}, "durationDays": 90})
	if res.Status != http.StatusAccepted {
		t.Fatalf("request: got %d %s", res.Status, res.Raw)
	}
	grantID := res.Body["grantId"].(string)
	relID := strings.TrimPrefix(grantID, "gdap:")
	if err := e.sim.ApproveRelationship(relID); err != nil {
		t.Fatal(err)
	}
	event := []byte(`{"EventName":"granular-admin-relationship-activated","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` +
		relID + `","ResourceName":"GranularAdminRelationship","AuditUri":null,"ResourceChangeUtcDate":"2026-11-27T08:05:00Z"}`)
	pc := e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", e.pc.Headers(t, event), event, nil)
	if pc.Status != http.StatusAccepted {
		t.Fatalf("activated event: got %d %s, want 202", pc.Status, pc.Raw)
	}
	msgs := e.published.to(FnGDAPApproved)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Body), partnerGroup) {
		t.Fatalf("published: %+v, want one gdap-approved carrying the request's security group", msgs)
	}
	e.mustDeliver(FnGDAPApproved, msgs[0].ID, 1, msgs[0].Body)
	if g := e.grant(grantID); g.Status != access.StatusActive || g.PrincipalID != partnerGroup {
		t.Fatalf("grant: %s for %s, want active for the partner group", g.Status, g.PrincipalID)
	}
}
