package main

import (
	"net/http/httptest"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
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
	ticketSecret   = "test-ticket-secret"
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
	t.Helper()
	az := testenv.Azurite(t)
	testenv.Empty(t, az, tablestore.Tables)
	sim := graphsim.New(seed())
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return map[string]string{
		"TABLES_CONNECTION_STRING":       az.ConnectionString,
		"LOCAL_QUEUES_CONNECTION_STRING": az.ConnectionString,
		"GRAPH_BASE_URL":                 srv.URL + "/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              partnerTenant,
		"TICKET_WEBHOOK_SECRET":          ticketSecret,
		"NOTIFY_MAIL_FROM":               mailFrom,
	}, sim
}
