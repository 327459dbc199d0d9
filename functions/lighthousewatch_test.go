package functions

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/lighthouse"
)

// TestLighthouseWatchedAndRemovedThroughARM drives a Lighthouse grant from
// the ticket to the removal of its delegation, through the real azcore ARM
// client against the simulator's Microsoft.ManagedServices.
func TestLighthouseWatchedAndRemovedThroughARM(t *testing.T) {
	e := newEnv(t)
	sub := "c0ffee00-1111-4222-8333-444455556666"
	res := e.ticket(map[string]any{"deliveryId": "d-arm-1", "action": "request-access", "method": "lighthouse",
		"customerTenantId": customerTenant, "subscriptionId": sub, "durationDays": 60, "customerContacts": []string{"admin@contoso.example"}})
	if res.Status != http.StatusAccepted {
		t.Fatalf("request: got %d %s", res.Status, res.Raw)
	}
	grantID := "lighthouse:" + sub
	// The template authorizes the app's own identity to delete the
	// assignment, and for nothing else.
	mail := e.mails()[0].Body
	if !strings.Contains(mail, appPrincipalID) || !strings.Contains(mail, lighthouse.RegistrationAssignmentDeleteID) {
		t.Fatalf("the onboarding template does not name the app's identity with the Delete Role")
	}
	watch := func() {
		t.Helper()
		for _, m := range e.published.to(FnGrantExpiring) {
			var body struct {
				EventID string `json:"eventId"`
			}
			_ = json.Unmarshal(m.Body, &body)
			if strings.HasPrefix(body.EventID, "lh") {
				e.mustDeliver(FnGrantExpiring, m.ID, 1, m.Body)
			}
		}
	}
	watch() // not deployed yet: still pending
	if g := e.grant(grantID); g.Status != access.StatusPending {
		t.Fatalf("before the deployment: %s, want pending", g.Status)
	}
	// The customer deploys the template.
	e.sim.AddDelegation(graphsim.Delegation{SubscriptionID: sub, ManagedByTenantID: partnerTenant, OfferName: lighthouse.DefaultOfferName,
		Authorizations: []graphsim.Authorization{
			{PrincipalID: partnerGroup, RoleDefinitionID: lighthouse.SentinelReaderID},
			{PrincipalID: appPrincipalID, RoleDefinitionID: lighthouse.RegistrationAssignmentDeleteID}}})
	watch()
	watch() // redelivered
	if g := e.grant(grantID); g.Status != access.StatusActive {
		t.Fatalf("after the deployment: %s, want active", g.Status)
	}
	// The portal says plainly who ends it.
	page := e.portalCall("GET", "/api/portal/grants/"+customerTenant+"/"+grantID, operator, nil, nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Raw), "removes the Azure Lighthouse delegation itself") {
		t.Errorf("the portal's grant page (%d) does not say the app removes the delegation", page.Status)
	}
	rev := e.ticket(map[string]any{"deliveryId": "d-arm-2", "action": "revoke-access", "customerTenantId": customerTenant, "grantId": grantID})
	if rev.Status != http.StatusOK {
		t.Fatalf("revoke: got %d %s", rev.Status, rev.Raw)
	}
	if left := e.sim.Delegations(); len(left) != 0 {
		t.Fatalf("after revoke: %d delegations left, want the app to have removed it", len(left))
	}
	if g := e.grant(grantID); g.Status != access.StatusRevoked {
		t.Fatalf("after revoke: %s, want revoked", g.Status)
	}
}

func TestGrantExpiringWithAnUnknownCheckIsRejected(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"eventId":"chk-1","occurredAt":"2026-11-27T08:00:00Z","customerTenantId":"` + customerTenant +
		`","grantId":"b2b:` + guestID + `","noticeDays":7,"expiresAt":"2027-01-01T00:00:00Z","check":"delegation"}`)
	e.mustDeliver(FnGrantExpiring, "chk-1", 1, body)
	if reason, ok := e.rejected(FnGrantExpiring, "chk-1"); !ok || !strings.Contains(reason, "check") {
		t.Fatalf("a delegation check of a B2B grant: rejected %v (%q), want rejected naming check", ok, reason)
	}
}
