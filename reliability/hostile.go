package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/devpki"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// hostile is the hostile-input scenario as it runs: the local host serving
// the webhooks of a handler whose ALLOWED_ROLES widens the default to
// Security Administrator, and what it must refuse.
type hostile struct {
	s      *stack
	res    *Result
	dh     *devhost
	client *http.Client
	cust   string
	// pc is Partner Center's trusted signing certificate, rogue one that
	// chains to no trusted root; certs serves both from the allowed origin
	// and elsewhere serves the trusted one from an origin not allowed.
	pc, rogue        *devpki.PKI
	certs, elsewhere *httptest.Server
	// guests and rels are the seeded principals the queue checks use.
	guests []string
	rels   []graphsim.Relationship
}

// Hostile sends what an outsider, a replaying proxy or a careless
// operator might: oversized bodies (413 from the handler and from the
// host), replayed, expired, forged and re-signed webhooks (refused or
// answered with the earlier outcome, changing nothing), Global
// Administrator and unknown roles through every door (refused whatever
// ALLOWED_ROLES says; a handler whose ALLOWED_ROLES names Global
// Administrator does not start), and then scans every output of the
// scenario (handler and host logs, mails, Teams cards, ticket comments,
// every answer) for the secrets it was configured with.
func Hostile(ctx context.Context, env Env, opts Options) (Result, error) {
	start := time.Now()
	opts.GDAPEvery = 2
	s, err := newStack(ctx, env, opts, "hostile", 6, func(w *workload) {
		// One relationship waits for the customer's approval (Partner
		// Center's event comes later); one carries Global Administrator.
		w.Rels[0].Status = "approvalPending"
		w.Rels[1].Roles = []string{access.SecurityReaderID, access.GlobalAdministratorID}
	})
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	res := Result{Name: "hostile", Seed: opts.Seed}
	h := &hostile{s: s, res: &res, client: &http.Client{Timeout: 2 * time.Minute}, cust: s.work.Customers[0].ID, rels: s.work.Rels}
	for _, e := range s.events() {
		if e.Function == fnInvitationSent {
			h.guests = append(h.guests, e.Principal)
		}
	}
	if h.pc, err = devpki.New(24 * time.Hour); err != nil {
		return res, err
	}
	if h.rogue, err = devpki.New(24 * time.Hour); err != nil {
		return res, err
	}
	h.certs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		if strings.Contains(r.URL.Path, "rogue") {
			_, _ = w.Write(h.rogue.LeafDER)
			return
		}
		_, _ = w.Write(h.pc.LeafDER)
	}))
	defer h.certs.Close()
	h.elsewhere = httptest.NewServer(h.certs.Config.Handler)
	defer h.elsewhere.Close()
	roots := filepath.Join(s.dir, "roots.pem")
	if err := os.WriteFile(roots, h.pc.RootPEM, 0o600); err != nil {
		return res, err
	}

	settings := maps(s.settings, map[string]string{
		// Wider than the default, as a deployment might set it: Security
		// Administrator may be granted; Global Administrator still never.
		"ALLOWED_ROLES":             access.SecurityReaderID + "," + access.SecurityOperatorID + "," + access.SecurityAdministratorID,
		"PARTNER_CENTER_ROOTS_FILE": roots,
		"PARTNER_CENTER_CERT_HOSTS": h.certs.URL,
	})
	h.dh, err = startDevhost(ctx, env.Bins, s.dir, settings, s.output("devhost output"), "-retry-delay", "200ms")
	if err != nil {
		return res, err
	}
	defer h.dh.Stop(40 * time.Second)

	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"ticket webhooks: replays and forgeries", h.tickets},
		{"oversized bodies", h.oversized},
		{"roles through the ticket webhook", h.roles},
		{"roles through the queues", h.queues},
		{"partner center webhooks", h.partnerCenter},
		{"least privilege under every input", h.privilege},
		{"start-up with Global Administrator allowed", h.startup},
	} {
		t := time.Now()
		if err := step.run(ctx); err != nil {
			return res, fmt.Errorf("%s: %w", step.name, err)
		}
		env.progress("hostile: %s (%.1fs)", step.name, time.Since(t).Seconds())
	}
	h.dh.Stop(40 * time.Second)
	scan := scanSecrets(s)
	res.Secrets = &scan
	res.finish(start, nil)
	return res, nil
}

// maps returns a copy of base with over applied.
func maps(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func (h *hostile) check(name, want, got string, pass bool) {
	h.res.Checks = append(h.res.Checks, Check{Name: name, Want: want, Got: got, Pass: pass})
}

// post sends a request to the host's HTTP side and keeps the answer for
// the secret scan.
func (h *hostile) post(ctx context.Context, path string, header http.Header, body []byte) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.dh.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	h.s.keep("answer to POST "+path, b)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, nil
}

// command is a ticket command for the scenario's customer.
func (h *hostile) command(deliveryID string, roles []string, email string) []byte {
	return mustJSON(map[string]any{
		"deliveryId": deliveryID, "action": "request-access", "method": "b2b",
		"ticket":           map[string]string{"system": "jira", "id": "SEC-" + deliveryID},
		"customerTenantId": h.cust, "partnerTenantId": testenv.PartnerTenant,
		"invitee": map[string]string{"email": email, "displayName": "Hostile test"}, "roles": roles, "durationDays": 30,
		"partnerContacts": []string{"soc-hostile@fabrikam.example"}, "customerContacts": []string{"secops-hostile@contoso.example"},
	})
}

func (h *hostile) secret() []byte { return []byte(h.s.secrets["TICKET_WEBHOOK_SECRET"]) }

// fingerprint is everything a webhook or message could change: the
// directory, the mails and sink posts, and the customer's grants.
func (h *hostile) fingerprint(ctx context.Context) (string, error) {
	st := h.s.sim.State()
	users, roles, assignments := 0, 0, 0
	for _, t := range st.Tenants {
		users += len(t.Users)
		roles += len(t.RoleAssignments)
		for _, r := range t.Relationships {
			assignments += len(r.AccessAssignments)
		}
	}
	var grants []string
	for _, c := range h.s.work.Customers {
		gs, _, err := h.s.store.List(ctx, access.GrantQuery{CustomerTenantID: c.ID, Limit: 1000})
		if err != nil {
			return "", err
		}
		for _, g := range gs {
			grants = append(grants, fmt.Sprintf("%s=%s@%s", g.ID, g.Status, g.UpdatedAt.Format(time.RFC3339Nano)))
		}
	}
	sort.Strings(grants)
	return fmt.Sprintf("users=%d roles=%d accessAssignments=%d mails=%d cards=%d comments=%d grants=[%s]",
		users, roles, assignments, len(st.Mails), len(h.s.teams.all()), len(h.s.ticket.all()), strings.Join(grants, " ")), nil
}

// eventually polls cond until it holds or within passes.
func eventually(ctx context.Context, within time.Duration, cond func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil || ok {
			return ok, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// quiet waits until the state stops changing (the notifications of a
// change go out after its commit) and returns its fingerprint.
func (h *hostile) quiet(ctx context.Context) (string, error) {
	last, err := h.fingerprint(ctx)
	for i := 0; err == nil && i < 20; i++ {
		time.Sleep(500 * time.Millisecond)
		var now string
		if now, err = h.fingerprint(ctx); now == last {
			return now, err
		}
		last = now
	}
	return last, err
}

// unchanged compares the fingerprint now with before. It does not wait:
// what a webhook does at once (an invitation, a grant row) shows at once;
// what it would set off through a queue is caught by settled.
func (h *hostile) unchanged(ctx context.Context, before string) (bool, string, error) {
	after, err := h.fingerprint(ctx)
	return after == before, after, err
}

// postUnchanged posts a request and compares the fingerprint after it
// with the one before: what the request did at once shows at once.
func (h *hostile) postUnchanged(ctx context.Context, path string, header http.Header, body []byte) (code int, out map[string]any, same bool, after string, err error) {
	before, err := h.fingerprint(ctx)
	if err != nil {
		return 0, nil, false, "", err
	}
	code, out, err = h.post(ctx, path, header, body)
	if err != nil {
		return 0, nil, false, "", err
	}
	same, after, err = h.unchanged(ctx, before)
	return code, out, same, after, err
}

// wantRefused posts a request that must be refused as unauthenticated and
// checks it is, with nothing changed.
func (h *hostile) wantRefused(ctx context.Context, name, path string, header http.Header, body []byte) error {
	code, _, same, after, err := h.postUnchanged(ctx, path, header, body)
	if err != nil {
		return err
	}
	h.check(name, "401, nothing changes", fmt.Sprintf("%d, unchanged %v (%s)", code, same, after), code == http.StatusUnauthorized && same)
	return nil
}

// settled waits for the host to deliver anything a group of requests may
// have published, then checks the state is still what it was before them.
func (h *hostile) settled(ctx context.Context, name, before string) error {
	time.Sleep(time.Second)
	same, after, err := h.unchanged(ctx, before)
	if err != nil {
		return err
	}
	h.check(name, "unchanged once the host is idle", fmt.Sprintf("unchanged %v (%s)", same, after), same)
	return nil
}

func (h *hostile) grant(ctx context.Context, customer, id string) (access.Grant, error) {
	g, _, err := h.s.store.Grant(ctx, customer, id)
	if access.IsKind(err, access.KindNotFound) {
		return access.Grant{}, nil
	}
	return g, err
}

// tickets: a genuine request, then its replays and forgeries.
func (h *hostile) tickets(ctx context.Context) error {
	body := h.command("hostile-1", []string{"Security Reader"}, "hostile-analyst@fabrikam.example")
	signed := webhook.TicketHeaders(h.secret(), body, time.Now())
	code, out, err := h.post(ctx, "/api/webhooks/ticketing", signed, body)
	if err != nil {
		return err
	}
	grantID, _ := out["grantId"].(string)
	h.check("ticket: signed request-access", "202 with a grant id", fmt.Sprintf("%d %v", code, out), code == http.StatusAccepted && grantID != "")
	if grantID == "" {
		return nil
	}
	ok, err := eventually(ctx, 60*time.Second, func() (bool, error) {
		g, err := h.grant(ctx, h.cust, grantID)
		return g.Status == access.StatusActive, err
	})
	if err != nil {
		return err
	}
	h.check("ticket: the request's grant activates through the queue", "active", fmt.Sprint(ok), ok)
	start, err := h.quiet(ctx)
	if err != nil {
		return err
	}

	// Replays: the same delivery again, as captured and as re-signed by
	// the sender with a fresh timestamp. Both get the earlier answer.
	for _, r := range []struct {
		name   string
		header http.Header
	}{
		{"ticket: exact replay of the delivery", signed},
		{"ticket: the delivery re-signed with a fresh timestamp", webhook.TicketHeaders(h.secret(), body, time.Now().Add(2*time.Second))},
	} {
		code, out, same, after, err := h.postUnchanged(ctx, "/api/webhooks/ticketing", r.header, body)
		if err != nil {
			return err
		}
		got, _ := out["grantId"].(string)
		h.check(r.name, "200 with the earlier grant id, nothing changes",
			fmt.Sprintf("%d grant %s, unchanged %v (%s)", code, got, same, after), code == http.StatusOK && got == grantID && same)
	}

	// Refusals: each is a new delivery that would invite a new guest if
	// it got through.
	other := h.command("hostile-2", []string{"Security Reader"}, "intruder@evil.example")
	forged := bytes.Replace(other, []byte("Security Reader"), []byte("Security Operator"), 1)
	old := webhook.TicketHeaders(h.secret(), other, time.Now().Add(-30*time.Second))
	spliced := old.Clone()
	spliced.Set(webhook.HeaderTicketTimestamp, webhook.TicketHeaders(h.secret(), other, time.Now()).Get(webhook.HeaderTicketTimestamp))
	twice := webhook.TicketHeaders(h.secret(), other, time.Now())
	twice.Add(webhook.HeaderTicketSignature, webhook.TicketHeaders([]byte("guess"), other, time.Now()).Get(webhook.HeaderTicketSignature))
	for _, r := range []struct {
		name   string
		header http.Header
		body   []byte
	}{
		// 305 s: the window is 300 s counted in whole seconds at arrival.
		{"ticket: signed 305 s ago (expired)", webhook.TicketHeaders(h.secret(), other, time.Now().Add(-305*time.Second)), other},
		{"ticket: signed 305 s ahead", webhook.TicketHeaders(h.secret(), other, time.Now().Add(305*time.Second)), other},
		{"ticket: body changed after signing (forged)", webhook.TicketHeaders(h.secret(), other, time.Now()), forged},
		{"ticket: signed with another secret", webhook.TicketHeaders([]byte("not-the-secret"), other, time.Now()), other},
		{"ticket: an old signature under a fresh timestamp", spliced, other},
		{"ticket: a second signature header", twice, other},
		{"ticket: no signature", http.Header{}, other},
	} {
		if err := h.wantRefused(ctx, r.name, "/api/webhooks/ticketing", r.header, r.body); err != nil {
			return err
		}
	}
	return h.settled(ctx, "ticket: after the replays and refusals", start)
}

// oversized: bodies over the handler's 256 KiB, over its 2 MiB envelope,
// and over the host's own limit.
func (h *hostile) oversized(ctx context.Context) error {
	before, err := h.fingerprint(ctx)
	if err != nil {
		return err
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"300 KiB", 300 << 10}, {"3 MiB", 3 << 20}, {"5 MiB", 5 << 20}} {
		// A valid command padded with a long display name: only its size
		// is wrong.
		pad := strings.Repeat("x", size.n)
		body := bytes.Replace(h.command(fmt.Sprintf("hostile-big-%d", size.n), []string{"Security Reader"}, "big@fabrikam.example"),
			[]byte(`"Hostile test"`), []byte(`"`+pad+`"`), 1)
		code, _, err := h.post(ctx, "/api/webhooks/ticketing", webhook.TicketHeaders(h.secret(), body, time.Now()), body)
		if err != nil {
			return err
		}
		h.check("ticket: signed body of "+size.name, "413", strconv.Itoa(code), code == http.StatusRequestEntityTooLarge)
		pcBody := []byte(`{"EventName":"granular-admin-relationship-approved","Padding":"` + pad + `"}`)
		hdr, err := h.pc.Headers(pcBody, h.certs.URL+"/cert.cer")
		if err != nil {
			return err
		}
		code, _, err = h.post(ctx, "/api/webhooks/partner-center", hdr, pcBody)
		if err != nil {
			return err
		}
		h.check("partner center: signed body of "+size.name, "413", strconv.Itoa(code), code == http.StatusRequestEntityTooLarge)
	}
	return h.settled(ctx, "oversized bodies change nothing", before)
}

// roles: Global Administrator and unknown roles through the ticket
// webhook, with a deployment whose ALLOWED_ROLES includes Security
// Administrator.
func (h *hostile) roles(ctx context.Context) error {
	first := h.s.sim.State()
	for _, r := range []struct {
		name     string
		delivery string
		roles    []string
		want     int
	}{
		{"ticket: Global Administrator", "hostile-ga", []string{"Global Administrator"}, http.StatusUnprocessableEntity},
		{"ticket: Global Administrator by template id", "hostile-ga-id", []string{access.GlobalAdministratorID}, http.StatusUnprocessableEntity},
		{"ticket: Security Reader with Global Administrator (refused whole, not trimmed)", "hostile-ga-mix", []string{"Security Reader", "Global Administrator"}, http.StatusUnprocessableEntity},
		{"ticket: an unknown role name", "hostile-unknown", []string{"Super Admin"}, http.StatusBadRequest},
		{"ticket: an unknown role id", "hostile-unknown-id", []string{"0badc0de-0000-4000-8000-000000000000"}, http.StatusUnprocessableEntity},
	} {
		before := h.s.sim.State()
		body := h.command(r.delivery, r.roles, r.delivery+"@evil.example")
		code, out, err := h.post(ctx, "/api/webhooks/ticketing", webhook.TicketHeaders(h.secret(), body, time.Now()), body)
		if err != nil {
			return err
		}
		// The webhook invites before it answers: a request that got
		// through shows at once.
		after := h.s.sim.State()
		invited := usersIn(after) - usersIn(before)
		assigned := rolesIn(after) - rolesIn(before)
		got := fmt.Sprintf("%d %v; %d guest(s) invited, %d role assignment(s) made", code, out["detail"], invited, assigned)
		pass := code == r.want && invited == 0 && assigned == 0
		if r.want == http.StatusUnprocessableEntity {
			// Refused, audited and notified: the refusal is recorded.
			g, err := h.grant(ctx, h.cust, access.GrantID(access.B2B, "request-"+r.delivery))
			if err != nil {
				return err
			}
			got += fmt.Sprintf("; grant %s", g.Status)
			pass = pass && g.Status == access.StatusRefused
		}
		h.check(r.name, fmt.Sprintf("%d, nothing invited or assigned", r.want), got, pass)
	}

	// The wider ALLOWED_ROLES is honoured for what it names.
	body := h.command("hostile-secadmin", []string{"Security Administrator"}, "secadmin@fabrikam.example")
	code, out, err := h.post(ctx, "/api/webhooks/ticketing", webhook.TicketHeaders(h.secret(), body, time.Now()), body)
	if err != nil {
		return err
	}
	grantID, _ := out["grantId"].(string)
	ok := false
	if code == http.StatusAccepted && grantID != "" {
		if ok, err = eventually(ctx, 60*time.Second, func() (bool, error) {
			g, err := h.grant(ctx, h.cust, grantID)
			return g.Status == access.StatusActive && slices.Equal(g.Roles, []string{access.SecurityAdministratorID}), err
		}); err != nil {
			return err
		}
	}
	if _, err := h.quiet(ctx); err != nil {
		return err
	}
	last := h.s.sim.State()
	invited, assigned := usersIn(last)-usersIn(first), rolesIn(last)-rolesIn(first)
	h.check("ticket: Security Administrator, which this ALLOWED_ROLES allows", "202, then active with Security Administrator",
		fmt.Sprintf("%d %v, active %v", code, out, ok), ok)
	h.check("roles: once the host is idle, only the allowed request invited and assigned",
		"1 guest invited, 1 role assignment since the first refusal", fmt.Sprintf("%d invited, %d assigned", invited, assigned), invited == 1 && assigned == 1)
	return nil
}

func usersIn(st graphsim.State) int {
	n := 0
	for _, t := range st.Tenants {
		n += len(t.Users)
	}
	return n
}

func rolesIn(st graphsim.State) int {
	n := 0
	for _, t := range st.Tenants {
		n += len(t.RoleAssignments)
	}
	return n
}

// queues: Global Administrator and an unknown role in queue messages, for
// seeded guests and a seeded relationship.
func (h *hostile) queues(ctx context.Context) error {
	now := time.Now().UTC().Format(time.RFC3339)
	// Each seeded guest lives in the tenant of the event that drew it.
	tenantOf := map[string]string{}
	for _, e := range h.s.events() {
		tenantOf[e.Principal] = e.Customer
	}
	ga := access.Message{Queue: fnInvitationSent, ID: "hostile-queue-ga", Body: mustJSON(map[string]any{
		"eventId": "hostile-queue-ga", "occurredAt": now, "customerTenantId": tenantOf[h.guests[0]], "partnerTenantId": testenv.PartnerTenant,
		"invitedUserId": h.guests[0], "roles": []string{"Global Administrator"}, "durationDays": 30,
		"partnerContacts": []string{"soc-hostile@fabrikam.example"}, "customerContacts": []string{"secops-hostile@contoso.example"}})}
	unknown := access.Message{Queue: fnInvitationSent, ID: "hostile-queue-unknown", Body: mustJSON(map[string]any{
		"eventId": "hostile-queue-unknown", "occurredAt": now, "customerTenantId": tenantOf[h.guests[1]], "partnerTenantId": testenv.PartnerTenant,
		"invitedUserId": h.guests[1], "roles": []string{"Super Admin"}, "durationDays": 30})}
	rel := h.rels[1]
	gdap := access.Message{Queue: fnGDAPApproved, ID: "hostile-queue-gdap-ga", Body: mustJSON(map[string]any{
		"eventId": "hostile-queue-gdap-ga", "occurredAt": now, "relationshipId": rel.ID, "partnerTenantId": testenv.PartnerTenant,
		"customerTenantId": rel.CustomerTenantID, "partnerContacts": []string{"soc-hostile@fabrikam.example"}})}
	for _, m := range []access.Message{ga, unknown, gdap} {
		if err := h.s.queues.Publish(ctx, m); err != nil {
			return err
		}
	}

	ok, err := eventually(ctx, 60*time.Second, func() (bool, error) {
		g, err := h.grant(ctx, tenantOf[h.guests[0]], access.GrantID(access.B2B, h.guests[0]))
		return g.Status == access.StatusRefused, err
	})
	if err != nil {
		return err
	}
	held := h.s.sim.State()
	t, _ := held.Tenant(tenantOf[h.guests[0]])
	h.check("queue: invitation-sent asking Global Administrator", "grant refused, the guest holds no role",
		fmt.Sprintf("refused %v, roles held %d", ok, len(t.RoleAssignmentsOf(h.guests[0]))), ok && len(t.RoleAssignmentsOf(h.guests[0])) == 0)

	var kept access.Rejected
	ok, err = eventually(ctx, 60*time.Second, func() (bool, error) {
		rej, err := h.s.store.Rejections(ctx, fnInvitationSent, time.Now())
		for _, r := range rej {
			if r.MessageID == unknown.ID {
				kept = r
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		return err
	}
	g, err := h.grant(ctx, tenantOf[h.guests[1]], access.GrantID(access.B2B, h.guests[1]))
	if err != nil {
		return err
	}
	t, _ = h.s.sim.State().Tenant(tenantOf[h.guests[1]])
	h.check("queue: invitation-sent with an unknown role", "kept whole in Rejected with its reason, no grant, no role",
		fmt.Sprintf("rejected %v (%q), whole %v, grant %q, roles held %d", ok, kept.Reason, bytes.Equal(kept.Body, unknown.Body), g.Status, len(t.RoleAssignmentsOf(h.guests[1]))),
		ok && bytes.Equal(kept.Body, unknown.Body) && g.Status == access.StatusNew && len(t.RoleAssignmentsOf(h.guests[1])) == 0)

	grantID := access.GrantID(access.GDAP, rel.ID)
	ok, err = eventually(ctx, 60*time.Second, func() (bool, error) {
		g, err := h.grant(ctx, rel.CustomerTenantID, grantID)
		return g.Status == access.StatusRefused, err
	})
	if err != nil {
		return err
	}
	r, _ := h.s.sim.State().Tenants[0].Relationship(rel.ID)
	h.check("queue: gdap-approved for a relationship holding Global Administrator", "grant refused, no access assignment",
		fmt.Sprintf("refused %v, access assignments %d", ok, len(r.AccessAssignments)), ok && len(r.AccessAssignments) == 0)
	return nil
}

// partnerCenter: a genuine approval, its replay, and forgeries.
func (h *hostile) partnerCenter(ctx context.Context) error {
	rel := h.rels[0]
	if err := h.s.sim.ApproveRelationship(rel.ID); err != nil {
		return err
	}
	grantID := access.GrantID(access.GDAP, rel.ID)
	// Genuinely signed, but for a relationship the app never requested:
	// nothing is granted or published.
	unasked := devpki.Event("granular-admin-relationship-approved", rel.ID, time.Now().Add(-time.Minute))
	unaskedHdr, err := h.pc.Headers(unasked, h.certs.URL+"/cert/pcnotifications-dispatch.microsoft.com.cer")
	if err != nil {
		return err
	}
	code, body, err := h.post(ctx, "/api/webhooks/partner-center", unaskedHdr, unasked)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	g, err := h.grant(ctx, rel.CustomerTenantID, grantID)
	if err != nil {
		return err
	}
	r0, _ := h.s.sim.State().Tenants[0].Relationship(rel.ID)
	h.check("partner center: approval of a relationship the app did not request", "200 not requested, no grant, no access assignment",
		fmt.Sprintf("%d %v, grant %q, access assignments %d", code, body["status"], g.Status, len(r0.AccessAssignments)),
		code == http.StatusOK && body["status"] == "not requested" && g.Status == access.StatusNew && len(r0.AccessAssignments) == 0)
	// The app's own request, as the ticket webhook records it.
	now := time.Now().UTC().Truncate(time.Second)
	if err := h.s.store.Commit(ctx, access.Change{Grant: access.Grant{ID: grantID, CustomerTenantID: rel.CustomerTenantID,
		PartnerTenantID: testenv.PartnerTenant, Method: access.GDAP, Status: access.StatusPending, PrincipalID: partnerGroup,
		Roles: rel.Roles, CreatedAt: now, UpdatedAt: now}}); err != nil {
		return fmt.Errorf("record the request of %s: %w", rel.ID, err)
	}
	event := devpki.Event("granular-admin-relationship-approved", rel.ID, time.Now())
	hdr, err := h.pc.Headers(event, h.certs.URL+"/cert/pcnotifications-dispatch.microsoft.com.cer")
	if err != nil {
		return err
	}
	code, _, err = h.post(ctx, "/api/webhooks/partner-center", hdr, event)
	if err != nil {
		return err
	}
	active, err := eventually(ctx, 60*time.Second, func() (bool, error) {
		g, err := h.grant(ctx, rel.CustomerTenantID, grantID)
		return g.Status == access.StatusActive, err
	})
	if err != nil {
		return err
	}
	h.check("partner center: signed approval", "202, then the GDAP grant is active", fmt.Sprintf("%d, active %v", code, active), code == http.StatusAccepted && active)
	before, err := h.quiet(ctx)
	if err != nil {
		return err
	}

	// The replay publishes gdap-approved again; the host delivers it and
	// the ledger must absorb it.
	code, _, err = h.post(ctx, "/api/webhooks/partner-center", hdr, event)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	same, after, err := h.unchanged(ctx, before)
	if err != nil {
		return err
	}
	r, _ := h.s.sim.State().Tenants[0].Relationship(rel.ID)
	h.check("partner center: replayed approval", "2xx, one access assignment, nothing changes",
		fmt.Sprintf("%d, access assignments %d, unchanged %v (%s)", code, len(r.AccessAssignments), same, after),
		okStatus(code) && len(r.AccessAssignments) == 1 && same)

	terminated := bytes.Replace(event, []byte("approved"), []byte("terminated"), 1)
	rogueHdr, err := h.rogue.Headers(terminated, h.certs.URL+"/rogue.cer")
	if err != nil {
		return err
	}
	elsewhereHdr, err := h.pc.Headers(terminated, h.elsewhere.URL+"/cert.cer")
	if err != nil {
		return err
	}
	unsigned := hdr.Clone()
	unsigned.Del("Authorization")
	for _, c := range []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{"partner center: approval re-worded as a termination (forged)", hdr, terminated},
		{"partner center: signed by a certificate no trusted root issued", rogueHdr, terminated},
		{"partner center: certificate from an origin not allowed", elsewhereHdr, terminated},
		{"partner center: no signature", unsigned, terminated},
	} {
		if err := h.wantRefused(ctx, c.name, "/api/webhooks/partner-center", c.header, c.body); err != nil {
			return err
		}
	}
	return h.settled(ctx, "partner center: after the forgeries", before)
}

// startup: a handler whose ALLOWED_ROLES names Global Administrator does
// not start, and says why on one line.
func (h *hostile) startup(ctx context.Context) error {
	for _, v := range []string{
		access.SecurityReaderID + "," + access.GlobalAdministratorID,
		"Security Reader,Global Administrator",
	} {
		out := h.s.output("handler stderr (ALLOWED_ROLES with Global Administrator)")
		hp, err := startHandler(ctx, h.s.env.Bins.Handler, maps(h.s.settings, map[string]string{"ALLOWED_ROLES": v}), out)
		if err == nil {
			hp.Stop(10 * time.Second)
			h.check("start-up: ALLOWED_ROLES="+v, "the handler refuses to start, naming ALLOWED_ROLES", "it started", false)
			continue
		}
		text := strings.TrimSpace(out.String())
		lines := strings.Count(text, "\n") + 1
		h.check("start-up: ALLOWED_ROLES="+v, "the handler refuses to start, one line naming ALLOWED_ROLES",
			fmt.Sprintf("%d line(s): %s", lines, text), strings.Contains(text, "ALLOWED_ROLES") && strings.Contains(text, "Global Administrator") && lines == 1)
	}
	// Settings that would weaken the app: a guessable ticket secret, and
	// the test overrides of the Partner Center trust with a real Graph.
	production := map[string]string{"GRAPH_AUTH": "clientsecret", "GRAPH_BASE_URL": "https://graph.microsoft.com/v1.0"}
	for _, c := range []struct {
		name     string
		settings map[string]string
		variable string
	}{
		{"TICKET_WEBHOOK_SECRET=a", map[string]string{"TICKET_WEBHOOK_SECRET": "a"}, "TICKET_WEBHOOK_SECRET"},
		{"TICKET_WEBHOOK_SECRET of 40 spaces", map[string]string{"TICKET_WEBHOOK_SECRET": strings.Repeat(" ", 40)}, "TICKET_WEBHOOK_SECRET"},
		{"PARTNER_CENTER_CERT_HOSTS against real Graph", maps(production, map[string]string{"PARTNER_CENTER_CERT_HOSTS": "http://127.0.0.1:1"}), "PARTNER_CENTER_CERT_HOSTS"},
		{"PARTNER_CENTER_ROOTS_FILE against real Graph", maps(production, map[string]string{"PARTNER_CENTER_ROOTS_FILE": "/etc/hostname"}), "PARTNER_CENTER_ROOTS_FILE"},
		{"PARTNER_CENTER_ISSUER_HOSTS against real Graph", maps(production, map[string]string{"PARTNER_CENTER_ISSUER_HOSTS": "http://127.0.0.1:1"}), "PARTNER_CENTER_ISSUER_HOSTS"},
	} {
		out := h.s.output("handler stderr (" + c.name + ")")
		hp, err := startHandler(ctx, h.s.env.Bins.Handler, maps(h.s.settings, c.settings), out)
		if err == nil {
			hp.Stop(10 * time.Second)
			h.check("start-up: "+c.name, "the handler refuses to start, naming "+c.variable, "it started", false)
			continue
		}
		text := strings.TrimSpace(out.String())
		h.check("start-up: "+c.name, "the handler refuses to start, naming "+c.variable, text, strings.Contains(text, c.variable))
	}
	return nil
}
