package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/lighthouse"
)

func TestDelegateDeploysTheMailedTemplate(t *testing.T) {
	const (
		partner = "11112222-3333-4444-5555-666677778888"
		group   = "6a1d2c3b-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
		sub     = "c0ffee00-1111-4222-8333-444455556666"
		app     = "7c6b5a49-3827-4165-9f0e-d1c2b3a49586"
	)
	tmpl, err := lighthouse.Render(lighthouse.DefaultOffer(partner, group, "SOC", sub).WithApp(app))
	if err != nil {
		t.Fatal(err)
	}
	// The mail's HTML body escapes the template's quotes.
	body := "<p>Azure Lighthouse onboarding template (deploy it in subscription " + sub + "):</p><pre>" + html.EscapeString(string(tmpl)) + "</pre>"
	var posted map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/_sim/state":
			_ = json.NewEncoder(w).Encode(map[string]any{"mails": []map[string]string{{"body": body}}})
		case r.Method == http.MethodPost && r.URL.Path == "/_sim/arm/delegations":
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &posted)
			w.WriteHeader(http.StatusCreated)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-graphsim", srv.URL, "delegate", "-subscription", sub}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if posted["subscriptionId"] != sub || posted["managedByTenantId"] != partner || posted["offerName"] != lighthouse.DefaultOfferName {
		t.Fatalf("deployed %v: want the template's subscription, tenant and offer", posted)
	}
	raw, _ := json.Marshal(posted["authorizations"])
	if !strings.Contains(string(raw), app) || !strings.Contains(string(raw), lighthouse.RegistrationAssignmentDeleteID) {
		t.Errorf("authorizations %s: want the app with the Delete Role", raw)
	}
}
