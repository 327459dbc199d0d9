// Package e2e drives the whole local product as a user meets it: the local
// Functions host (cmd/devhost) running the handler binary on the project's
// own host.json and function.json files, Azurite for tables and queues,
// graphsim for Graph, and signed webhooks from a ticketing system and from
// Partner Center. Only HTTP and the storage and Graph state are used to
// drive and observe it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func TestMain(m *testing.M) { testenv.MainPrivate(m) }

const (
	partner   = testenv.PartnerTenant
	customer  = testenv.CustomerTenant
	group     = "f1000000-0000-4000-8000-000000000001"
	mailbox   = testenv.PartnerMailbox
	secret    = "e2e-ticket-secret-0123456789abcdef" // at least 32 bytes
	relSeeded = "f2000000-0000-4000-8000-000000000001-aaaabbbb-0000-cccc-1111-dddd2222eeee"
)

// local is one local run: the devhost and what it stands on.
type local struct {
	t      *testing.T
	base   string // http://127.0.0.1:<port>
	sim    *graphsim.Server
	pc     *testenv.PartnerCenter
	store  *tablestore.Store
	queues *localqueue.Queues
	clock  string // LOCAL_CLOCK_FILE
	out    *childproc.Log
}

func seed() graphsim.Seed {
	return graphsim.Seed{
		Partner: graphsim.Tenant{ID: partner, DisplayName: "Fabrikam",
			Domains: []graphsim.Domain{{ID: "fabrikam.example", IsVerified: true}},
			Users:   []graphsim.User{{ID: "f0000000-0000-4000-8000-000000000001", DisplayName: "Notifications", Mail: mailbox, UserPrincipalName: mailbox}},
			Groups:  []graphsim.Group{{ID: group, DisplayName: "SOC analysts"}},
			Relationships: []graphsim.Relationship{{ID: relSeeded, DisplayName: "Contoso Security Copilot", Status: "approvalPending",
				CustomerTenantID: customer, Roles: []string{access.SecurityReaderID, access.SecurityOperatorID}, Duration: "P730D", AutoExtendDuration: "PT0S"}}},
		Customers: []graphsim.Tenant{{ID: customer, DisplayName: "Contoso"}},
	}
}

func startLocal(t *testing.T) *local {
	t.Helper()
	handler, devhost := testenv.Binary(t, "."), testenv.Binary(t, "./cmd/devhost")
	az := testenv.Azurite(t)
	testenv.Empty(t, az, tablestore.Tables)
	l := &local{t: t, sim: graphsim.New(seed()), pc: testenv.NewPartnerCenter(t), out: &childproc.Log{}}
	srv := httptest.NewServer(l.sim)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	l.clock = filepath.Join(dir, "clock")
	settings := map[string]any{"IsEncrypted": false, "Values": map[string]string{
		"TABLES_CONNECTION_STRING": az.ConnectionString, "LOCAL_QUEUES_CONNECTION_STRING": az.ConnectionString,
		"GRAPH_BASE_URL": srv.URL + "/v1.0", "GRAPH_AUTH": "none", "PARTNER_TENANT_ID": partner,
		"PARTNER_SECURITY_GROUP_ID": group, "NOTIFY_MAIL_FROM": mailbox, "TICKET_WEBHOOK_SECRET": secret,
		"PARTNER_CENTER_ROOTS_FILE": l.pc.RootsFile, "PARTNER_CENTER_CERT_HOSTS": l.pc.Origin,
		"PARTNER_CENTER_ISSUER_HOSTS": l.pc.IssuerOrigin, "LOCAL_CLOCK_FILE": l.clock, "EXPIRY_SWEEP_SCHEDULE": "0 0 0 1 1 *",
	}}
	b, _ := json.Marshal(settings)
	settingsFile := filepath.Join(dir, "local.settings.json")
	if err := os.WriteFile(settingsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("..")
	// Port 0: the devhost logs the address it listens on.
	cmd := exec.Command(devhost, "-root", root, "-handler", handler, "-settings", settingsFile,
		"-addr", "127.0.0.1:0", "-retry-delay", "50ms")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.Stdout, cmd.Stderr = l.out, l.out
	p, err := childproc.Start(cmd, syscall.SIGKILL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(20 * time.Second)
		if t.Failed() {
			t.Logf("devhost output:\n%s", l.out)
		}
	})
	if l.store, err = tablestore.New(context.Background(), tablestore.Options{ConnectionString: az.ConnectionString}); err != nil {
		t.Fatal(err)
	}
	queues := append(append([]string(nil), servicebus.Queues...), localqueue.PoisonQueue("invitation-sent"))
	if l.queues, err = localqueue.New(az.ConnectionString, &localqueue.Options{Queues: queues}); err != nil {
		t.Fatal(err)
	}
	l.eventually("the devhost listens", 60*time.Second, func() bool {
		sc := bufio.NewScanner(strings.NewReader(l.out.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" && line.Addr != "" {
				l.base = "http://" + line.Addr
				return true
			}
		}
		return false
	})
	l.eventually("the devhost serves", 60*time.Second, func() bool {
		resp, err := http.Post(l.base+"/api/advisor", "application/json", strings.NewReader(`{}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return l
}

// eventually polls cond until it holds or the time is up.
func (l *local) eventually(what string, within time.Duration, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *local) post(path string, header http.Header, body []byte) (int, map[string]any) {
	l.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, l.base+path, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func (l *local) ticket(cmd map[string]any) (int, map[string]any) {
	l.t.Helper()
	cmd["customerTenantId"] = customer
	body, _ := json.Marshal(cmd)
	return l.post("/api/webhooks/ticketing", webhook.TicketHeaders([]byte(secret), body, time.Now()), body)
}

func (l *local) grant(id string) access.Grant {
	g, _, err := l.store.Grant(context.Background(), customer, id)
	if err != nil && !access.IsKind(err, access.KindNotFound) {
		l.t.Fatal(err)
	}
	return g
}

// moveClock sets the app's clock offset (LOCAL_CLOCK_FILE).
func (l *local) moveClock(d time.Duration) {
	l.t.Helper()
	if err := os.WriteFile(l.clock, []byte(d.String()), 0o600); err != nil {
		l.t.Fatal(err)
	}
	// The handler re-reads the file when its modification time changes.
	future := time.Now().Add(time.Duration(len(d.String())) * time.Millisecond)
	_ = os.Chtimes(l.clock, future, future)
}

func (l *local) sweep() {
	l.t.Helper()
	if status, _ := l.post("/admin/functions/expiry-sweep", http.Header{"Content-Type": {"application/json"}}, []byte(`{}`)); status != http.StatusAccepted {
		l.t.Fatalf("trigger the sweep: got %d, want 202", status)
	}
}

// awaitDue waits until the DueIndex holds the grant's action for stage
// (days before expiry; 0 is the expiry itself).
func (l *local) awaitDue(grantID string, stage int) {
	l.t.Helper()
	l.eventually(fmt.Sprintf("the %d-day action of %s in DueIndex", stage, grantID), 30*time.Second, func() bool {
		found := false
		_, err := l.store.DueUntil(context.Background(), time.Now().Add(10*365*access.Day), func(e access.DueEntry) error {
			found = found || (e.GrantID == grantID && e.Stage == stage)
			return nil
		})
		return err == nil && found
	})
}

func (l *local) rolesOf(principal string) []string {
	var out []string
	for _, a := range l.sim.State().Tenants[1].RoleAssignments {
		if a.PrincipalID == principal {
			out = append(out, a.RoleDefinitionID)
		}
	}
	return out
}

// accountEnabled reports whether a customer user may sign in (a user not
// found may not).
func (l *local) accountEnabled(user string) bool {
	for _, u := range l.sim.State().Tenants[1].Users {
		if strings.EqualFold(u.ID, user) {
			return u.AccountEnabled == nil || *u.AccountEnabled
		}
	}
	return false
}

func (l *local) subjects() []string {
	var out []string
	for _, m := range l.sim.State().Mails {
		out = append(out, m.Subject)
	}
	return out
}

func countContaining(list []string, s string) int {
	n := 0
	for _, x := range list {
		if strings.Contains(x, s) {
			n++
		}
	}
	return n
}

func TestB2BFromTicketToExpiry(t *testing.T) {
	l := startLocal(t)
	status, res := l.ticket(map[string]any{"deliveryId": "e2e-1", "action": "request-access", "method": "b2b",
		"ticket": map[string]string{"system": "jira", "id": "SEC-42"}, "partnerTenantId": partner,
		"invitee": map[string]string{"email": "analyst@fabrikam.example", "displayName": "Analyst"},
		"roles":   []string{"Security Operator"}, "durationDays": 90,
		"partnerContacts": []string{"soc@fabrikam.example"}, "customerContacts": []string{"secops@contoso.example"}})
	if status != http.StatusAccepted {
		t.Fatalf("request-access: got %d %v, want 202", status, res)
	}
	grantID := res["grantId"].(string)
	guest := strings.TrimPrefix(grantID, "b2b:")
	l.eventually("the grant is active through the invitation-sent queue", 30*time.Second, func() bool {
		return l.grant(grantID).Status == access.StatusActive
	})
	if roles := l.rolesOf(guest); !slices.Equal(roles, []string{access.SecurityOperatorID}) {
		t.Fatalf("guest roles: got %v, want Security Operator", roles)
	}
	g := l.grant(grantID)
	for _, step := range []struct {
		stage  int
		offset time.Duration
		notice string
	}{
		{30, g.ExpiresAt.Sub(time.Now()) - 30*access.Day + time.Hour, "ends in 30 days"},
		{7, g.ExpiresAt.Sub(time.Now()) - 7*access.Day + time.Hour, "ends in 7 days"},
		{1, g.ExpiresAt.Sub(time.Now()) - access.Day + time.Hour, "ends in 1 day"},
	} {
		// Each action schedules the next one after its commit, alongside
		// its mails: wait for the schedule before the sweep looks for it.
		l.awaitDue(grantID, step.stage)
		l.moveClock(step.offset)
		l.sweep()
		l.eventually("the notice "+step.notice, 30*time.Second, func() bool { return countContaining(l.subjects(), step.notice) == 2 })
	}
	l.awaitDue(grantID, 0)
	l.moveClock(g.ExpiresAt.Sub(time.Now()) + time.Hour)
	l.sweep()
	l.eventually("the expiry", 30*time.Second, func() bool { return l.grant(grantID).Status == access.StatusExpired })
	if roles := l.rolesOf(guest); len(roles) != 0 {
		t.Fatalf("guest roles after expiry: got %v, want none", roles)
	}
	// The guest the app's invitation created is disabled after its grant
	// (B2B_GUEST_AFTER_END defaults to disable).
	if on := l.accountEnabled(guest); on {
		t.Errorf("the guest may still sign in after its grant expired")
	}
	if got := l.grant(grantID).NoticesSent; !slices.Equal(got, []int{30, 7, 1}) {
		t.Errorf("notices sent: got %v, want [30 7 1]", got)
	}
	// The mails go out after the commit that records the expiry.
	l.eventually("the two expiry mails", 30*time.Second, func() bool { return countContaining(l.subjects(), "expired") == 2 })
}

func TestGDAPApprovalFromPartnerCenter(t *testing.T) {
	l := startLocal(t)
	// An approval of a relationship the app did not request grants nothing.
	unrequested := []byte(`{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` +
		relSeeded + `","ResourceName":"GranularAdminRelationship","AuditUri":null,"ResourceChangeUtcDate":"2026-11-27T08:00:00.5485487+00:00"}`)
	if status, res := l.post("/api/webhooks/partner-center", l.pc.Headers(t, unrequested), unrequested); status != http.StatusOK || res["status"] != "not requested" {
		t.Fatalf("approval of a relationship nobody requested: got %d %v, want 200 not requested", status, res)
	}
	// The app's own request, approved by the customer.
	status, res := l.ticket(map[string]any{"deliveryId": "e2e-gdap-1", "action": "request-access", "method": "gdap",
		"ticket": map[string]string{"system": "jira", "id": "SEC-77"}, "customerTenantId": customer,
		"roles": []string{"Security Reader"}, "durationDays": 180})
	if status != http.StatusAccepted {
		t.Fatalf("request-access: got %d %v, want 202", status, res)
	}
	grantID, _ := res["grantId"].(string)
	relID := strings.TrimPrefix(grantID, "gdap:")
	if err := l.sim.ApproveRelationship(relID); err != nil {
		t.Fatal(err)
	}
	event := []byte(`{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` +
		relID + `","ResourceName":"GranularAdminRelationship","AuditUri":null,"ResourceChangeUtcDate":"2026-11-27T08:00:01.5485487+00:00"}`)
	status, res = l.post("/api/webhooks/partner-center", l.pc.Headers(t, event), event)
	if status != http.StatusAccepted {
		t.Fatalf("partner center event: got %d %v, want 202", status, res)
	}
	l.eventually("the GDAP grant is active", 30*time.Second, func() bool {
		return l.grant(grantID).Status == access.StatusActive
	})
	var assigned []graphsim.AccessAssignment
	for _, r := range l.sim.State().Tenants[0].Relationships {
		if r.ID == relID {
			assigned = r.AccessAssignments
		}
	}
	if len(assigned) != 1 || assigned[0].GroupID != group {
		t.Fatalf("access assignments: got %+v, want one for the partner group", assigned)
	}
	// A forged event is refused and changes nothing.
	forged := bytes.Replace(event, []byte("approved"), []byte("terminated"), 1)
	if status, _ := l.post("/api/webhooks/partner-center", l.pc.Headers(t, event), forged); status != http.StatusUnauthorized {
		t.Fatalf("forged event: got %d, want 401", status)
	}
	if g := l.grant(grantID); g.Status != access.StatusActive {
		t.Fatalf("after a forged event: grant %s", g.Status)
	}
}

func TestPoisonMessageEndsInPoisonQueueOnly(t *testing.T) {
	l := startLocal(t)
	// Graph answers 503 for the customer tenant whatever happens: the
	// message fails every delivery.
	if err := l.sim.InjectFault(graphsim.Fault{Status: http.StatusServiceUnavailable, TenantID: customer}); err != nil {
		t.Fatal(err)
	}
	// A message id of its own: the poison queue outlives one test run.
	id := testenv.UniqueName(t, "poison")
	body := []byte(`{"eventId":"` + id + `","occurredAt":"` + time.Now().UTC().Format(time.RFC3339) + `","customerTenantId":"` + customer +
		`","partnerTenantId":"` + partner + `","invitedUserId":"0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b","roles":["Security Reader"],"durationDays":30}`)
	if err := l.queues.Publish(context.Background(), access.Message{Queue: "invitation-sent", ID: id, Body: body}); err != nil {
		t.Fatal(err)
	}
	var poisoned []localqueue.Delivery
	l.eventually("the message reaches invitation-sent-poison", 90*time.Second, func() bool {
		ds, err := l.queues.Peek(context.Background(), localqueue.PoisonQueue("invitation-sent"), 32)
		if err != nil {
			t.Fatal(err)
		}
		poisoned = poisoned[:0]
		for _, d := range ds {
			if d.Envelope.MessageID == id {
				poisoned = append(poisoned, d)
			}
		}
		return len(poisoned) > 0
	})
	if len(poisoned) != 1 || !bytes.Equal(poisoned[0].Envelope.Body, body) {
		t.Fatalf("poison queue: got %+v, want the message whole", poisoned)
	}
	// The devhost logs an invocation after settling it, and its output
	// reaches the test through a pipe: the poisoning invocation's line may
	// arrive after the message is seen in the poison queue.
	var deliveries []string
	l.eventually("the devhost logs the poisoning invocation", 30*time.Second, func() bool {
		deliveries = deliveries[:0]
		sc := bufio.NewScanner(strings.NewReader(l.out.String()))
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"msg":"invocation"`) && strings.Contains(line, `"function":"invitation-sent"`) && strings.Contains(line, `"messageId":"`+id+`"`) {
				deliveries = append(deliveries, line)
			}
		}
		return len(deliveries) > 0 && strings.Contains(deliveries[len(deliveries)-1], `"outcome":"poisoned"`)
	})
	if len(deliveries) != 10 {
		t.Errorf("deliveries before poison: got %d, want 10 (maxDeliveryCount)", len(deliveries))
	}
	for i, line := range deliveries[:len(deliveries)-1] {
		if !strings.Contains(line, `"outcome":"abandoned"`) {
			t.Errorf("delivery %d: want abandoned, got %s", i+1, line)
		}
	}
	// Nothing else: no grant, no Rejected row, no mail, nothing left in the queue.
	if g := l.grant("b2b:0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"); g.Status != access.StatusNew {
		t.Errorf("grant: got %s, want none", g.Status)
	}
	if rej, _ := l.store.Rejections(context.Background(), "invitation-sent", time.Now()); len(rej) != 0 {
		t.Errorf("Rejected: got %d rows, want none (a transient failure is not bad input)", len(rej))
	}
	if n := len(l.sim.State().Mails); n != 0 {
		t.Errorf("mails: got %d, want none", n)
	}
	if ds, _ := l.queues.Peek(context.Background(), "invitation-sent", 32); len(ds) != 0 {
		t.Errorf("invitation-sent still holds %d messages", len(ds))
	}
}
