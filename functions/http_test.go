package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func requestB2B(delivery string, roles ...string) map[string]any {
	if len(roles) == 0 {
		roles = []string{"Security Operator"}
	}
	return map[string]any{
		"deliveryId": delivery, "action": "request-access", "ticket": map[string]string{"system": "jira", "id": "SEC-42"},
		"method": "b2b", "customerTenantId": customerTenant, "partnerTenantId": partnerTenant,
		"invitee": map[string]string{"email": "new.analyst@fabrikam.example", "displayName": "Fabrikam SOC analyst"},
		"roles":   roles, "durationDays": 30, "partnerContacts": []string{"soc@fabrikam.example"},
	}
}

func TestTicketRequestB2BFlowsToActive(t *testing.T) {
	e := newEnv(t)
	res := e.ticket(requestB2B("d-0001"))
	if res.Status != http.StatusAccepted || res.Body["status"] != "requested" || !strings.HasPrefix(res.Body["grantId"].(string), "b2b:") {
		t.Fatalf("request-access: got %d %s, want 202 with a requested b2b grant", res.Status, res.Raw)
	}
	grantID := res.Body["grantId"].(string)
	// The invitation-sent message was published; deliver it as the host would.
	msgs := e.published.to(FnInvitationSent)
	if len(msgs) != 1 || msgs[0].ID != "invitation-d-0001" {
		t.Fatalf("published invitation-sent: got %+v, want one with id invitation-d-0001", msgs)
	}
	e.mustDeliver(FnInvitationSent, msgs[0].ID, 1, msgs[0].Body)
	g := e.grant(grantID)
	if g.Status != access.StatusActive || !g.ExpiresAt.Equal(e.clock.Now().Add(30*access.Day)) || g.Ticket.ID != "SEC-42" {
		t.Fatalf("grant: got %+v, want active for 30 days from ticket SEC-42", g)
	}
	if roles := e.rolesOf(customerTenant, g.PrincipalID); !slices.Equal(roles, []string{access.SecurityOperatorID}) {
		t.Fatalf("guest roles: got %v", roles)
	}

	// The same delivery again: the earlier answer, no second invitation.
	again := e.ticket(requestB2B("d-0001"))
	if again.Status != http.StatusOK || again.Body["grantId"] != grantID {
		t.Fatalf("replay: got %d %s, want 200 with the earlier outcome", again.Status, again.Raw)
	}
	if n := len(e.published.to(FnInvitationSent)); n != 1 {
		t.Errorf("replay published %d invitation-sent messages, want still 1", n)
	}

	// Extend, then revoke.
	ext := e.ticket(map[string]any{"deliveryId": "d-0002", "action": "extend-access", "customerTenantId": customerTenant,
		"grantId": grantID, "durationDays": 60, "ticket": map[string]string{"system": "jira", "id": "SEC-43"}})
	if ext.Status != http.StatusOK || !e.grant(grantID).ExpiresAt.Equal(e.clock.Now().Add(60*access.Day)) {
		t.Fatalf("extend: got %d %s, grant until %v", ext.Status, ext.Raw, e.grant(grantID).ExpiresAt)
	}
	over := e.ticket(map[string]any{"deliveryId": "d-0003", "action": "extend-access", "customerTenantId": customerTenant,
		"grantId": grantID, "durationDays": 400})
	if over.Status != http.StatusUnprocessableEntity {
		t.Errorf("extend over the cap: got %d %s, want 422", over.Status, over.Raw)
	}
	rev := e.ticket(map[string]any{"deliveryId": "d-0004", "action": "revoke-access", "customerTenantId": customerTenant, "grantId": grantID})
	if rev.Status != http.StatusOK || e.grant(grantID).Status != access.StatusRevoked {
		t.Fatalf("revoke: got %d %s, grant %s", rev.Status, rev.Raw, e.grant(grantID).Status)
	}
	if roles := e.rolesOf(customerTenant, g.PrincipalID); len(roles) != 0 {
		t.Errorf("roles after revoke: got %v, want none", roles)
	}
}

func TestTicketSignatureAndBody(t *testing.T) {
	e := newEnv(t)
	body := mustMarshal(t, requestB2B("d-sig"))
	cases := []struct {
		name   string
		header http.Header
		body   []byte
		status int
	}{
		{"unsigned", http.Header{"Content-Type": {"application/json"}}, body, http.StatusUnauthorized},
		{"wrong secret", webhook.TicketHeaders([]byte("not-the-secret"), body, time.Now()), body, http.StatusUnauthorized},
		{"stale timestamp", webhook.TicketHeaders([]byte(ticketSecret), body, time.Now().Add(-10*time.Minute)), body, http.StatusUnauthorized},
		{"body altered after signing", webhook.TicketHeaders([]byte(ticketSecret), body, time.Now()), append([]byte(nil), strings.Replace(string(body), "30", "300", 1)...), http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(FnTicketWebhook, "POST", "/api/webhooks/ticketing", tc.header, tc.body, nil)
			if res.Status != tc.status || res.Header["Content-Type"] != "application/problem+json" {
				t.Fatalf("got %d %s (%s), want %d problem+json", res.Status, res.Raw, res.Header["Content-Type"], tc.status)
			}
			if strings.Contains(res.Raw, ticketSecret) {
				t.Fatal("the answer contains the secret")
			}
		})
	}
	if n := len(e.published.to(FnInvitationSent)); n != 0 {
		t.Fatalf("refused requests published %d messages", n)
	}

	bad := requestB2B("d-bad")
	bad["customerTenantId"] = "contoso"
	bad["invitee"] = map[string]string{"email": "not an address"}
	bad["roles"] = []string{"Janitor"}
	res := e.ticket(bad)
	if res.Status != http.StatusBadRequest {
		t.Fatalf("invalid body: got %d %s, want 400", res.Status, res.Raw)
	}
	var fields []string
	for _, f := range res.Body["errors"].([]any) {
		fields = append(fields, f.(map[string]any)["field"].(string))
	}
	for _, want := range []string{"customerTenantId", "invitee.email", "roles[0]"} {
		if !slices.Contains(fields, want) {
			t.Errorf("problem fields: got %v, want %s among them", fields, want)
		}
	}

	huge := append(append([]byte(`{"deliveryId":"d-big","pad":"`), []byte(strings.Repeat("x", 300<<10))...), []byte(`"}`)...)
	res = e.call(FnTicketWebhook, "POST", "/api/webhooks/ticketing", webhook.TicketHeaders([]byte(ticketSecret), huge, time.Now()), huge, nil)
	if res.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("300 KiB body: got %d, want 413", res.Status)
	}
}

func TestTicketRequestOutsidePolicy(t *testing.T) {
	e := newEnv(t)
	res := e.ticket(requestB2B("d-ga", "Global Administrator"))
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Raw, "Global Administrator") {
		t.Fatalf("got %d %s, want 422 naming Global Administrator", res.Status, res.Raw)
	}
	g := e.grant("b2b:request-d-ga")
	if g.Status != access.StatusRefused {
		t.Fatalf("refusal recorded as %s, want refused", g.Status)
	}
	if len(e.sim.State().Tenants[1].Users) != 1 {
		t.Errorf("a guest was invited for a refused request")
	}
	if e.tickets.count() != 1 {
		t.Errorf("ticket comments: got %d, want the refusal told on the ticket", e.tickets.count())
	}
	// Replayed, it gets the recorded outcome.
	if again := e.ticket(requestB2B("d-ga", "Global Administrator")); again.Status != http.StatusOK || again.Body["status"] != "refused" {
		t.Errorf("replay: got %d %s, want 200 with the refusal", again.Status, again.Raw)
	}
}

func TestTicketRequestGDAP(t *testing.T) {
	e := newEnv(t)
	res := e.ticket(map[string]any{"deliveryId": "d-g1", "action": "request-access", "method": "gdap",
		"ticket": map[string]string{"system": "servicenow", "id": "CHG0042"}, "customerTenantId": customerTenant,
		"roles": []string{"Security Reader", "Security Operator"}, "durationDays": 180, "customerContacts": []string{"admin@contoso.example"}})
	if res.Status != http.StatusAccepted || res.Body["status"] != "pending" {
		t.Fatalf("got %d %s, want 202 pending", res.Status, res.Raw)
	}
	link, _ := res.Body["approvalUrl"].(string)
	relID := strings.TrimPrefix(res.Body["grantId"].(string), "gdap:")
	if !strings.HasSuffix(link, "/granularAdminRelationships/"+relID) {
		t.Fatalf("approval link %q does not name relationship %s", link, relID)
	}
	var rel map[string]any
	for _, r := range e.sim.State().Tenants[0].Relationships {
		if r.ID == relID {
			b, _ := json.Marshal(r)
			_ = json.Unmarshal(b, &rel)
		}
	}
	if rel["status"] != "approvalPending" || rel["duration"] != "P180D" {
		t.Fatalf("relationship in Graph: got %v, want approvalPending for P180D", rel)
	}
	mails := e.mails()
	if len(mails) != 1 || !strings.Contains(mails[0].Body, link) {
		t.Fatalf("customer mail: got %+v, want the approval link", mails)
	}
}

func TestTicketRequestLighthouse(t *testing.T) {
	e := newEnv(t)
	sub := "c0ffee00-1111-4222-8333-444455556666"
	res := e.ticket(map[string]any{"deliveryId": "d-l1", "action": "request-access", "method": "lighthouse",
		"customerTenantId": customerTenant, "subscriptionId": sub, "durationDays": 60, "customerContacts": []string{"admin@contoso.example"}})
	if res.Status != http.StatusAccepted || res.Body["grantId"] != "lighthouse:"+sub || res.Body["status"] != "pending" {
		t.Fatalf("got %d %s, want 202 pending lighthouse:%s", res.Status, res.Raw, sub)
	}
	mails := e.mails()
	if len(mails) != 1 || !strings.Contains(mails[0].Body, "Microsoft.ManagedServices/registrationDefinitions") {
		t.Fatalf("customer mail: want the onboarding template, got %+v", mails)
	}
	g := e.grant("lighthouse:" + sub)
	if g.CapacityPlan != "partner" || !g.ExpiresAt.Equal(e.clock.Now().Add(60*access.Day)) {
		t.Fatalf("grant: got %+v, want paid by the partner, tracked for 60 days", g)
	}
	if n := len(e.published.to(FnGrantExpiring)); n != 1 {
		t.Errorf("scheduled %d notices, want the first one: the delegation never ends by itself, the app tracks it", n)
	}
}

func TestPartnerCenterWebhook(t *testing.T) {
	e := newEnvWith(t, withRelationship("active", access.SecurityReaderID))
	event := []byte(`{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` +
		relationshipID + `","ResourceName":"GranularAdminRelationship","AuditUri":null,"ResourceChangeUtcDate":"2026-11-27T08:00:00.5485487+00:00"}`)
	// A relationship the app did not request: nothing granted, nothing
	// published, the event recorded.
	res := e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", e.pc.Headers(t, event), event, nil)
	if res.Status != http.StatusOK || res.Body["status"] != "not requested" || len(e.published.to(FnGDAPApproved)) != 0 {
		t.Fatalf("approved event for a relationship nobody requested: got %d %s and %d messages, want 200 not requested and none",
			res.Status, res.Raw, len(e.published.to(FnGDAPApproved)))
	}
	if _, _, err := e.store.Grant(context.Background(), customerTenant, "gdap:"+relationshipID); !access.IsKind(err, access.KindNotFound) {
		t.Fatalf("grant after an unrequested approval: %v, want none", err)
	}
	// The app's own request, waiting for the customer.
	if err := e.store.Commit(context.Background(), access.Change{Grant: access.Grant{ID: "gdap:" + relationshipID, CustomerTenantID: customerTenant,
		PartnerTenantID: partnerTenant, Method: access.GDAP, Status: access.StatusPending, PrincipalID: partnerGroup,
		Roles: []string{access.SecurityReaderID}, CreatedAt: t0, UpdatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	event = []byte(strings.Replace(string(event), "08:00:00.5485487", "08:00:01.5485487", 1))
	res = e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", e.pc.Headers(t, event), event, nil)
	if res.Status != http.StatusAccepted {
		t.Fatalf("approved event: got %d %s, want 202", res.Status, res.Raw)
	}
	msgs := e.published.to(FnGDAPApproved)
	if len(msgs) != 1 {
		t.Fatalf("published gdap-approved: got %d, want 1", len(msgs))
	}
	e.mustDeliver(FnGDAPApproved, msgs[0].ID, 1, msgs[0].Body)
	if g := e.grant("gdap:" + relationshipID); g.Status != access.StatusActive {
		t.Fatalf("grant after approval: got %s, want active", g.Status)
	}

	// Altered after signing, signed by someone else's key, no signature: 401, nothing published.
	altered := []byte(strings.Replace(string(event), "approved", "terminated", 1))
	other := testenvPartnerCenter(t)
	for name, h := range map[string]http.Header{
		"altered":   e.pc.Headers(t, event),
		"re-signed": other.Headers(t, altered),
		"unsigned":  {"Content-Type": {"application/json"}},
	} {
		res := e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", h, altered, nil)
		if res.Status != http.StatusUnauthorized {
			t.Errorf("%s: got %d %s, want 401", name, res.Status, res.Raw)
		}
	}
	if g := e.grant("gdap:" + relationshipID); g.Status != access.StatusActive {
		t.Fatalf("forged events changed the grant to %s", g.Status)
	}

	// Terminated: recorded only once Graph shows it.
	terminated := []byte(strings.Replace(string(event), "approved", "terminated", 1))
	res = e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", e.pc.Headers(t, terminated), terminated, nil)
	if res.Status != http.StatusOK || res.Body["status"] != "unconfirmed" || e.grant("gdap:"+relationshipID).Status != access.StatusActive {
		t.Fatalf("terminated event while Graph shows it active: got %d %s, grant %s; want 200 unconfirmed and still active", res.Status, res.Raw, e.grant("gdap:"+relationshipID).Status)
	}
	status := "terminated"
	if err := e.sim.ChangeRelationship(relationshipID, graphsim.RelationshipChange{Status: &status}); err != nil {
		t.Fatal(err)
	}
	res = e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", e.pc.Headers(t, terminated), terminated, nil)
	if res.Status != http.StatusOK || e.grant("gdap:"+relationshipID).Status != access.StatusRevoked {
		t.Fatalf("terminated event: got %d %s, grant %s; want 200 and revoked", res.Status, res.Raw, e.grant("gdap:"+relationshipID).Status)
	}
	test := []byte(`{"EventName":"test-created","ResourceUri":"https://partner.microsoft.com/webhooks","ResourceName":"Test","AuditUri":null,"ResourceChangeUtcDate":"2026-11-27T08:00:00Z"}`)
	if res := e.call(FnPartnerCenterWebhook, "POST", "/api/webhooks/partner-center", e.pc.Headers(t, test), test, nil); res.Status != http.StatusOK {
		t.Errorf("test event: got %d %s, want 200", res.Status, res.Raw)
	}
}

func TestGrantsView(t *testing.T) {
	e := newEnv(t)
	g := activeGuest(t, e)
	e.ticket(requestB2B("d-ga", "Global Administrator")) // a refused one

	list := e.call(FnGrants, "GET", "/api/grants?customerTenantId="+customerTenant+"&status=active", nil, nil, nil)
	grants, _ := list.Body["grants"].([]any)
	if list.Status != http.StatusOK || len(grants) != 1 || grants[0].(map[string]any)["grantId"] != g.ID {
		t.Fatalf("active grants: got %d %s", list.Status, list.Raw)
	}
	want := map[string]any{"grantId": g.ID, "customerTenantId": customerTenant, "partnerTenantId": partnerTenant, "method": "b2b",
		"status": "active", "principalId": guestID, "expiresAt": g.ExpiresAt.Format(time.RFC3339), "autoExtend": "PT0S", "capacityPlan": "customer"}
	for k, v := range want {
		if got := grants[0].(map[string]any)[k]; got != v {
			t.Errorf("grant %s: got %v, want %v", k, got, v)
		}
	}
	soon := e.call(FnGrants, "GET", "/api/grants?expiresWithinDays=30", nil, nil, nil)
	if n := len(soon.Body["grants"].([]any)); n != 0 {
		t.Errorf("expiring within 30 days: got %d, want 0 (the grant runs 90)", n)
	}
	paged := e.call(FnGrants, "GET", "/api/grants?limit=1", nil, nil, nil)
	if len(paged.Body["grants"].([]any)) != 1 || paged.Body["continuationToken"] == nil {
		t.Errorf("limit 1: got %s, want one grant and a continuation token", paged.Raw)
	}
	one := e.call(FnGrants, "GET", "/api/grants/"+customerTenant+"/"+g.ID, nil, nil, map[string]string{"customerTenantId": customerTenant, "grantId": g.ID})
	audit, _ := one.Body["audit"].([]any)
	if one.Status != http.StatusOK || len(audit) < 2 || audit[len(audit)-1].(map[string]any)["action"] != "activate" {
		t.Fatalf("one grant: got %d %s, want the grant and its audit trail in time order", one.Status, one.Raw)
	}
	missing := e.call(FnGrants, "GET", "/api/grants/x", nil, nil, map[string]string{"customerTenantId": customerTenant, "grantId": "b2b:nobody"})
	if missing.Status != http.StatusNotFound {
		t.Errorf("missing grant: got %d, want 404", missing.Status)
	}
	bad := e.call(FnGrants, "GET", "/api/grants?status=happy&expiresWithinDays=-1", nil, nil, nil)
	if bad.Status != http.StatusBadRequest || !strings.Contains(bad.Raw, "expiresWithinDays") {
		t.Errorf("bad filters: got %d %s, want 400 naming the fields", bad.Status, bad.Raw)
	}
}

func TestAdvisor(t *testing.T) {
	e := newEnv(t)
	res := e.call(FnAdvisor, "POST", "/api/advisor", nil, []byte(`{"plugins":["Microsoft Sentinel","NL2KQL Sentinel"],"capacityPlan":"partner","timeBound":true}`), nil)
	recs, _ := res.Body["recommendations"].([]any)
	if res.Status != http.StatusOK || len(recs) != 3 {
		t.Fatalf("got %d %s, want 200 with three recommendations", res.Status, res.Raw)
	}
	first := recs[0].(map[string]any)
	if first["method"] != "lighthouse" || first["fits"] != true {
		t.Errorf("first: got %v, want lighthouse that fits", first)
	}
	bad := e.call(FnAdvisor, "POST", "/api/advisor", nil, []byte(`{"plugins":["Clippy"]}`), nil)
	if bad.Status != http.StatusBadRequest || !strings.Contains(bad.Raw, "plugins[0]") {
		t.Errorf("unknown plugin: got %d %s, want 400 naming plugins[0]", bad.Status, bad.Raw)
	}
	_ = context.Background()
}

func TestTicketMissingConsentIsNotTheCallers401(t *testing.T) {
	e := newEnv(t)
	if err := e.sim.InjectFault(graphsim.Fault{Status: http.StatusForbidden, TenantID: customerTenant, Operation: graphsim.OpCreateInvitation,
		Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."}); err != nil {
		t.Fatal(err)
	}
	res := e.ticket(requestB2B("d-consent"))
	if res.Status != http.StatusBadGateway || !strings.Contains(res.Raw, customerTenant) || !strings.Contains(res.Raw, "User.Invite.All") {
		t.Fatalf("got %d %s, want 502 naming the tenant and the permission to consent", res.Status, res.Raw)
	}
}

// TestTicketReplayFinishesThePromisedMessage: when the first delivery
// committed but could not publish invitation-sent, the ticketing system's
// retry publishes it, and is not told 200 before that is done.
func TestTicketReplayFinishesThePromisedMessage(t *testing.T) {
	e := newEnv(t)
	e.published.fail = true
	if res := e.ticket(requestB2B("d-pub")); res.Status != http.StatusServiceUnavailable {
		t.Fatalf("first delivery with the queue down: got %d %s, want 503", res.Status, res.Raw)
	}
	if res := e.ticket(requestB2B("d-pub")); res.Status != http.StatusServiceUnavailable {
		t.Fatalf("replay with the queue still down: got %d %s, want 503 so that the caller retries", res.Status, res.Raw)
	}
	e.published.fail = false
	res := e.ticket(requestB2B("d-pub"))
	if res.Status != http.StatusOK || res.Body["status"] != "requested" {
		t.Fatalf("replay with the queue back: got %d %s, want 200 with the earlier outcome", res.Status, res.Raw)
	}
	if msgs := e.published.to(FnInvitationSent); len(msgs) != 1 {
		t.Fatalf("invitation-sent published %d times, want once", len(msgs))
	}
}
