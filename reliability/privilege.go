package reliability

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// privilege: the inputs that would widen, stretch or outlive access
// (DESIGN.md section 11), each through the contract, each checked in the
// stores and the simulated directory.
func (h *hostile) privilege(ctx context.Context) error {
	tenantOf := map[string]string{}
	for _, e := range h.s.events() {
		tenantOf[e.Principal] = e.Customer
	}
	signed := func(body []byte) http.Header { return webhook.TicketHeaders(h.secret(), body, time.Now()) }
	rolesOf := func(tenant, principal string) []string {
		t, _ := h.s.sim.State().Tenant(tenant)
		var out []string
		for _, a := range t.RoleAssignmentsOf(principal) {
			out = append(out, a.RoleDefinitionID)
		}
		slices.Sort(out)
		return out
	}
	rejected := func(id string) (bool, error) {
		return eventually(ctx, 60*time.Second, func() (bool, error) {
			rej, err := h.s.store.Rejections(ctx, fnInvitationSent, time.Now())
			for _, r := range rej {
				if r.MessageID == id {
					return true, nil
				}
			}
			return false, err
		})
	}

	// An invitation dated in 2099: rejected, nothing assigned.
	guest := h.guests[2]
	future := access.Message{Queue: fnInvitationSent, ID: "hostile-future", Body: mustJSON(map[string]any{
		"eventId": "hostile-future", "occurredAt": "2099-01-01T00:00:00Z", "customerTenantId": tenantOf[guest],
		"partnerTenantId": testenv.PartnerTenant, "invitedUserId": guest, "roles": []string{"Security Reader"}, "durationDays": 365})}
	if err := h.s.queues.Publish(ctx, future); err != nil {
		return err
	}
	ok, err := rejected(future.ID)
	if err != nil {
		return err
	}
	h.check("queue: invitation-sent dated 2099", "rejected, the guest holds no role",
		fmt.Sprintf("rejected %v, roles %v", ok, rolesOf(tenantOf[guest], guest)), ok && len(rolesOf(tenantOf[guest], guest)) == 0)

	// A ticket asks for Security Reader; the guest becomes active with it.
	body := h.command("priv-1", []string{"Security Reader"}, "priv-analyst@fabrikam.example")
	code, res, err := h.post(ctx, "/api/webhooks/ticketing", signed(body), body)
	if err != nil {
		return err
	}
	grantID, _ := res["grantId"].(string)
	invited := strings.TrimPrefix(grantID, "b2b:")
	active, err := eventually(ctx, 60*time.Second, func() (bool, error) {
		g, err := h.grant(ctx, h.cust, grantID)
		return g.Status == access.StatusActive, err
	})
	if err != nil {
		return err
	}
	h.check("ticket: request Security Reader", "202, then active with Security Reader only",
		fmt.Sprintf("%d, active %v, roles %v", code, active, rolesOf(h.cust, invited)),
		code == http.StatusAccepted && active && slices.Equal(rolesOf(h.cust, invited), []string{access.SecurityReaderID}))

	// A message widening the live grant to Reader + Operator: rejected,
	// nothing more assigned, the stored roles unchanged.
	wide := access.Message{Queue: fnInvitationSent, ID: "hostile-widen", Body: mustJSON(map[string]any{
		"eventId": "hostile-widen", "occurredAt": time.Now().UTC().Format(time.RFC3339), "customerTenantId": h.cust,
		"partnerTenantId": testenv.PartnerTenant, "invitedUserId": invited,
		"roles": []string{access.SecurityReaderID, access.SecurityOperatorID}, "durationDays": 30})}
	if err := h.s.queues.Publish(ctx, wide); err != nil {
		return err
	}
	if ok, err = rejected(wide.ID); err != nil {
		return err
	}
	g, err := h.grant(ctx, h.cust, grantID)
	if err != nil {
		return err
	}
	h.check("queue: invitation-sent widening a live grant's roles", "rejected, the guest still holds Security Reader only",
		fmt.Sprintf("rejected %v, roles held %v, stored %v", ok, rolesOf(h.cust, invited), g.Roles),
		ok && slices.Equal(rolesOf(h.cust, invited), []string{access.SecurityReaderID}) && slices.Equal(g.Roles, []string{access.SecurityReaderID}))

	// Revoke: no role the app made is left.
	rev := mustJSON(map[string]any{"deliveryId": "priv-2", "action": "revoke-access", "customerTenantId": h.cust, "grantId": grantID})
	code, _, err = h.post(ctx, "/api/webhooks/ticketing", signed(rev), rev)
	if err != nil {
		return err
	}
	h.check("ticket: revoke after a widening attempt", "200, the guest holds no role",
		fmt.Sprintf("%d, roles %v", code, rolesOf(h.cust, invited)), code == http.StatusOK && len(rolesOf(h.cust, invited)) == 0)

	// Bodies a validator in front would read otherwise, too many roles,
	// one delivery id for two customers: refused, nothing changes.
	twoCases := strings.Replace(string(h.command("priv-3", []string{"Security Reader"}, "priv-b@fabrikam.example")),
		`"customerTenantId":"`+h.cust+`"`, `"customerTenantId":"`+h.cust+`","CUSTOMERTENANTID":"`+h.s.work.Customers[1].ID+`"`, 1)
	many := make([]string, 5000)
	for i := range many {
		many[i] = "Security Reader"
	}
	first := h.command("priv-6", []string{"Security Reader"}, "priv-c@fabrikam.example")
	reused := strings.Replace(string(first), `"customerTenantId":"`+h.cust+`"`, `"customerTenantId":"`+h.s.work.Customers[1].ID+`"`, 1)
	if code, _, err := h.post(ctx, "/api/webhooks/ticketing", signed(first), first); err != nil || code != http.StatusAccepted {
		return fmt.Errorf("the first use of delivery priv-6: %d, %v", code, err)
	}
	if _, err := h.quiet(ctx); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		body []byte
		want int
	}{
		{"ticket: customerTenantId and CUSTOMERTENANTID in one body", []byte(twoCases), http.StatusBadRequest},
		{"ticket: 5,000 roles", h.command("priv-4", many, "priv-d@fabrikam.example"), http.StatusBadRequest},
		{"ticket: the same deliveryId for another customer", []byte(reused), http.StatusConflict},
	} {
		code, _, same, after, err := h.postUnchanged(ctx, "/api/webhooks/ticketing", signed(c.body), c.body)
		if err != nil {
			return err
		}
		h.check(c.name, fmt.Sprintf("%d, nothing changes", c.want), fmt.Sprintf("%d, unchanged %v (%s)", code, same, after), code == c.want && same)
	}

	// A guest from outside the MSSP: refused by policy and audited, nobody
	// invited.
	usersBefore := usersIn(h.s.sim.State())
	outsider := h.command("priv-5", []string{"Security Reader"}, "someone@evil.example")
	code, _, err = h.post(ctx, "/api/webhooks/ticketing", signed(outsider), outsider)
	if err != nil {
		return err
	}
	refused, err := h.grant(ctx, h.cust, access.GrantID(access.B2B, "request-priv-5"))
	if err != nil {
		return err
	}
	h.check("ticket: a guest from a domain that is not the MSSP's", "422, recorded refused, nobody invited",
		fmt.Sprintf("%d, grant %q, users %d -> %d", code, refused.Status, usersBefore, usersIn(h.s.sim.State())),
		code == http.StatusUnprocessableEntity && refused.Status == access.StatusRefused && usersIn(h.s.sim.State()) == usersBefore)
	return nil
}
