package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// TestRealHandler runs the project's own handler binary under devhost, on
// the project's own host.json and function.json files, against Azurite and
// graphsim: every trigger kind once, through the same paths a local run
// takes. Building the handler compiles the Graph SDK packages, which takes
// minutes on a cold build cache; -short skips it.
func TestRealHandler(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real handler; not with -short")
	}
	const (
		partner  = testenv.PartnerTenant
		customer = testenv.CustomerTenant
		secret   = "devhost-test-ticket-secret-0123456789"
	)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	bin := testenv.Binary(t, ".")
	az := testenv.Azurite(t)
	sim := httptest.NewServer(graphsim.New(graphsim.Seed{Partner: graphsim.Tenant{ID: partner, DisplayName: "Fabrikam MSSP"}}))
	t.Cleanup(sim.Close)

	// The app folder is the repository root (host.json, functions/), and
	// the handler is the binary just built.
	d := startDevhost(t, bin, root, map[string]string{
		"TABLES_CONNECTION_STRING":       az.ConnectionString,
		"LOCAL_QUEUES_CONNECTION_STRING": az.ConnectionString,
		"GRAPH_BASE_URL":                 sim.URL + "/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              partner,
		"TICKET_WEBHOOK_SECRET":          secret,
		// Only the admin trigger below runs the sweep: an hourly run
		// falling within the test would count twice.
		"EXPIRY_SWEEP_SCHEDULE": "0 0 0 1 1 *",
	})

	// HTTP: the advisor answers from the seed's matrices.
	res := do(t, "POST", d.url("/api/advisor"), []byte(`{"plugins":["Sentinel"],"capacityPlan":"customer","timeBound":true}`), map[string]string{"Content-Type": "application/json"})
	var advice struct {
		Recommendations []struct{ Method string }
	}
	if err := json.Unmarshal(res.body, &advice); err != nil || res.status != 200 || len(advice.Recommendations) != 3 {
		t.Errorf("POST /api/advisor: %d %s, want 200 with three recommendations", res.status, res.body)
	}

	// HTTP with optional route segments and a grant id holding ':'.
	if res := do(t, "GET", d.url("/api/grants"), nil, nil); res.status != 200 || !strings.Contains(string(res.body), `"grants"`) {
		t.Errorf("GET /api/grants: %d %s, want 200 with a grants list", res.status, res.body)
	}
	if res := do(t, "GET", d.url("/api/grants/"+customer+"/b2b:0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"), nil, nil); res.status != 404 || res.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET an unknown grant: %d %v %s, want a 404 problem from the handler", res.status, res.header, res.body)
	}

	// The ticket webhook's signature covers the raw body, so a valid one
	// accepted proves devhost passes the client's exact bytes; a bad one
	// is refused.
	body := []byte(`{"deliveryId": "dh-1",  "action": "no-such-action"}`)
	h := webhook.TicketHeaders([]byte(secret), body, time.Now())
	headers := map[string]string{"Content-Type": "application/json"}
	for k := range h {
		headers[k] = h.Get(k)
	}
	if res := do(t, "POST", d.url("/api/webhooks/ticketing"), body, headers); res.status == 401 || res.status/100 != 4 {
		t.Errorf("signed ticket command: %d %s, want a 4xx about the body, not 401", res.status, res.body)
	}
	headers["X-Signature"] = "sha256=" + strings.Repeat("0", 64)
	if res := do(t, "POST", d.url("/api/webhooks/ticketing"), body, headers); res.status != 401 {
		t.Errorf("badly signed ticket command: %d %s, want 401", res.status, res.body)
	}

	// Timer, on demand.
	if res := do(t, "POST", d.url("/admin/functions/expiry-sweep"), []byte(`{}`), nil); res.status != 202 {
		t.Errorf("POST /admin/functions/expiry-sweep: %d %s", res.status, res.body)
	}
	eventually(t, 20*time.Second, "the sweep", func() bool {
		return len(findLogs(d.stderr, "invocation", "function", "expiry-sweep", "outcome", "succeeded")) == 1
	}, d.stderr.String)

	// Queue: a message the contract rejects is recorded and completed,
	// not retried.
	q, err := localqueue.New(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := access.Message{Queue: "invitation-sent", ID: "dh-bad-1", Body: []byte(`{"eventId":"dh-bad-1"}`)}
	if err := q.Publish(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the rejected message completed", func() bool {
		l := findLogs(d.stderr, "invocation", "function", "invitation-sent", "messageId", "dh-bad-1")
		return len(l) == 1 && l[0].str("outcome") == "completed" && l[0].num("deliveryCount") == 1
	}, d.stderr.String)

	if err := d.stop(); err != nil {
		t.Errorf("run: %v", err)
	}
}
