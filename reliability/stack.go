package reliability

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
)

// Env is what every scenario stands on: the binaries under test and one
// Azurite. Scenarios isolate themselves by drawing their own tenants.
type Env struct {
	Bins    Binaries
	Azurite testenv.Endpoints
	// Progress receives a line now and then while a scenario runs; nil
	// means none.
	Progress func(format string, args ...any)
}

func (e Env) progress(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(format, args...)
	}
}

// stack is one scenario's world: graphsim seeded with its workload, the
// webhook sinks, a fault proxy in front of every service the handler
// calls, the handler's settings with known secrets, and direct clients of
// the stores for the checks.
type stack struct {
	env  Env
	opts Options
	name string
	dir  string
	rng  *rand.Rand
	work workload
	now  time.Time

	sim           *graphsim.Server
	simSrv        *httptest.Server
	teams, ticket *sink
	in            *injector
	creds         *credentials
	proxies       []*proxy

	// settings is the handler's environment, secrets is every secret
	// value in it by name.
	settings map[string]string
	secrets  map[string]string

	store  *tablestore.Store
	queues *localqueue.Queues

	mu      sync.Mutex
	outputs map[string]*childproc.Log // process outputs, by name
	answers []answer                  // what the handler and the host answered
	history map[string][]string       // event id → how each delivery ended
}

// answer is a response body the harness received, kept for the secret
// scan: invocation answers, webhook answers, problem details.
type answer struct {
	Where string
	Body  string
}

// scenarioSeed derives a scenario's seed from the run's, so that each
// scenario's draws do not depend on which others ran before it.
func scenarioSeed(seed uint64, name string) uint64 {
	h := seed
	for _, c := range name {
		h = h*1099511628211 + uint64(c)
	}
	return h
}

// newStack builds a scenario's world for n events; tweak, if not nil, may
// change the workload before graphsim is seeded with it.
func newStack(ctx context.Context, env Env, opts Options, name string, n int, tweak func(*workload)) (*stack, error) {
	dir, err := os.MkdirTemp("", "reliability-"+name+"-")
	if err != nil {
		return nil, err
	}
	seed := scenarioSeed(opts.Seed, name)
	s := &stack{env: env, opts: opts, name: name, dir: dir, rng: rand.New(rand.NewPCG(seed, seed>>1|1)),
		now: time.Now().UTC(), outputs: map[string]*childproc.Log{}, history: map[string][]string{}, creds: newCredentials()}
	s.work = newWorkload(s.rng, name, n, opts.GDAPEvery, s.now)
	if tweak != nil {
		tweak(&s.work)
	}
	s.sim = graphsim.New(s.work.seed())
	s.simSrv = httptest.NewServer(s.sim)
	s.teams, s.ticket = newSink(http.StatusAccepted), newSink(http.StatusOK)
	s.in = newInjector(seed^0x5eed, opts.Latency)

	tableUp, err := origin(env.Azurite.TableEndpoint)
	if err != nil {
		s.close()
		return nil, err
	}
	queueUp, err := origin(env.Azurite.QueueEndpoint)
	if err != nil {
		s.close()
		return nil, err
	}
	mk := func(name, upstream string, style errorStyle) *proxy {
		if err != nil {
			return nil
		}
		var p *proxy
		p, err = newProxy(name, upstream, style, s.in, s.creds)
		if p != nil {
			s.proxies = append(s.proxies, p)
		}
		return p
	}
	tables := mk("tables", tableUp, styleTable)
	queues := mk("queues", queueUp, styleQueue)
	graph := mk("graph", s.simSrv.URL, styleGraph)
	teams := mk("teams", s.teams.srv.URL, stylePlain)
	ticket := mk("ticket", s.ticket.srv.URL, stylePlain)
	if err != nil {
		s.close()
		return nil, err
	}

	// Known secrets, each unique to this run, so that finding one in an
	// output can only mean it leaked.
	s.secrets = map[string]string{
		"APP_CLIENT_SECRET":     "rel-client-secret-" + randomHex(16),
		"TICKET_WEBHOOK_SECRET": "rel-hmac-secret-" + randomHex(16),
		"storage AccountKey":    testenv.AccountKey,
		"Teams webhook sig":     randomHex(22),
		// A webhook's path can be a secret too (Teams Workflows URLs carry
		// one), and a callback's path names the ticketing tenant: logs name
		// them by scheme://host only.
		"Teams webhook path":   "/workflows/" + randomHex(12) + "/triggers/manual/paths/invoke",
		"ticket callback path": "/api/" + randomHex(12) + "/comments",
	}
	conn := "DefaultEndpointsProtocol=http;AccountName=" + testenv.AccountName + ";AccountKey=" + testenv.AccountKey +
		";BlobEndpoint=" + env.Azurite.BlobEndpoint +
		";QueueEndpoint=" + queues.URL() + "/" + testenv.AccountName +
		";TableEndpoint=" + tables.URL() + "/" + testenv.AccountName + ";"
	s.settings = map[string]string{
		"TABLES_CONNECTION_STRING":       conn,
		"LOCAL_QUEUES_CONNECTION_STRING": conn,
		"GRAPH_BASE_URL":                 graph.URL() + "/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              testenv.PartnerTenant,
		"APP_CLIENT_ID":                  "5e1f0000-0000-4000-8000-00000000a99c",
		"APP_CLIENT_SECRET":              s.secrets["APP_CLIENT_SECRET"],
		"PARTNER_SECURITY_GROUP_ID":      partnerGroup,
		"NOTIFY_MAIL_FROM":               testenv.PartnerMailbox,
		"NOTIFY_TEAMS_WEBHOOK_URL": teams.URL() + s.secrets["Teams webhook path"] + "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" +
			s.secrets["Teams webhook sig"],
		"TICKET_CALLBACK_URL":   ticket.URL() + s.secrets["ticket callback path"],
		"TICKET_WEBHOOK_SECRET": s.secrets["TICKET_WEBHOOK_SECRET"],
		// The sweep is a safety net for lost schedules; here it would only
		// add work nobody counts.
		"EXPIRY_SWEEP_SCHEDULE": "0 0 0 1 1 *",
	}

	// The checks read the stores directly, never through the proxies.
	if s.store, err = tablestore.New(ctx, tablestore.Options{ConnectionString: env.Azurite.ConnectionString}); err != nil {
		s.close()
		return nil, fmt.Errorf("table store: %w", err)
	}
	names := append([]string(nil), servicebus.Queues...)
	for _, q := range servicebus.Queues {
		names = append(names, localqueue.PoisonQueue(q))
	}
	if s.queues, err = localqueue.New(env.Azurite.ConnectionString, &localqueue.Options{Queues: names}); err != nil {
		s.close()
		return nil, fmt.Errorf("local queues: %w", err)
	}
	return s, nil
}

// origin is scheme://host[:port] of an endpoint URL.
func origin(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("endpoint %q is not an absolute URL", endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// output returns a new named output collector, kept for the secret scan.
func (s *stack) output(name string) *childproc.Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &childproc.Log{}
	if s.outputs[name] != nil {
		name = fmt.Sprintf("%s#%d", name, len(s.outputs))
	}
	s.outputs[name] = o
	return o
}

// keep records a body the harness received, for the secret scan.
func (s *stack) keep(where string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, answer{Where: where, Body: string(body)})
}

// record notes how one delivery of an event ended, for the evidence of a
// finding about it.
func (s *stack) record(eventID, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history[eventID] = append(s.history[eventID], outcome)
}

// deliveriesOf describes how each delivery of an event ended.
func (s *stack) deliveriesOf(eventID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history[eventID]
	if len(h) == 0 {
		return "no delivery recorded"
	}
	return strings.Join(h, ", ")
}

func (s *stack) close() {
	for _, p := range s.proxies {
		p.close()
	}
	if s.simSrv != nil {
		s.simSrv.Close()
	}
	if s.teams != nil {
		s.teams.close()
	}
	if s.ticket != nil {
		s.ticket.close()
	}
	if s.dir != "" && strings.Contains(s.dir, "reliability-") {
		_ = os.RemoveAll(s.dir)
	}
}

// events is the stack's workload events.
func (s *stack) events() []event { return s.work.Events }
