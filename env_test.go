package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
)

// The handler's tests use the storage queues of the contract's names: they
// get an Azurite of their own.
func TestMain(m *testing.M) { testenv.MainPrivate(m) }

// Tenants and principals of the fixtures.
const (
	partnerTenant  = "11112222-3333-4444-5555-666677778888"
	customerTenant = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	fixtureGuest   = "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"
	ticketSecret   = "test-ticket-secret-0123456789abcdef" // at least 32 bytes, as config requires
	partnerApp     = "9a8b7c6d-0000-4000-8000-00000000a001"
	customerApp    = "9a8b7c6d-0000-4000-8000-00000000c002"
	mailFrom       = "copilot-access@fabrikam.example"
)

func seed() graphsim.Seed {
	return graphsim.Seed{
		Partner: graphsim.Tenant{ID: partnerTenant, DisplayName: "Fabrikam",
			Domains: []graphsim.Domain{{ID: "fabrikam.example", IsVerified: true}},
			Users:   []graphsim.User{{ID: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", DisplayName: "Notifications", Mail: mailFrom, UserPrincipalName: mailFrom}}},
		Customers: []graphsim.Tenant{{ID: customerTenant, DisplayName: "Contoso",
			Users: []graphsim.User{{ID: fixtureGuest, DisplayName: "Fabrikam analyst", Mail: "analyst@fabrikam.example", UserType: "Guest"}}}},
	}
}

// testEnv is the configuration of a handler for tests: Azurite for tables
// and queues, a graphsim server for Graph.
func testEnv(t *testing.T) (map[string]string, *graphsim.Server) {
	env, sim, _ := testEnvApps(t)
	return env, sim
}

// testEnvApps is testEnv with the log of the apps that called Graph, read
// from each request's token.
func testEnvApps(t *testing.T) (map[string]string, *graphsim.Server, *appLog) {
	t.Helper()
	az := testenv.Azurite(t)
	testenv.Empty(t, az, tablestore.Tables)
	sim := graphsim.New(seed())
	apps := &appLog{next: sim}
	srv := httptest.NewServer(apps)
	t.Cleanup(srv.Close)
	return map[string]string{
		"TABLES_CONNECTION_STRING":       az.ConnectionString,
		"LOCAL_QUEUES_CONNECTION_STRING": az.ConnectionString,
		"GRAPH_BASE_URL":                 srv.URL + "/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              partnerTenant,
		"TICKET_WEBHOOK_SECRET":          ticketSecret,
		"NOTIFY_MAIL_FROM":               mailFrom,
		// The MSSP's domain, named here rather than read from the seed's
		// verified domains, so that these tests follow the setting.
		"B2B_ALLOWED_DOMAINS": "fabrikam.example",
	}, sim, apps
}

// setEnv sets the process environment, which the configuration is read
// from, to env for the test: every other variable of the app unset
// (t.Setenv restores them all afterwards).
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, name := range config.Variables() {
		t.Setenv(name, "") // empty counts as unset
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// appLog records, for every Graph request, the tenant and the app its
// token names (the tid and appid claims of the unsigned simulator token),
// then hands the request to the simulator.
type appLog struct {
	next http.Handler
	mu   sync.Mutex
	seen []tokenApp
}

type tokenApp struct{ Tenant, App, Path string }

func (l *appLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		var c struct {
			Tid   string `json:"tid"`
			AppID string `json:"appid"`
		}
		if parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), "."); len(parts) == 3 {
			if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
				_ = json.Unmarshal(b, &c)
			}
		}
		l.mu.Lock()
		l.seen = append(l.seen, tokenApp{Tenant: c.Tid, App: c.AppID, Path: r.URL.Path})
		l.mu.Unlock()
	}
	l.next.ServeHTTP(w, r)
}

func (l *appLog) calls() []tokenApp {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tokenApp(nil), l.seen...)
}
