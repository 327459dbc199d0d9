package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// proc is the handler running as a process, as the Functions host runs it.
type proc struct {
	*childproc.Handler
	t      *testing.T
	stderr *childproc.Log
}

// startHandler starts the binary with env and waits for GET / as the host
// does.
func startHandler(t *testing.T, env map[string]string) *proc {
	t.Helper()
	stderr := &childproc.Log{}
	h, err := childproc.StartHandler(context.Background(), testenv.Binary(t, "."), childproc.Env(env), stderr,
		childproc.Ready{Timeout: 20 * time.Second, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	p := &proc{Handler: h, t: t, stderr: stderr}
	t.Cleanup(p.stop)
	return p
}

func (p *proc) stop() { p.Stop(10 * time.Second) }

// invoke posts an envelope to a function and returns the outer status and
// the decoded answer.
func (p *proc) invoke(function string, envelope []byte) (int, map[string]any) {
	p.t.Helper()
	resp, err := hostcall.Invoke(context.Background(), nil, p.Base, function, "", envelope)
	if err != nil {
		p.t.Fatalf("POST /%s: %v", function, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		p.t.Fatalf("POST /%s: answer is not JSON: %q", function, b)
	}
	return resp.StatusCode, out
}

// queueEnvelope is the host's Service Bus delivery of body, with messageID
// and delivery count, and the fixture's schemaVersion property.
func queueEnvelope(function, messageID string, delivery int, body []byte) []byte {
	return hostcall.Queue(hostcall.QueueArgs{Sys: hostcall.Sys{Function: function}, Body: body, MessageID: messageID,
		DeliveryCount: delivery, Properties: map[string]any{"schemaVersion": "1"}})
}

// fixtureBody is the body of the host fixture's invitation-sent message,
// occurring now (the fixture's own date would make a 90-day grant end in
// the past on a later day).
func fixtureBody(t *testing.T, now time.Time) (string, []byte) {
	t.Helper()
	raw, _ := os.ReadFile("testdata/servicebus-invitation-sent.json")
	var env struct{ Data struct{ Msg string } }
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(env.Data.Msg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["occurredAt"] = now.UTC().Format(time.RFC3339)
	out, _ := json.Marshal(m)
	return m["eventId"].(string), out
}

func TestProcessQueueFunctions(t *testing.T) {
	env, sim := testEnv(t)
	p := startHandler(t, env)
	ctx := context.Background()
	store, err := tablestore.New(ctx, tablestore.Options{ConnectionString: env["TABLES_CONNECTION_STRING"]})
	if err != nil {
		t.Fatal(err)
	}
	eventID, body := fixtureBody(t, time.Now())
	grantID := "b2b:" + fixtureGuest

	// Out of order: a notice for a grant that does not exist yet is kept in Rejected.
	orphan := []byte(`{"eventId":"orphan-1","occurredAt":"2026-11-27T08:00:00Z","customerTenantId":"` + customerTenant +
		`","grantId":"` + grantID + `","noticeDays":7,"expiresAt":"2027-02-25T08:00:00Z"}`)
	if status, out := p.invoke("grant-expiring", queueEnvelope("grant-expiring", "orphan-1", 1, orphan)); status != http.StatusOK {
		t.Fatalf("orphan notice: got %d %v, want 200 (rejected)", status, out["Logs"])
	}

	// Once, then twice more at the same time.
	if status, out := p.invoke("invitation-sent", queueEnvelope("invitation-sent", eventID, 1, body)); status != http.StatusOK {
		t.Fatalf("invitation-sent: got %d %v\n%s", status, out["Logs"], p.stderr)
	}
	var wg sync.WaitGroup
	for i := 2; i <= 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if status, out := p.invoke("invitation-sent", queueEnvelope("invitation-sent", eventID, i, body)); status != http.StatusOK {
				t.Errorf("copy %d: got %d %v", i, status, out["Logs"])
			}
		}(i)
	}
	wg.Wait()

	g, _, err := store.Grant(ctx, customerTenant, grantID)
	if err != nil || g.Status != access.StatusActive || g.Ticket.ID != "INC0012345" {
		t.Fatalf("grant in Table Storage: got %+v, %v; want active from ticket INC0012345", g, err)
	}
	var roles []string
	for _, a := range sim.State().Tenants[1].RoleAssignments {
		if a.PrincipalID == fixtureGuest {
			roles = append(roles, a.RoleDefinitionID)
		}
	}
	if !slices.Equal(roles, []string{access.SecurityOperatorID}) {
		t.Fatalf("Graph: guest holds %v, want Security Operator once", roles)
	}
	if n := len(sim.State().Mails); n != 2 {
		t.Fatalf("Graph sendMail: got %d mails, want 2 (partner and customer) for three deliveries", n)
	}
	trail, _ := store.Audit(ctx, customerTenant, grantID)
	if len(trail) != 2 {
		t.Errorf("audit: got %d rows, want 2 (role assigned, activated)", len(trail))
	}
	rej, _ := store.Rejections(ctx, "grant-expiring", time.Now())
	if len(rej) != 1 || string(rej[0].Body) != string(orphan) {
		t.Errorf("Rejected: got %+v, want the orphan notice kept whole", rej)
	}

	// Malformed: kept whole, completed.
	bad := []byte(`{"eventId":"bad-1","customerTenantId":"contoso"}`)
	if status, _ := p.invoke("invitation-sent", queueEnvelope("invitation-sent", "bad-1", 1, bad)); status != http.StatusOK {
		t.Errorf("malformed: got %d, want 200", status)
	}
	rej, _ = store.Rejections(ctx, "invitation-sent", time.Now())
	if len(rej) != 1 || !strings.Contains(rej[0].Reason, "customerTenantId") {
		t.Errorf("Rejected: got %+v, want the bad message with a reason naming customerTenantId", rej)
	}

	// The next notice is scheduled: one DueIndex entry for the grant, due
	// before it expires (its message waits hidden in grant-expiring).
	var due []access.DueEntry
	if _, err := store.DueUntil(ctx, g.ExpiresAt.Add(time.Hour), func(e access.DueEntry) error {
		if e.GrantID == grantID && e.Stage >= 0 { // access reviews have stages of their own
			due = append(due, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Due.After(g.ExpiresAt) || due[0].Stage <= 0 {
		t.Errorf("DueIndex: got %+v, want the first notice before %s", due, g.ExpiresAt)
	}
	p.stop() // the log reaches the buffer through a pipe: read it whole
	if !strings.Contains(p.stderr.String(), `"outcome":"duplicate"`) {
		t.Errorf("handler log: want duplicate outcomes logged for the redeliveries")
	}
}

func TestProcessTicketToActiveThroughTheQueue(t *testing.T) {
	env, sim := testEnv(t)
	p := startHandler(t, env)
	ctx := context.Background()
	queues, err := localqueue.New(env["LOCAL_QUEUES_CONNECTION_STRING"], nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := []byte(`{"deliveryId":"d-0001","action":"request-access","ticket":{"system":"jira","id":"SEC-42"},"method":"b2b",` +
		`"customerTenantId":"` + customerTenant + `","partnerTenantId":"` + partnerTenant + `",` +
		`"invitee":{"email":"new.analyst@fabrikam.example","displayName":"Fabrikam SOC analyst"},"roles":["Security Operator"],"durationDays":30}`)
	header := webhook.TicketHeaders([]byte(ticketSecret), cmd, time.Now())
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "ServiceNow/1.0")
	b := hostcall.HTTP(hostcall.HTTPArgs{Sys: hostcall.Sys{Function: "ticket-webhook"}, URL: "/api/webhooks/ticketing", Header: header, Body: cmd})
	status, out := p.invoke("ticket-webhook", b)
	res := out["Outputs"].(map[string]any)["res"].(map[string]any)
	if status != http.StatusOK || res["statusCode"] != "202" {
		t.Fatalf("ticket-webhook: got outer %d, res %v\n%s", status, res, p.stderr)
	}
	// invitation-sent is in its queue: take it and hand it to the function.
	ds, err := queues.Receive(ctx, "invitation-sent", 1, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("invitation-sent queue: got %d messages, %v; want 1", len(ds), err)
	}
	d := ds[0]
	if status, out := p.invoke("invitation-sent", queueEnvelope("invitation-sent", d.Envelope.MessageID, d.DequeueCount, d.Envelope.Body)); status != http.StatusOK {
		t.Fatalf("invitation-sent: got %d %v", status, out["Logs"])
	}
	_ = queues.Delete(ctx, d)
	var guest string
	for _, u := range sim.State().Tenants[1].Users {
		if u.Mail == "new.analyst@fabrikam.example" || strings.HasPrefix(u.UserPrincipalName, "new.analyst") {
			guest = u.ID
		}
	}
	store, _ := tablestore.New(ctx, tablestore.Options{ConnectionString: env["TABLES_CONNECTION_STRING"]})
	g, _, err := store.Grant(ctx, customerTenant, "b2b:"+guest)
	if err != nil || g.Status != access.StatusActive {
		t.Fatalf("grant of guest %q: got %+v %v, want active", guest, g, err)
	}
}

func TestProcessLogsNoSecret(t *testing.T) {
	env, _ := testEnv(t)
	env["TICKET_WEBHOOK_SECRET"] = "s3cr3t-hmac-value-that-must-not-leak"
	p := startHandler(t, env)
	// A request signed with the wrong secret, and one with the right one.
	for _, secret := range []string{"wrong", env["TICKET_WEBHOOK_SECRET"]} {
		cmd := []byte(`{"deliveryId":"d-x","action":"request-access","method":"b2b","customerTenantId":"` + customerTenant + `","roles":["Global Administrator"],"invitee":{"email":"a@b.example"}}`)
		b := hostcall.HTTP(hostcall.HTTPArgs{Sys: hostcall.Sys{Function: "ticket-webhook"}, URL: "http://x/api/webhooks/ticketing",
			Header: webhook.TicketHeaders([]byte(secret), cmd, time.Now()), Body: cmd})
		_, out := p.invoke("ticket-webhook", b)
		if bytes.Contains(mustJSON(out), []byte("s3cr3t-hmac")) {
			t.Fatalf("answer contains the secret: %v", out)
		}
	}
	p.stop()
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "s3cr3t-hmac") || strings.Contains(sc.Text(), testenv.AccountKey) {
			t.Fatalf("log line holds a secret: %s", sc.Text())
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// ticketRequest is a signed request-access for a new guest, as the host
// delivers it to ticket-webhook.
func ticketRequest(secret, deliveryID, email string) []byte {
	cmd := []byte(`{"deliveryId":"` + deliveryID + `","action":"request-access","ticket":{"system":"jira","id":"SEC-42"},"method":"b2b",` +
		`"customerTenantId":"` + customerTenant + `","partnerTenantId":"` + partnerTenant + `",` +
		`"invitee":{"email":"` + email + `","displayName":"Fabrikam SOC analyst"},"roles":["Security Operator"],"durationDays":30,` +
		`"partnerContacts":["soc@fabrikam.example"],"customerContacts":["secops@contoso.example"]}`)
	header := webhook.TicketHeaders([]byte(secret), cmd, time.Now())
	header.Set("Content-Type", "application/json")
	return hostcall.HTTP(hostcall.HTTPArgs{Sys: hostcall.Sys{Function: "ticket-webhook"}, URL: "/api/webhooks/ticketing", Header: header, Body: cmd})
}

// TestProcessUnresolvedTicketSecret: a Key Vault reference that did not
// resolve (or no secret at all) stops only the ticket webhook: it answers
// 503 with a problem naming TICKET_WEBHOOK_SECRET, every other function
// runs, and start-up logs one warning line (issue 18).
func TestProcessUnresolvedTicketSecret(t *testing.T) {
	for name, value := range map[string]string{
		"unresolved": "@Microsoft.KeyVault(SecretUri=https://kv-fabrikam.vault.azure.net/secrets/ticket-webhook-secret/)",
		"unset":      "",
	} {
		t.Run(name, func(t *testing.T) {
			env, sim := testEnv(t)
			env["TICKET_WEBHOOK_SECRET"] = value
			env["TICKET_CALLBACK_URL"] = "http://127.0.0.1:9/comments"
			p := startHandler(t, env)

			status, out := p.invoke("ticket-webhook", ticketRequest(ticketSecret, "d-kv-1", "kv.analyst@fabrikam.example"))
			res, _ := out["Outputs"].(map[string]any)["res"].(map[string]any)
			if status != http.StatusOK || res["statusCode"] != "503" {
				t.Fatalf("ticket-webhook: got outer %d, res %v; want 503", status, res)
			}
			headers, _ := res["headers"].(map[string]any)
			body, _ := res["body"].(string)
			if headers["Content-Type"] != "application/problem+json" || !strings.Contains(body, "TICKET_WEBHOOK_SECRET") {
				t.Errorf("ticket-webhook: headers %v body %q; want a problem naming TICKET_WEBHOOK_SECRET", headers, body)
			}
			if strings.Contains(body, "kv-fabrikam") {
				t.Errorf("ticket-webhook: body %q quotes the setting's value", body)
			}

			// The queue functions, the sweep and the portal's views run.
			eventID, msg := fixtureBody(t, time.Now())
			if status, out := p.invoke("invitation-sent", queueEnvelope("invitation-sent", eventID, 1, msg)); status != http.StatusOK {
				t.Fatalf("invitation-sent: got %d %v", status, out["Logs"])
			}
			ctx := context.Background()
			store, _ := tablestore.New(ctx, tablestore.Options{ConnectionString: env["TABLES_CONNECTION_STRING"]})
			if g, _, err := store.Grant(ctx, customerTenant, "b2b:"+fixtureGuest); err != nil || g.Status != access.StatusActive {
				t.Errorf("invitation-sent: grant %+v %v, want active", g, err)
			}
			if n := len(sim.State().Mails); n != 2 {
				t.Errorf("mails: got %d, want 2: notifications other than ticket comments still go out", n)
			}
			sweep, _ := os.ReadFile("testdata/timer-expiry-sweep.json")
			if status, out := p.invoke("expiry-sweep", sweep); status != http.StatusOK {
				t.Errorf("expiry-sweep: got %d %v", status, out["Logs"])
			}
			grants := hostcall.HTTP(hostcall.HTTPArgs{Sys: hostcall.Sys{Function: "grants"}, Method: http.MethodGet,
				URL: "/api/grants?customerTenantId=" + customerTenant})
			if status, out := p.invoke("grants", grants); status != http.StatusOK {
				t.Errorf("grants: got %d %v", status, out)
			} else if res, _ := out["Outputs"].(map[string]any)["res"].(map[string]any); res["statusCode"] != "200" {
				t.Errorf("grants: got %v, want 200", res)
			}

			p.stop()
			var warnings []string
			sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
			for sc.Scan() {
				var line struct{ Level, Msg, Variable string }
				if json.Unmarshal(sc.Bytes(), &line) == nil && line.Level == "WARN" && line.Variable == "TICKET_WEBHOOK_SECRET" {
					warnings = append(warnings, line.Msg)
				}
			}
			if len(warnings) != 1 {
				t.Errorf("start-up warnings about TICKET_WEBHOOK_SECRET: got %q, want one line", warnings)
			}
		})
	}
}

// TestProcessGraphAppPerSide: every Graph call into the customer tenant is
// made as the customer app, every call into the partner tenant as the
// partner app: the simulator token's appid says which (DESIGN.md
// section 11).
func TestProcessGraphAppPerSide(t *testing.T) {
	env, _, apps := testEnvApps(t)
	env["APP_CLIENT_ID"] = partnerApp
	env["CUSTOMER_APP_CLIENT_ID"] = customerApp
	p := startHandler(t, env)
	ctx := context.Background()

	status, out := p.invoke("ticket-webhook", ticketRequest(ticketSecret, "d-apps-1", "apps.analyst@fabrikam.example"))
	if res, _ := out["Outputs"].(map[string]any)["res"].(map[string]any); status != http.StatusOK || res["statusCode"] != "202" {
		t.Fatalf("ticket-webhook: got %d %v\n%s", status, out, p.stderr)
	}
	queues, err := localqueue.New(env["LOCAL_QUEUES_CONNECTION_STRING"], nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := queues.Receive(ctx, "invitation-sent", 1, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("invitation-sent queue: got %d messages, %v; want 1", len(ds), err)
	}
	if status, out := p.invoke("invitation-sent", queueEnvelope("invitation-sent", ds[0].Envelope.MessageID, 1, ds[0].Envelope.Body)); status != http.StatusOK {
		t.Fatalf("invitation-sent: got %d %v", status, out["Logs"])
	}
	seen := map[string]map[string]bool{} // tenant → apps
	for _, c := range apps.calls() {
		if seen[c.Tenant] == nil {
			seen[c.Tenant] = map[string]bool{}
		}
		seen[c.Tenant][c.App] = true
		want := map[string]string{partnerTenant: partnerApp, customerTenant: customerApp}[c.Tenant]
		if c.App != want {
			t.Errorf("%s in tenant %s made as app %q, want %q", c.Path, c.Tenant, c.App, want)
		}
	}
	if len(seen[partnerTenant]) == 0 || len(seen[customerTenant]) == 0 {
		t.Errorf("Graph calls by tenant: %v, want calls into both the partner tenant (mail) and the customer tenant (guest, roles)", seen)
	}
	p.stop()
	if strings.Contains(p.stderr.String(), `"variable":"CUSTOMER_APP_CLIENT_ID"`) {
		t.Errorf("two apps configured: want no warning about CUSTOMER_APP_CLIENT_ID\n%s", p.stderr)
	}
}

// TestProcessOneAppWarned: without CUSTOMER_APP_CLIENT_ID the partner app
// serves both sides, with one warning line at start.
func TestProcessOneAppWarned(t *testing.T) {
	env, _ := testEnv(t)
	p := startHandler(t, env)
	p.stop()
	if n := strings.Count(p.stderr.String(), `"variable":"CUSTOMER_APP_CLIENT_ID"`); n != 1 {
		t.Errorf("warnings naming CUSTOMER_APP_CLIENT_ID: %d, want 1\n%s", n, p.stderr)
	}
}
