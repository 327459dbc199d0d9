package config

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
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
	c, err := Load(context.Background(), env(base()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.B2BDefaultDays != 90 || c.B2BMaxDays != 365 || c.ExpirySweepSchedule != "0 0 * * * *" {
		t.Errorf("defaults: got port %d, b2b %d/%d, schedule %q", c.Port, c.B2BDefaultDays, c.B2BMaxDays, c.ExpirySweepSchedule)
	}
	if !reflect.DeepEqual(c.NoticeDays, []int{30, 7, 1}) {
		t.Errorf("NoticeDays: got %v, want [30 7 1]", c.NoticeDays)
	}
	if !reflect.DeepEqual(c.AllowedRoles, []string{access.SecurityReaderID, access.SecurityOperatorID}) {
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
	if tag := f.Tag.Get("env"); !strings.HasSuffix(tag, "default="+DefaultIssuerHosts) {
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
	c, err := Load(context.Background(), env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 0 || !reflect.DeepEqual(c.NoticeDays, []int{14, 3}) {
		t.Errorf("got port %d notice %v", c.Port, c.NoticeDays)
	}
	if !reflect.DeepEqual(c.AllowedRoles, []string{access.SecurityAdministratorID, access.SecurityReaderID}) {
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
	if _, err := Load(context.Background(), env(realGraph())); err != nil {
		t.Fatalf("real Graph without overrides: %v", err)
	}
	for name, value := range overrides {
		t.Run(name, func(t *testing.T) {
			m := realGraph()
			m[name] = value
			_, err := Load(context.Background(), env(m))
			if err == nil {
				t.Fatalf("%s=%s against real Graph: nil error, want a refusal", name, value)
			}
			msg := err.Error()
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "config: "+name+": ") || !strings.Contains(msg, "GRAPH_AUTH=none") {
				t.Errorf("got %q, want one line naming %s and GRAPH_AUTH=none", msg, name)
			}
			m = base() // GRAPH_AUTH=none, the simulator
			m[name] = value
			if _, err := Load(context.Background(), env(m)); err != nil {
				t.Errorf("%s with GRAPH_AUTH=none: %v, want it accepted", name, err)
			}
		})
	}
	// Spelling the default out is no override.
	m := realGraph()
	m["PARTNER_CENTER_CERT_HOSTS"] = DefaultCertHosts + "/"
	m["PARTNER_CENTER_ISSUER_HOSTS"] = "https://cacerts.digicert.com, http://cacerts.digicert.com,https://WWW.microsoft.com,http://www.microsoft.com"
	if _, err := Load(context.Background(), env(m)); err != nil {
		t.Errorf("the defaults spelt out against real Graph: %v, want them accepted", err)
	}
	// Every override at once: one line each.
	m = realGraph()
	for k, v := range overrides {
		m[k] = v
	}
	_, err := Load(context.Background(), env(m))
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
		{"callback without secret", map[string]string{"TICKET_CALLBACK_URL": "https://tickets.example/cb"}, nil, "TICKET_WEBHOOK_SECRET"},
		{"unresolved key vault reference", map[string]string{"TICKET_WEBHOOK_SECRET": "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)"}, nil, "TICKET_WEBHOOK_SECRET"},
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
			_, err := Load(context.Background(), env(m))
			if err == nil || !strings.Contains(err.Error(), tc.variable) {
				t.Fatalf("got %v, want an error naming %s", err, tc.variable)
			}
		})
	}
}

func TestSecretsListed(t *testing.T) {
	m := base()
	m["TICKET_WEBHOOK_SECRET"] = "hmac-secret-value"
	m["TABLES_CONNECTION_STRING"] = "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:1/a;"
	c, err := Load(context.Background(), env(m))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Secrets(), " ")
	if !strings.Contains(got, "hmac-secret-value") || !strings.Contains(got, "c2VjcmV0") {
		t.Fatalf("Secrets: got %q, want the HMAC secret and the account key", got)
	}
}
