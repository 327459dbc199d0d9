package functions

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// rejected reports whether a message was kept in Rejected, and why.
func (e *env) rejected(function, messageID string) (string, bool) {
	e.t.Helper()
	rej, err := e.store.Rejections(context.Background(), function, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rej {
		if r.MessageID == messageID {
			return r.Reason, true
		}
	}
	return "", false
}

func TestInvitationFromTheFutureIsRejected(t *testing.T) {
	e := newEnv(t)
	m := invitation("future-1")
	m["occurredAt"] = "2099-01-01T00:00:00Z"
	e.mustDeliver(FnInvitationSent, "future-1", 1, mustMarshal(t, m))
	if reason, ok := e.rejected(FnInvitationSent, "future-1"); !ok || !strings.Contains(reason, "occurredAt") {
		t.Fatalf("an invitation dated 2099: rejected %v (%q), want rejected naming occurredAt", ok, reason)
	}
	if roles := e.rolesOf(customerTenant, guestID); len(roles) != 0 {
		t.Errorf("roles after a future invitation: %v, want none", roles)
	}
	// A little ahead (clock skew) is taken, but the end counts from now.
	m["eventId"], m["occurredAt"] = "future-2", e.clock.Now().Add(2*time.Minute).Format(time.RFC3339)
	e.mustDeliver(FnInvitationSent, "future-2", 1, mustMarshal(t, m))
	if g := e.grant("b2b:" + guestID); g.Status != access.StatusActive || g.ExpiresAt.After(e.clock.Now().Add(90*access.Day)) {
		t.Fatalf("grant: %s until %s, want active until at most now + 90 days", g.Status, g.ExpiresAt)
	}
}

func TestInvitationRolesAreTheRequestedOnes(t *testing.T) {
	e := newEnv(t)
	res := e.ticket(requestB2B("d-roles-1", "Security Reader"))
	if res.Status != http.StatusAccepted {
		t.Fatalf("request: got %d %s", res.Status, res.Raw)
	}
	grantID := res.Body["grantId"].(string)
	guest := strings.TrimPrefix(grantID, "b2b:")
	msg := e.published.to(FnInvitationSent)[0]
	// A message widened on the way: Reader and Operator.
	wide := strings.Replace(string(msg.Body), `"roles":["`+access.SecurityReaderID+`"]`,
		`"roles":["`+access.SecurityReaderID+`","`+access.SecurityOperatorID+`"]`, 1)
	if wide == string(msg.Body) {
		t.Fatalf("could not widen %s", msg.Body)
	}
	e.mustDeliver(FnInvitationSent, "wide-1", 1, []byte(strings.Replace(wide, msg.ID, "wide-1", 1)))
	if _, ok := e.rejected(FnInvitationSent, "wide-1"); !ok {
		t.Fatalf("a message with more roles than the request was not rejected")
	}
	if roles := e.rolesOf(customerTenant, guest); len(roles) != 0 {
		t.Fatalf("roles after the widened message: %v, want none", roles)
	}
	// The real message: Reader only.
	e.mustDeliver(FnInvitationSent, msg.ID, 1, msg.Body)
	if roles := e.rolesOf(customerTenant, guest); !slices.Equal(roles, []string{access.SecurityReaderID}) {
		t.Fatalf("roles: %v, want Security Reader", roles)
	}
	// A later message with other roles for the live grant: rejected, the
	// grant's roles stay.
	e.mustDeliver(FnInvitationSent, "narrow-1", 1, []byte(strings.Replace(wide, msg.ID, "narrow-1", 1)))
	if _, ok := e.rejected(FnInvitationSent, "narrow-1"); !ok {
		t.Fatalf("a message changing a live grant's roles was not rejected")
	}
	if g := e.grant(grantID); !slices.Equal(g.Roles, []string{access.SecurityReaderID}) {
		t.Fatalf("stored roles: %v, want Security Reader", g.Roles)
	}
	// Revoke: no role the app made is left.
	rev := e.ticket(map[string]any{"deliveryId": "d-roles-2", "action": "revoke-access", "customerTenantId": customerTenant, "grantId": grantID})
	if rev.Status != http.StatusOK {
		t.Fatalf("revoke: got %d %s", rev.Status, rev.Raw)
	}
	if roles := e.rolesOf(customerTenant, guest); len(roles) != 0 {
		t.Errorf("roles after revoke: %v, want none", roles)
	}
}

func TestStrictBodies(t *testing.T) {
	e := newEnv(t)
	body := string(mustMarshal(t, requestB2B("d-strict-1")))
	for name, b := range map[string]string{
		"a key twice in two cases": strings.Replace(body, `"customerTenantId":"`+customerTenant+`"`,
			`"customerTenantId":"`+customerTenant+`","CUSTOMERTENANTID":"aaaabbbb-0000-cccc-1111-ffffffffffff"`, 1),
		"a key in another case": strings.Replace(body, `"customerTenantId"`, `"CustomerTenantId"`, 1),
	} {
		res := e.call(FnTicketWebhook, "POST", "/api/webhooks/ticketing", webhook.TicketHeaders([]byte(ticketSecret), []byte(b), time.Now()), []byte(b), nil)
		if res.Status != http.StatusBadRequest {
			t.Errorf("%s: got %d %s, want 400", name, res.Status, res.Raw)
		}
	}
	roles := make([]string, 11)
	for i := range roles {
		roles[i] = "Security Reader"
	}
	if res := e.ticket(requestB2B("d-strict-2", roles...)); res.Status != http.StatusBadRequest || !strings.Contains(res.Raw, "roles") {
		t.Errorf("11 roles: got %d %s, want 400 naming roles", res.Status, res.Raw)
	}
	m := invitation("strict-3")
	m["INVITEDUSERID"] = "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1c"
	e.mustDeliver(FnInvitationSent, "strict-3", 1, mustMarshal(t, m))
	if _, ok := e.rejected(FnInvitationSent, "strict-3"); !ok {
		t.Errorf("a message with a key in two cases was not rejected")
	}
	if len(e.published.to(FnInvitationSent)) != 0 {
		t.Errorf("refused commands published invitations")
	}
}

func TestDeliveryIDIsUniqueAcrossCustomers(t *testing.T) {
	e := newEnv(t)
	if res := e.ticket(requestB2B("d-shared-1")); res.Status != http.StatusAccepted {
		t.Fatalf("first: got %d %s", res.Status, res.Raw)
	}
	other := requestB2B("d-shared-1")
	other["customerTenantId"] = "aaaabbbb-0000-cccc-1111-ffffffffffff"
	res := e.ticket(other)
	if res.Status != http.StatusConflict {
		t.Fatalf("the same deliveryId for another customer: got %d %s, want 409", res.Status, res.Raw)
	}
	if n := len(e.published.to(FnInvitationSent)); n != 1 {
		t.Errorf("invitations published: %d, want 1", n)
	}
	if again := e.ticket(requestB2B("d-shared-1")); again.Status != http.StatusOK {
		t.Errorf("the same body again: got %d %s, want 200 (replay)", again.Status, again.Raw)
	}
}
