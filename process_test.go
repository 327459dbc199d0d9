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
		if e.GrantID == grantID {
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
