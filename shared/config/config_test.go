package config

import (
	"context"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// load sets the process environment to m, every other variable of the
// configuration unset (t.Setenv restores them after the test), and loads.
func load(t *testing.T, m map[string]string) (Config, error) {
	t.Helper()
	for _, name := range Variables() {
		t.Setenv(name, "") // empty counts as unset
	}
	for k, v := range m {
		t.Setenv(k, v)
	}
	return Load(context.Background())
}

func base() map[string]string {
	return map[string]string{
		"TABLES_CONNECTION_STRING":       "UseDevelopmentStorage=true",
		"LOCAL_QUEUES_CONNECTION_STRING": "UseDevelopmentStorage=true",
		"GRAPH_BASE_URL":                 "http://127.0.0.1:8090/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              "11112222-3333-4444-5555-666677778888",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(t, base())
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.B2BDefaultDays != 90 || c.B2BMaxDays != 365 || c.ExpirySweepSchedule != "0 0 * * * *" {
		t.Errorf("defaults: got port %d, b2b %d/%d, schedule %q", c.Port, c.B2BDefaultDays, c.B2BMaxDays, c.ExpirySweepSchedule)
	}
	if !slices.Equal(c.NoticeDays, IntList{30, 7, 1}) {
		t.Errorf("NoticeDays: got %v, want [30 7 1]", c.NoticeDays)
	}
	if !slices.Equal(c.AllowedRoles, List{access.SecurityReaderID, access.SecurityOperatorID}) {
		t.Errorf("AllowedRoles: got %v", c.AllowedRoles)
	}
	if got := c.CertHosts(); !reflect.DeepEqual(got, []string{DefaultCertHosts}) {
		t.Errorf("CertHosts: got %v", got)
	}
	if got, want := c.IssuerHosts(), webhook.DefaultIssuerOrigins(); !reflect.DeepEqual(got, want) {
		t.Errorf("IssuerHosts: got %v, want the verifier's default %v", got, want)
	}
}

// TestDefaultsAreTheVerifiers: the defaults written here for the settings
// table are the ones the verifier applies when nothing is set.
func TestDefaultsAreTheVerifiers(t *testing.T) {
	if DefaultCertHosts != webhook.DefaultCertOrigin {
		t.Errorf("DefaultCertHosts = %q, webhook.DefaultCertOrigin = %q", DefaultCertHosts, webhook.DefaultCertOrigin)
	}
	if got, want := originList(DefaultIssuerHosts), webhook.DefaultIssuerOrigins(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultIssuerHosts = %v, webhook.DefaultIssuerOrigins() = %v", got, want)
	}
	f, _ := reflect.TypeOf(Config{}).FieldByName("PartnerCenterIssuerHosts")
	if tag := f.Tag.Get("default"); tag != DefaultIssuerHosts {
		t.Errorf("PARTNER_CENTER_ISSUER_HOSTS tag %q does not default to DefaultIssuerHosts", tag)
	}
}

func TestLoadValues(t *testing.T) {
	m := base()
	m["FUNCTIONS_CUSTOMHANDLER_PORT"] = "0"
	m["ALLOWED_ROLES"] = "Security Reader, 194ae4cb-b126-40b2-bd5b-6091b380977d"
	m["NOTICE_DAYS"] = "14,3"
	m["PARTNER_CENTER_CERT_HOSTS"] = "http://127.0.0.1:8123, https://example.test/"
	m["PARTNER_CENTER_ISSUER_HOSTS"] = "http://127.0.0.1:8124"
	c, err := load(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 0 || !slices.Equal(c.NoticeDays, IntList{14, 3}) {
		t.Errorf("got port %d notice %v", c.Port, c.NoticeDays)
	}
	if !slices.Equal(c.AllowedRoles, List{access.SecurityAdministratorID, access.SecurityReaderID}) {
		t.Errorf("AllowedRoles: got %v", c.AllowedRoles)
	}
	if got := c.CertHosts(); !reflect.DeepEqual(got, []string{"http://127.0.0.1:8123", "https://example.test"}) {
		t.Errorf("CertHosts: got %v", got)
	}
	if got := c.IssuerHosts(); !reflect.DeepEqual(got, []string{"http://127.0.0.1:8124"}) {
		t.Errorf("IssuerHosts: got %v", got)
	}
}

// realGraph is a configuration against Microsoft Graph, where no test
// override may be set.
func realGraph() map[string]string {
	m := base()
	m["GRAPH_AUTH"] = "clientsecret"
	m["APP_CLIENT_ID"] = "x"
	m["APP_CLIENT_SECRET"] = "y"
	m["GRAPH_BASE_URL"] = DefaultGraphBaseURL
	return m
}

// TestTestOverridesRefused: the overrides of the Partner Center trust and
// of the clock are refused unless GRAPH_AUTH=none, each with one line
// naming the variable (DESIGN.md section 11).
func TestTestOverridesRefused(t *testing.T) {
	overrides := map[string]string{
		"PARTNER_CENTER_CERT_HOSTS":   "http://127.0.0.1:8123",
		"PARTNER_CENTER_ROOTS_FILE":   "/tmp/roots.pem",
		"PARTNER_CENTER_ISSUER_HOSTS": "http://127.0.0.1:8124",
		"LOCAL_CLOCK_FILE":            "/tmp/clock",
	}
	if _, err := load(t, realGraph()); err != nil {
		t.Fatalf("real Graph without overrides: %v", err)
	}
	for name, value := range overrides {
		t.Run(name, func(t *testing.T) {
			m := realGraph()
			m[name] = value
			_, err := load(t, m)
			if err == nil {
				t.Fatalf("%s=%s against real Graph: nil error, want a refusal", name, value)
			}
			msg := err.Error()
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "config: "+name+": ") || !strings.Contains(msg, "GRAPH_AUTH=none") {
				t.Errorf("got %q, want one line naming %s and GRAPH_AUTH=none", msg, name)
			}
			m = base() // GRAPH_AUTH=none, the simulator
			m[name] = value
			if _, err := load(t, m); err != nil {
				t.Errorf("%s with GRAPH_AUTH=none: %v, want it accepted", name, err)
			}
		})
	}
	// Spelling the default out is no override.
	m := realGraph()
	m["PARTNER_CENTER_CERT_HOSTS"] = DefaultCertHosts + "/"
	m["PARTNER_CENTER_ISSUER_HOSTS"] = "https://cacerts.digicert.com, http://cacerts.digicert.com,https://WWW.microsoft.com,http://www.microsoft.com"
	if _, err := load(t, m); err != nil {
		t.Errorf("the defaults spelt out against real Graph: %v, want them accepted", err)
	}
	// Every override at once: one line each.
	m = realGraph()
	for k, v := range overrides {
		m[k] = v
	}
	_, err := load(t, m)
	if err == nil {
		t.Fatal("every override against real Graph: nil error")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != len(overrides) {
		t.Errorf("every override against real Graph: %d lines %q, want %d", len(lines), lines, len(overrides))
	}
}

// TestLoadRefuses checks that each bad setting stops start-up with an error
// naming the variable.
func TestLoadRefuses(t *testing.T) {
	cases := []struct {
		name     string
		set      map[string]string
		unset    []string
		variable string
	}{
		{"no tables", nil, []string{"TABLES_CONNECTION_STRING"}, "TABLES_CONNECTION_STRING"},
		{"both tables", map[string]string{"TABLES_SERVICE_URL": "https://a.table.core.windows.net"}, nil, "TABLES_SERVICE_URL"},
		{"no queues", nil, []string{"LOCAL_QUEUES_CONNECTION_STRING"}, "SERVICEBUS_NAMESPACE"},
		{"two queues", map[string]string{"SERVICEBUS_NAMESPACE": "x.servicebus.windows.net"}, nil, "SERVICEBUS_NAMESPACE"},
		{"port not a number", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "http"}, nil, "FUNCTIONS_CUSTOMHANDLER_PORT"},
		{"port out of range", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "70000"}, nil, "FUNCTIONS_CUSTOMHANDLER_PORT"},
		{"none against real graph", map[string]string{"GRAPH_BASE_URL": DefaultGraphBaseURL}, nil, "GRAPH_AUTH"},
		{"none with default graph", nil, []string{"GRAPH_BASE_URL"}, "GRAPH_AUTH"},
		{"unknown auth", map[string]string{"GRAPH_AUTH": "password"}, nil, "GRAPH_AUTH"},
		{"secret auth without secret", map[string]string{"GRAPH_AUTH": "clientsecret", "APP_CLIENT_ID": "x"}, nil, "APP_CLIENT_SECRET"},
		{"certificate without path", map[string]string{"GRAPH_AUTH": "certificate", "APP_CLIENT_ID": "x"}, nil, "APP_CERTIFICATE_PATH"},
		{"managed identity without app", map[string]string{"GRAPH_AUTH": "managedidentity"}, nil, "APP_CLIENT_ID"},
		{"no partner tenant", nil, []string{"PARTNER_TENANT_ID"}, "PARTNER_TENANT_ID"},
		{"partner tenant not a guid", map[string]string{"PARTNER_TENANT_ID": "fabrikam"}, nil, "PARTNER_TENANT_ID"},
		{"global admin allowed", map[string]string{"ALLOWED_ROLES": "Security Reader,Global Administrator"}, nil, "ALLOWED_ROLES"},
		{"unknown role", map[string]string{"ALLOWED_ROLES": "Janitor"}, nil, "ALLOWED_ROLES"},
		{"notice not a number", map[string]string{"NOTICE_DAYS": "30,soon"}, nil, "NOTICE_DAYS"},
		{"notice twice", map[string]string{"NOTICE_DAYS": "7,7"}, nil, "NOTICE_DAYS"},
		{"default over max", map[string]string{"B2B_DEFAULT_DAYS": "400"}, nil, "B2B_DEFAULT_DAYS"},
		{"five-field cron", map[string]string{"EXPIRY_SWEEP_SCHEDULE": "0 * * * *"}, nil, "EXPIRY_SWEEP_SCHEDULE"},
		{"short ticket secret", map[string]string{"TICKET_WEBHOOK_SECRET": "a"}, nil, "TICKET_WEBHOOK_SECRET"},
		{"unresolved app secret", map[string]string{"GRAPH_AUTH": "clientsecret", "APP_CLIENT_ID": "x", "GRAPH_BASE_URL": DefaultGraphBaseURL,
			"APP_CLIENT_SECRET": "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)"}, nil, "APP_CLIENT_SECRET"},
		{"unresolved callback url", map[string]string{"TICKET_CALLBACK_URL": "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/cb/)"}, nil, "TICKET_CALLBACK_URL"},
		{"customer secret without customer app", map[string]string{"CUSTOMER_APP_CLIENT_SECRET": "s"}, nil, "CUSTOMER_APP_CLIENT_SECRET"},
		{"customer certificate without customer app", map[string]string{"CUSTOMER_APP_CERTIFICATE_PATH": "/c.pem"}, nil, "CUSTOMER_APP_CERTIFICATE_PATH"},
		{"customer app without credential", map[string]string{"GRAPH_AUTH": "clientsecret", "APP_CLIENT_ID": "x", "APP_CLIENT_SECRET": "y",
			"GRAPH_BASE_URL": DefaultGraphBaseURL, "CUSTOMER_APP_CLIENT_ID": "c"}, nil, "CUSTOMER_APP_CLIENT_SECRET"},
		{"customer secret and certificate", map[string]string{"CUSTOMER_APP_CLIENT_ID": "c", "CUSTOMER_APP_CLIENT_SECRET": "s", "CUSTOMER_APP_CERTIFICATE_PATH": "/c.pem"}, nil, "CUSTOMER_APP_CERTIFICATE_PATH"},
		{"allowed domain not a domain", map[string]string{"B2B_ALLOWED_DOMAINS": "fabrikam"}, nil, "B2B_ALLOWED_DOMAINS"},
		{"any domain and others", map[string]string{"B2B_ALLOWED_DOMAINS": "*,fabrikam.example"}, nil, "B2B_ALLOWED_DOMAINS"},
		{"clock override against real graph", map[string]string{"LOCAL_CLOCK_FILE": "/tmp/clock", "GRAPH_AUTH": "clientsecret", "APP_CLIENT_ID": "x", "APP_CLIENT_SECRET": "y", "GRAPH_BASE_URL": DefaultGraphBaseURL}, nil, "LOCAL_CLOCK_FILE"},
		{"cert host not a url", map[string]string{"PARTNER_CENTER_CERT_HOSTS": "3psostorageacct"}, nil, "PARTNER_CENTER_CERT_HOSTS"},
		{"cert host with a path", map[string]string{"PARTNER_CENTER_CERT_HOSTS": "http://127.0.0.1:8123/cert"}, nil, "PARTNER_CENTER_CERT_HOSTS"},
		{"issuer host not a url", map[string]string{"PARTNER_CENTER_ISSUER_HOSTS": "www.microsoft.com"}, nil, "PARTNER_CENTER_ISSUER_HOSTS"},
		{"issuer host with user info", map[string]string{"PARTNER_CENTER_ISSUER_HOSTS": "http://www.microsoft.com@127.0.0.1"}, nil, "PARTNER_CENTER_ISSUER_HOSTS"},
		{"issuer hosts all empty", map[string]string{"PARTNER_CENTER_ISSUER_HOSTS": " , "}, nil, "PARTNER_CENTER_ISSUER_HOSTS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			for k, v := range tc.set {
				m[k] = v
			}
			for _, k := range tc.unset {
				delete(m, k)
			}
			_, err := load(t, m)
			if err == nil || !strings.HasPrefix(err.Error(), "config: "+tc.variable+": ") {
				t.Fatalf("got %v, want an error naming %s", err, tc.variable)
			}
			if strings.Contains(err.Error(), "\n") && tc.variable != "GRAPH_AUTH" {
				t.Errorf("got %q, want one line", err)
			}
		})
	}
}

func TestSecretsListed(t *testing.T) {
	m := base()
	m["TICKET_WEBHOOK_SECRET"] = "hmac-secret-value-0123456789abcdef"
	m["TABLES_CONNECTION_STRING"] = "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:1/a;"
	c, err := load(t, m)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Secrets(), " ")
	if !strings.Contains(got, "hmac-secret-value") || !strings.Contains(got, "c2VjcmV0") {
		t.Fatalf("Secrets: got %q, want the HMAC secret and the account key", got)
	}
}

const secret32 = "0123456789abcdef0123456789abcdef"

// TestTicketSecretLength: a ticket secret that is set and resolved has at
// least 32 bytes and is not all white space, or start-up is refused with one
// line naming it (DESIGN.md section 11).
func TestTicketSecretLength(t *testing.T) {
	for _, v := range []string{"a", "test-ticket-secret", secret32[:31], strings.Repeat(" ", 40), strings.Repeat("\t", 32)} {
		m := base()
		m["TICKET_WEBHOOK_SECRET"] = v
		_, err := load(t, m)
		if err == nil {
			t.Errorf("TICKET_WEBHOOK_SECRET of %d bytes: nil error, want a refusal", len(v))
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "config: TICKET_WEBHOOK_SECRET: ") || strings.Contains(msg, "\n") {
			t.Errorf("got %q, want one line naming TICKET_WEBHOOK_SECRET", msg)
		}
		if len(strings.TrimSpace(v)) > 3 && strings.Contains(msg, v) {
			t.Errorf("refusal %q holds the secret", msg)
		}
	}
	m := base()
	m["TICKET_WEBHOOK_SECRET"] = secret32
	c, err := load(t, m)
	if err != nil || c.TicketWebhookUnavailable() != "" {
		t.Fatalf("32-byte secret: got %v, unavailable %q; want it accepted", err, c.TicketWebhookUnavailable())
	}
}

// TestTicketSecretStopsOnlyTicketing: unset or an unresolved Key Vault
// reference, TICKET_WEBHOOK_SECRET leaves the app starting; the ticket
// webhook and comments are off, with one warning line naming it.
func TestTicketSecretStopsOnlyTicketing(t *testing.T) {
	for name, value := range map[string]string{
		"unset":         "",
		"unresolved":    "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/ticket/)",
		"unresolved vn": "@Microsoft.KeyVault(VaultName=kv;SecretName=ticket)",
	} {
		t.Run(name, func(t *testing.T) {
			m := base()
			m["TICKET_WEBHOOK_SECRET"] = value
			m["TICKET_CALLBACK_URL"] = "https://tickets.example/cb"
			c, err := load(t, m)
			if err != nil {
				t.Fatalf("got %v, want the app to start", err)
			}
			if c.TicketWebhookSecret != "" || c.TicketWebhookUnavailable() == "" || c.TicketComments() {
				t.Errorf("got secret %q, unavailable %q, comments %v; want no secret, a reason, no comments",
					c.TicketWebhookSecret, c.TicketWebhookUnavailable(), c.TicketComments())
			}
			if name != "unset" && !strings.Contains(c.TicketWebhookUnavailable(), "Key Vault") {
				t.Errorf("reason %q, want it to name the Key Vault reference", c.TicketWebhookUnavailable())
			}
			var lines []string
			for _, w := range c.Warnings() {
				if w.Variable == "TICKET_WEBHOOK_SECRET" {
					lines = append(lines, w.Message)
				}
			}
			if len(lines) != 1 || strings.Contains(lines[0], "\n") || !strings.HasPrefix(lines[0], "TICKET_WEBHOOK_SECRET ") || !strings.Contains(lines[0], "503") {
				t.Errorf("warnings %q, want one line naming TICKET_WEBHOOK_SECRET and the 503", lines)
			}
		})
	}
}

// TestCustomerApp: the customer app is the partner app unless
// CUSTOMER_APP_CLIENT_ID names another, with its own credential or the same
// managed identity.
func TestCustomerApp(t *testing.T) {
	c, err := load(t, base())
	if err != nil {
		t.Fatal(err)
	}
	if c.CustomerApp() != c.PartnerApp() {
		t.Errorf("unset: customer %+v, partner %+v; want the same app", c.CustomerApp(), c.PartnerApp())
	}
	if !hasWarning(c, "CUSTOMER_APP_CLIENT_ID") {
		t.Errorf("unset: warnings %v, want one naming CUSTOMER_APP_CLIENT_ID", c.Warnings())
	}

	m := realGraph() // clientsecret
	m["CUSTOMER_APP_CLIENT_ID"] = "customer-app"
	m["CUSTOMER_APP_CLIENT_SECRET"] = "customer-secret"
	if c, err = load(t, m); err != nil {
		t.Fatal(err)
	}
	want := App{ClientID: "customer-app", Auth: "clientsecret", ClientSecret: "customer-secret"}
	if c.CustomerApp() != want || c.PartnerApp().ClientID != "x" || c.PartnerApp().ClientSecret != "y" {
		t.Errorf("got customer %+v partner %+v, want customer %+v and partner x", c.CustomerApp(), c.PartnerApp(), want)
	}
	if hasWarning(c, "CUSTOMER_APP_CLIENT_ID") {
		t.Errorf("two apps: warnings %v, want none about the customer app", c.Warnings())
	}
	if !slices.Contains(c.Secrets(), "customer-secret") {
		t.Errorf("Secrets %v: want the customer app's secret", c.Secrets())
	}

	m = realGraph()
	m["GRAPH_AUTH"] = "managedidentity"
	delete(m, "APP_CLIENT_SECRET")
	m["CUSTOMER_APP_CLIENT_ID"] = "customer-app"
	if c, err = load(t, m); err != nil {
		t.Fatal(err)
	}
	if got := c.CustomerApp(); got != (App{ClientID: "customer-app", Auth: "managedidentity"}) {
		t.Errorf("managed identity: customer app %+v, want the same identity federated with customer-app", got)
	}
	m["CUSTOMER_APP_CERTIFICATE_PATH"] = "/certs/customer.pem"
	if c, err = load(t, m); err != nil {
		t.Fatal(err)
	}
	if got := c.CustomerApp(); got.Auth != "certificate" || got.CertificatePath != "/certs/customer.pem" {
		t.Errorf("certificate: customer app %+v", got)
	}

	m = base() // the simulator: the customer app's id goes into its tokens
	m["APP_CLIENT_ID"] = "partner-app"
	m["CUSTOMER_APP_CLIENT_ID"] = "customer-app"
	if c, err = load(t, m); err != nil {
		t.Fatal(err)
	}
	if got := c.CustomerApp(); got != (App{ClientID: "customer-app", Auth: "none"}) {
		t.Errorf("simulator: customer app %+v", got)
	}
}

func hasWarning(c Config, variable string) bool {
	n := 0
	for _, w := range c.Warnings() {
		if w.Variable == variable {
			n++
		}
	}
	return n == 1
}

func TestAllowedDomains(t *testing.T) {
	m := base()
	m["B2B_ALLOWED_DOMAINS"] = " Fabrikam.example, @soc.fabrikam.example ,fabrikam.example"
	c, err := load(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.B2BAllowedDomains, DomainList{"fabrikam.example", "soc.fabrikam.example"}) || hasWarning(c, "B2B_ALLOWED_DOMAINS") {
		t.Errorf("got %v, warnings %v", c.B2BAllowedDomains, c.Warnings())
	}
	m["B2B_ALLOWED_DOMAINS"] = "*"
	if c, err = load(t, m); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.B2BAllowedDomains, DomainList{AnyDomain}) || !hasWarning(c, "B2B_ALLOWED_DOMAINS") {
		t.Errorf("*: got %v, warnings %v; want any domain, warned once", c.B2BAllowedDomains, c.Warnings())
	}
	delete(m, "B2B_ALLOWED_DOMAINS")
	if c, err = load(t, m); err != nil || c.B2BAllowedDomains != nil {
		t.Errorf("unset: got %v %v, want none (the partner tenant's verified domains)", c.B2BAllowedDomains, err)
	}
}

// TestEmptyCountsAsUnset: an empty variable takes its default, as an
// emptied App Service setting should.
func TestEmptyCountsAsUnset(t *testing.T) {
	m := base()
	for _, k := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "NOTICE_DAYS", "B2B_MAX_DAYS", "ALLOWED_ROLES", "PARTNER_CENTER_CERT_HOSTS"} {
		m[k] = ""
	}
	c, err := load(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.B2BMaxDays != 365 || !slices.Equal(c.NoticeDays, IntList{30, 7, 1}) || len(c.AllowedRoles) != 2 {
		t.Errorf("got port %d, max %d, notices %v, roles %v; want the defaults", c.Port, c.B2BMaxDays, c.NoticeDays, c.AllowedRoles)
	}
	m = base()
	m["PARTNER_TENANT_ID"] = ""
	if _, err := load(t, m); err == nil || err.Error() != "config: PARTNER_TENANT_ID: is required: the MSSP's tenant id" {
		t.Errorf("empty PARTNER_TENANT_ID: got %v", err)
	}
}

// TestParseErrorsHoldNoValue: a value envconfig cannot parse is refused
// naming the variable, not quoting the value.
func TestParseErrorsHoldNoValue(t *testing.T) {
	m := base()
	m["B2B_MAX_DAYS"] = "s3cr3t"
	_, err := load(t, m)
	if err == nil || err.Error() != "config: B2B_MAX_DAYS: must be a whole number" {
		t.Errorf("got %v, want config: B2B_MAX_DAYS: must be a whole number", err)
	}
}

// TestCheckGetenv: run's getenv must agree with the process environment
// that Load reads; a disagreement names the variable, not the value.
func TestCheckGetenv(t *testing.T) {
	for _, name := range Variables() {
		t.Setenv(name, "")
	}
	t.Setenv("PARTNER_TENANT_ID", "11112222-3333-4444-5555-666677778888")
	if err := CheckGetenv(os.Getenv); err != nil {
		t.Errorf("os.Getenv: %v", err)
	}
	if err := CheckGetenv(nil); err != nil {
		t.Errorf("nil: %v", err)
	}
	fake := map[string]string{"PARTNER_TENANT_ID": "11112222-3333-4444-5555-666677778888", "TICKET_WEBHOOK_SECRET": "fake-secret-value"}
	err := CheckGetenv(func(k string) string { return fake[k] })
	if err == nil || !strings.HasPrefix(err.Error(), "config: TICKET_WEBHOOK_SECRET: ") || strings.Contains(err.Error(), "fake-secret-value") {
		t.Errorf("got %v, want a refusal naming TICKET_WEBHOOK_SECRET without its value", err)
	}
}

// TestSettings: every field of Config is read through an envconfig tag,
// and Default follows the default tags.
func TestSettings(t *testing.T) {
	typ := reflect.TypeOf(Config{})
	exported := 0
	for i := 0; i < typ.NumField(); i++ {
		if typ.Field(i).IsExported() {
			exported++
		}
	}
	if n := len(Settings()); n != exported {
		t.Errorf("Settings: %d, want one per exported field (%d)", n, exported)
	}
	if d, ok := Default("NOTICE_DAYS"); !ok || d != "30,7,1" {
		t.Errorf("Default(NOTICE_DAYS) = %q %v", d, ok)
	}
	if _, ok := Default("TICKET_WEBHOOK_SECRET"); ok {
		t.Error("Default(TICKET_WEBHOOK_SECRET): want none")
	}
}
