package main

import "testing"

// testEnv is the configuration of an in-process handler for tests.
func testEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"TABLES_CONNECTION_STRING":       "UseDevelopmentStorage=true",
		"LOCAL_QUEUES_CONNECTION_STRING": "UseDevelopmentStorage=true",
		"GRAPH_BASE_URL":                 "http://127.0.0.1:1/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              "11112222-3333-4444-5555-666677778888",
		"TICKET_WEBHOOK_SECRET":          "test-ticket-secret",
	}
}
