package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/arm"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
	"github.com/mssp-tools/copilot-partner-access/shared/graph"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
	"github.com/mssp-tools/copilot-partner-access/shared/lighthouse"
	"github.com/mssp-tools/copilot-partner-access/shared/notify"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func TestMain(m *testing.M) { testenv.MainPrivate(m) }

// Tenants and principals of the tests' simulated directory.
const (
	partnerTenant  = "11112222-3333-4444-5555-666677778888"
	customerTenant = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	guestID        = "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"
	appPrincipalID = "7c6b5a49-3827-4165-9f0e-d1c2b3a49586" // the app's identity (LIGHTHOUSE_APP_PRINCIPAL_ID)
	partnerGroup   = "3f1e6a4b-2c5d-4e7f-8a9b-0c1d2e3f4a5b"
	relationshipID = "2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	ticketSecret   = "test-ticket-secret-value-0123456789" // at least 32 bytes, as config requires
)

// sink records what a Teams webhook or ticketing system receives, and can
// be told to fail.
type sink struct {
	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	failWith int
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != 0 {
		w.WriteHeader(s.failWith)
		return
	}
	s.bodies = append(s.bodies, b)
	s.headers = append(s.headers, r.Header.Clone())
	w.WriteHeader(http.StatusAccepted)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

func (s *sink) fail(status int) {
	s.mu.Lock()
	s.failWith = status
	s.mu.Unlock()
}

// env is the functions wired to real parts: Table Storage and storage
// queues on Azurite, the real Graph client against graphsim, the real
// notifier against HTTP sinks.
type env struct {
	t       *testing.T
	deps    Deps
	handler http.Handler
	store   *tablestore.Store
	sim     *graphsim.Server
	queues  *localqueue.Queues
	teams   *sink
	tickets *sink
	clock   *testenv.Clock
	logs    *bytes.Buffer
	// published sees every message the functions publish, scheduled ones
	// included (a storage queue hides those until they are due).
	published *recorder
	pc        *testenv.PartnerCenter
}

// httpEnvelope builds an HTTP trigger invocation in the host's shape.
func httpEnvelope(function, method, path string, header http.Header, body []byte, params map[string]string) []byte {
	return hostcall.HTTP(hostcall.HTTPArgs{Sys: hostcall.Sys{Function: function, Now: time.Date(2026, 11, 27, 8, 0, 0, 123456700, time.UTC),
		RandGUID: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}, Method: method, URL: path, Header: header, Body: body, Params: params})
}

// httpResult is what an HTTP function answered through Outputs.res.
type httpResult struct {
	Status int
	Header map[string]string
	Body   map[string]any
	Raw    string
}

// call invokes an HTTP function and decodes Outputs.res.
func (e *env) call(function, method, path string, header http.Header, body []byte, params map[string]string) httpResult {
	e.t.Helper()
	status, out := e.invoke(function, httpEnvelope(function, method, path, header, body, params))
	if status != http.StatusOK {
		e.t.Fatalf("%s: outer status %d, want 200 with the answer in Outputs.res", function, status)
	}
	res, _ := out["Outputs"].(map[string]any)["res"].(map[string]any)
	code, _ := strconv.Atoi(res["statusCode"].(string))
	r := httpResult{Status: code, Header: map[string]string{}, Raw: res["body"].(string)}
	for k, v := range res["headers"].(map[string]any) {
		r.Header[k] = v.(string)
	}
	_ = json.Unmarshal([]byte(r.Raw), &r.Body)
	return r
}

// ticket sends a signed ticketing command.
func (e *env) ticket(cmd map[string]any) httpResult {
	e.t.Helper()
	body := mustMarshal(e.t, cmd)
	return e.call(FnTicketWebhook, "POST", "/api/webhooks/ticketing", webhook.TicketHeaders([]byte(ticketSecret), body, time.Now()), body, nil)
}

// recorder publishes through the real local queues and remembers what it
// published.
type recorder struct {
	inner lifecycle.Publisher
	mu    sync.Mutex
	msgs  []access.Message
	fail  bool // answer as an unavailable Service Bus would
}

func (r *recorder) Publish(ctx context.Context, m access.Message) error {
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail {
		return access.Errorf(access.KindTransient, "queue unavailable (test)")
	}
	if err := r.inner.Publish(ctx, m); err != nil {
		return err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) to(queue string) []access.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.msgs), func(m access.Message) bool { return m.Queue != queue })
}

// drain empties the visible part of the three queues, so that a test sees
// only its own messages.
func (e *env) drain() {
	e.t.Helper()
	for _, q := range []string{FnInvitationSent, FnGDAPApproved, FnGrantExpiring} {
		for {
			ds, err := e.queues.Receive(context.Background(), q, 32, time.Minute)
			if err != nil {
				e.t.Fatal(err)
			}
			if len(ds) == 0 {
				break
			}
			for _, d := range ds {
				_ = e.queues.Delete(context.Background(), d)
			}
		}
	}
}

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env { return newEnvWith(t) }

// newEnvWith is newEnv with the simulated directory's seed adjusted first,
// by each function in turn.
func newEnvWith(t *testing.T, adjust ...func(*graphsim.Seed)) *env {
	t.Helper()
	ctx := context.Background()
	az := testenv.Azurite(t)
	e := &env{t: t, teams: &sink{}, tickets: &sink{}, clock: testenv.NewClock(t0.Add(time.Minute)), logs: &bytes.Buffer{}}

	store, err := tablestore.New(ctx, tablestore.Options{ConnectionString: az.ConnectionString, TablePrefix: testenv.UniqueName(t, "t"), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.store = store

	seed := demoSeed()
	for _, adjust := range adjust {
		adjust(&seed)
	}
	e.sim = graphsim.New(seed)
	simSrv := httptest.NewServer(e.sim)
	t.Cleanup(simSrv.Close)
	teamsSrv := httptest.NewServer(e.teams)
	t.Cleanup(teamsSrv.Close)
	ticketSrv := httptest.NewServer(e.tickets)
	t.Cleanup(ticketSrv.Close)

	q, err := localqueue.New(az.ConnectionString, &localqueue.Options{Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.queues = q

	// The configuration is read from the process environment, as in
	// production: every variable of the app unset but these (t.Setenv
	// restores them after the test).
	for _, name := range config.Variables() {
		t.Setenv(name, "")
	}
	for k, v := range map[string]string{
		"TABLES_CONNECTION_STRING":       az.ConnectionString,
		"LOCAL_QUEUES_CONNECTION_STRING": az.ConnectionString,
		"GRAPH_BASE_URL":                 simSrv.URL + "/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              partnerTenant,
		"PARTNER_SECURITY_GROUP_ID":      partnerGroup,
		"NOTIFY_MAIL_FROM":               "copilot-access@fabrikam.example",
		"NOTIFY_TEAMS_WEBHOOK_URL":       teamsSrv.URL + "/workflows?sig=secret-sig",
		"TICKET_CALLBACK_URL":            ticketSrv.URL + "/comments",
		"TICKET_WEBHOOK_SECRET":          ticketSecret,
		"LIGHTHOUSE_APP_PRINCIPAL_ID":    appPrincipalID,
		"ARM_BASE_URL":                   simSrv.URL,
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := graph.New(graph.Options{BaseURL: cfg.GraphBaseURL, Auth: cfg.GraphAuth})
	if err != nil {
		t.Fatal(err)
	}
	notifier, err := notify.New(notify.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		MailFrom: cfg.NotifyMailFrom, PartnerTenantID: cfg.PartnerTenantID, Mailer: dir,
		TeamsWebhookURL: cfg.NotifyTeamsWebhookURL, TicketCallbackURL: cfg.TicketCallbackURL,
		SignTicket: webhook.TicketCommentSigner([]byte(ticketSecret), e.clock.Now),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.pc = testenv.NewPartnerCenter(t)
	roots, err := webhook.LoadRoots(e.pc.RootsFile)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := webhook.NewPartnerCenterVerifier(webhook.PartnerCenterOptions{CertOrigins: []string{e.pc.Origin}, IssuerOrigins: []string{e.pc.IssuerOrigin}, Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	e.published = &recorder{inner: q}
	e.drain()
	armClient, err := arm.New(arm.Options{BaseURL: cfg.ARMBaseURL, PollEvery: 10 * time.Millisecond,
		Credential: arm.UnsignedCredential{TenantID: cfg.PartnerTenantID, ObjectID: cfg.LighthouseAppPrincipalID}})
	if err != nil {
		t.Fatal(err)
	}
	e.deps = Deps{
		Config: cfg,
		Lifecycle: lifecycle.New(lifecycle.Deps{
			Store: store, Guests: dir, GDAP: dir, Domains: dir, Publisher: e.published, Notifier: notifier, Accounts: dir, SignIns: dir, TimeBound: dir,
			Templates: lighthouse.Templates{GroupName: "MSSP security analysts", AppPrincipalID: cfg.LighthouseAppPrincipalID}, Clock: lifecycle.ClockFunc(e.clock.Now),
			Delegations: armClient,
		}, LifecycleOptions(cfg)),
		PartnerCenter: verifier, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	e.handler = Routes(e.deps)
	return e
}

func demoSeed() graphsim.Seed {
	return graphsim.Seed{
		Partner: graphsim.Tenant{ID: partnerTenant, DisplayName: "Fabrikam",
			Domains: []graphsim.Domain{{ID: "fabrikam.example", IsVerified: true}},
			Users: []graphsim.User{{ID: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", DisplayName: "Copilot access notifications",
				Mail: "copilot-access@fabrikam.example", UserPrincipalName: "copilot-access@fabrikam.example"}},
			Groups: []graphsim.Group{{ID: partnerGroup, DisplayName: "Fabrikam SOC"}}},
		Customers: []graphsim.Tenant{{ID: customerTenant, DisplayName: "Contoso",
			Users: []graphsim.User{{ID: guestID, DisplayName: "Fabrikam analyst", Mail: "analyst@fabrikam.example", UserType: "Guest"}}}},
	}
}

// queueEnvelope builds a Service Bus invocation in the host's shape.
func queueEnvelope(function, messageID string, delivery int, body []byte) []byte {
	return hostcall.Queue(hostcall.QueueArgs{Sys: hostcall.Sys{Function: function, Now: time.Date(2026, 11, 27, 8, 0, 1, 882345100, time.UTC)},
		MessageID: messageID, DeliveryCount: delivery, Body: body, EnqueuedAt: time.Date(2026, 11, 27, 8, 0, 1, 0, time.UTC), SequenceNumber: 42})
}

// invoke posts an invocation envelope to a function and returns the outer
// status and decoded response.
func (e *env) invoke(function string, envelope []byte) (int, map[string]any) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+function, bytes.NewReader(envelope))
	req.Header.Set("X-Azure-Functions-InvocationId", "inv-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		e.t.Fatalf("%s: response is not JSON: %q", function, rec.Body.String())
	}
	return rec.Code, out
}

func (e *env) deliver(function string, messageID string, delivery int, body []byte) (int, map[string]any) {
	e.t.Helper()
	return e.invoke(function, queueEnvelope(function, messageID, delivery, body))
}

func (e *env) grant(id string) access.Grant {
	e.t.Helper()
	g, _, err := e.store.Grant(context.Background(), customerTenant, id)
	if err != nil {
		e.t.Fatalf("read grant %s: %v", id, err)
	}
	return g
}

func (e *env) audit(id string) []access.AuditEntry {
	e.t.Helper()
	a, err := e.store.Audit(context.Background(), customerTenant, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// rolesOf returns the directory roles a principal holds in the simulator.
func (e *env) rolesOf(tenant, principal string) []string {
	e.t.Helper()
	var out []string
	for _, tn := range e.sim.State().Tenants {
		if tn.ID != tenant {
			continue
		}
		for _, a := range tn.RoleAssignments {
			if a.PrincipalID == principal {
				out = append(out, a.RoleDefinitionID)
			}
		}
	}
	return out
}

func (e *env) mails() []graphsim.Mail { return e.sim.State().Mails }

// pending drains a local queue (without deleting) and returns the decoded
// bodies of the messages in it.
func (e *env) pending(queue string) []localqueue.Delivery {
	e.t.Helper()
	ds, err := e.queues.Peek(context.Background(), queue, 32)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testenvPartnerCenter(t *testing.T) *testenv.PartnerCenter { return testenv.NewPartnerCenter(t) }
