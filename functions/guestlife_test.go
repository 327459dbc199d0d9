package functions

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// accountEnabled reads a customer user's accountEnabled in the simulator;
// found is false once the user is deleted.
func (e *env) accountEnabled(user string) (enabled, found bool) {
	for _, tn := range e.sim.State().Tenants {
		if !strings.EqualFold(tn.ID, customerTenant) {
			continue
		}
		for _, u := range tn.Users {
			if strings.EqualFold(u.ID, user) {
				return u.AccountEnabled == nil || *u.AccountEnabled, true
			}
		}
	}
	return false, false
}

// activeThroughTicket requests a B2B guest for email through the ticket
// webhook and delivers its invitation-sent message; it returns the grant id.
func (e *env) activeThroughTicket(t *testing.T, delivery, email string) string {
	t.Helper()
	cmd := requestB2B(delivery)
	cmd["invitee"] = map[string]string{"email": email, "displayName": "Fabrikam SOC analyst"}
	res := e.ticket(cmd)
	if res.Status != http.StatusAccepted {
		t.Fatalf("request: got %d %s", res.Status, res.Raw)
	}
	msgs := e.published.to(FnInvitationSent)
	msg := msgs[len(msgs)-1]
	e.mustDeliver(FnInvitationSent, msg.ID, 1, msg.Body)
	return res.Body["grantId"].(string)
}

func TestGuestTheAppInvitedIsDisabledWhenRevoked(t *testing.T) {
	e := newEnv(t)
	grantID := e.activeThroughTicket(t, "d-life-1", "new.analyst@fabrikam.example")
	guest := strings.TrimPrefix(grantID, "b2b:")
	if on, found := e.accountEnabled(guest); !on || !found {
		t.Fatalf("active guest: enabled %v found %v", on, found)
	}
	for range 2 { // the second is a redelivery of the same ticket call
		rev := e.ticket(map[string]any{"deliveryId": "d-life-2", "action": "revoke-access", "customerTenantId": customerTenant, "grantId": grantID})
		if rev.Status != http.StatusOK {
			t.Fatalf("revoke: got %d %s", rev.Status, rev.Raw)
		}
	}
	if on, found := e.accountEnabled(guest); on || !found {
		t.Fatalf("after revoke: enabled %v found %v, want disabled (B2B_GUEST_AFTER_END defaults to disable)", on, found)
	}
	var created, disabled int
	for _, a := range e.audit(grantID) {
		switch a.Action {
		case lifecycle.ActionGuestCreated:
			created++
		case lifecycle.ActionGuestDisabled:
			disabled++
		}
	}
	if created != 1 || disabled != 1 {
		t.Errorf("audit: %d created and %d disabled lines, want one of each", created, disabled)
	}
}

func TestExistingUserIsNeverDisabled(t *testing.T) {
	e := newEnv(t)
	// analyst@fabrikam.example is the seeded guest, which the app did not
	// create.
	grantID := e.activeThroughTicket(t, "d-life-3", "analyst@fabrikam.example")
	if grantID != access.GrantID(access.B2B, guestID) {
		t.Fatalf("grant %s, want the existing guest's", grantID)
	}
	rev := e.ticket(map[string]any{"deliveryId": "d-life-4", "action": "revoke-access", "customerTenantId": customerTenant, "grantId": grantID})
	if rev.Status != http.StatusOK {
		t.Fatalf("revoke: got %d %s", rev.Status, rev.Raw)
	}
	if on, found := e.accountEnabled(guestID); !on || !found {
		t.Fatalf("existing user after revoke: enabled %v found %v, want untouched", on, found)
	}
}
