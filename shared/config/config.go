// Package config reads the app's settings from the environment once, at
// start-up, with the variable names of the contract (DESIGN.md section 6),
// and refuses a missing or contradictory setting with one line that names
// the variable.
//
// It uses github.com/sethvargo/go-envconfig rather than the older
// kelseyhightower/envconfig: both map struct tags to variables, but only the
// former takes a Lookuper, which lets run(ctx, args, getenv, …) read the
// environment it is given instead of the process's.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// DefaultGraphBaseURL is the real Microsoft Graph root.
const DefaultGraphBaseURL = "https://graph.microsoft.com/v1.0"

// DefaultCertHosts is the only origin Partner Center serves its signing
// certificate from.
const DefaultCertHosts = "https://3psostorageacct.blob.core.windows.net"

// DefaultIssuerHosts are the origins the issuers of Partner Center's
// leaf-only certificate are fetched from (its caIssuers URLs): Microsoft's
// and DigiCert's certificate stores.
const DefaultIssuerHosts = "http://www.microsoft.com,https://www.microsoft.com,http://cacerts.digicert.com,https://cacerts.digicert.com"

// Config is every setting of the app. Secrets are kept in fields whose
// names say so.
type Config struct {
	Port int `env:"FUNCTIONS_CUSTOMHANDLER_PORT, default=8080"`

	TablesConnectionString string `env:"TABLES_CONNECTION_STRING"`
	TablesServiceURL       string `env:"TABLES_SERVICE_URL"`

	ServiceBusNamespace         string `env:"SERVICEBUS_NAMESPACE"`
	ServiceBusConnectionString  string `env:"SERVICEBUS_CONNECTION_STRING"`
	LocalQueuesConnectionString string `env:"LOCAL_QUEUES_CONNECTION_STRING"`

	GraphBaseURL       string `env:"GRAPH_BASE_URL, default=https://graph.microsoft.com/v1.0"`
	GraphAuth          string `env:"GRAPH_AUTH, default=managedidentity"`
	PartnerTenantID    string `env:"PARTNER_TENANT_ID"`
	AppClientID        string `env:"APP_CLIENT_ID"`
	AppClientSecret    string `env:"APP_CLIENT_SECRET"`
	AppCertificatePath string `env:"APP_CERTIFICATE_PATH"`
	// ManagedIdentityClientID selects a user-assigned identity; Azure's SDKs
	// read the same variable.
	ManagedIdentityClientID string `env:"AZURE_CLIENT_ID"`

	PartnerSecurityGroupID string   `env:"PARTNER_SECURITY_GROUP_ID"`
	AllowedRoles           []string `env:"ALLOWED_ROLES, default=5d6b6bb7-de71-4623-b4af-96380a352509,5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"`
	NoticeDays             []int    `env:"NOTICE_DAYS, default=30,7,1"`
	B2BDefaultDays         int      `env:"B2B_DEFAULT_DAYS, default=90"`
	B2BMaxDays             int      `env:"B2B_MAX_DAYS, default=365"`
	ExpirySweepSchedule    string   `env:"EXPIRY_SWEEP_SCHEDULE, default=0 0 * * * *"`

	NotifyMailFrom        string `env:"NOTIFY_MAIL_FROM"`
	NotifyTeamsWebhookURL string `env:"NOTIFY_TEAMS_WEBHOOK_URL"`
	TicketCallbackURL     string `env:"TICKET_CALLBACK_URL"`
	TicketWebhookSecret   string `env:"TICKET_WEBHOOK_SECRET"`

	PartnerCenterRootsFile string `env:"PARTNER_CENTER_ROOTS_FILE"`
	// LocalClockFile moves the app's clock for local runs only: the file
	// holds a duration (such as "2160h") added to the real time. It is
	// refused unless Graph is a simulator.
	LocalClockFile         string `env:"LOCAL_CLOCK_FILE"`
	PartnerCenterCertHosts string `env:"PARTNER_CENTER_CERT_HOSTS, default=https://3psostorageacct.blob.core.windows.net"`
	// PartnerCenterIssuerHosts lists the origins, same syntax as
	// PARTNER_CENTER_CERT_HOSTS, that the issuers named by the caIssuers
	// URLs of Partner Center's certificate may be fetched from.
	PartnerCenterIssuerHosts string `env:"PARTNER_CENTER_ISSUER_HOSTS, default=http://www.microsoft.com,https://www.microsoft.com,http://cacerts.digicert.com,https://cacerts.digicert.com"`
}

// Error is a configuration problem about one variable.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return "config: " + e.Variable + ": " + e.Problem }

// Load reads the configuration through getenv (os.Getenv in production) and
// checks it. An empty value counts as unset, as it does in App Service
// settings.
func Load(ctx context.Context, getenv func(string) string) (Config, error) {
	var c Config
	lookup := envconfig.LookuperFunc(func(key string) (string, bool) {
		v := getenv(key)
		return v, v != ""
	})
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: lookup}); err != nil {
		return Config{}, translate(err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	c.AllowedRoles, _ = access.NormalizeRoles(c.AllowedRoles) // validated above
	return c, nil
}

// translate turns envconfig's error into one naming the variable: envconfig
// words its errors as `Field: problem`, with the Go field name.
func translate(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 {
		if f, ok := reflect.TypeOf(Config{}).FieldByName(msg[:i]); ok {
			name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			return &Error{Variable: name, Problem: msg[i+2:]}
		}
	}
	return fmt.Errorf("config: %w", err)
}

// Variables lists the environment variables the app reads.
func Variables() []string {
	t := reflect.TypeOf(Config{})
	out := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ","); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// Validate checks settings that are missing, malformed or contradict each
// other, and the policy settings that would widen privilege.
func (c Config) Validate() error {
	var errs []error
	bad := func(v, format string, args ...any) {
		errs = append(errs, &Error{Variable: v, Problem: fmt.Sprintf(format, args...)})
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("FUNCTIONS_CUSTOMHANDLER_PORT", "%d is not a TCP port", c.Port)
	}
	switch {
	case c.TablesConnectionString == "" && c.TablesServiceURL == "":
		bad("TABLES_CONNECTION_STRING", "set it (Azurite locally) or TABLES_SERVICE_URL (managed identity)")
	case c.TablesConnectionString != "" && c.TablesServiceURL != "":
		bad("TABLES_SERVICE_URL", "set either TABLES_CONNECTION_STRING or TABLES_SERVICE_URL, not both")
	case c.TablesServiceURL != "" && !isHTTPURL(c.TablesServiceURL):
		bad("TABLES_SERVICE_URL", "must be an http(s) URL")
	}
	queues := 0
	for _, v := range []string{c.ServiceBusNamespace, c.ServiceBusConnectionString, c.LocalQueuesConnectionString} {
		if v != "" {
			queues++
		}
	}
	switch {
	case queues == 0:
		bad("SERVICEBUS_NAMESPACE", "set it, SERVICEBUS_CONNECTION_STRING, or LOCAL_QUEUES_CONNECTION_STRING for local runs")
	case queues > 1:
		bad("SERVICEBUS_NAMESPACE", "set only one of SERVICEBUS_NAMESPACE, SERVICEBUS_CONNECTION_STRING and LOCAL_QUEUES_CONNECTION_STRING")
	case c.ServiceBusNamespace != "" && strings.Contains(c.ServiceBusNamespace, "/"):
		bad("SERVICEBUS_NAMESPACE", "must be a host name such as contoso.servicebus.windows.net, not a URL")
	}
	if !isHTTPURL(c.GraphBaseURL) {
		bad("GRAPH_BASE_URL", "must be an http(s) URL")
	}
	switch c.GraphAuth {
	case "managedidentity":
		if c.AppClientID == "" {
			bad("APP_CLIENT_ID", "required with GRAPH_AUTH=managedidentity (the multi-tenant app the identity federates with)")
		}
	case "clientsecret":
		if c.AppClientID == "" {
			bad("APP_CLIENT_ID", "required with GRAPH_AUTH=clientsecret")
		}
		if c.AppClientSecret == "" {
			bad("APP_CLIENT_SECRET", "required with GRAPH_AUTH=clientsecret")
		}
	case "certificate":
		if c.AppClientID == "" {
			bad("APP_CLIENT_ID", "required with GRAPH_AUTH=certificate")
		}
		if c.AppCertificatePath == "" {
			bad("APP_CERTIFICATE_PATH", "required with GRAPH_AUTH=certificate")
		}
	case "none":
		if strings.EqualFold(strings.TrimRight(c.GraphBaseURL, "/"), DefaultGraphBaseURL) || isMicrosoftGraphHost(c.GraphBaseURL) {
			bad("GRAPH_AUTH", "none is only for a Graph simulator: set GRAPH_BASE_URL to the simulator")
		}
	default:
		bad("GRAPH_AUTH", "%q is not one of managedidentity, clientsecret, certificate, none", c.GraphAuth)
	}
	if c.PartnerTenantID == "" {
		bad("PARTNER_TENANT_ID", "required: the MSSP's tenant id")
	} else if !access.IsGUID(c.PartnerTenantID) {
		bad("PARTNER_TENANT_ID", "must be a GUID")
	}
	if c.PartnerSecurityGroupID != "" && !access.IsGUID(c.PartnerSecurityGroupID) {
		bad("PARTNER_SECURITY_GROUP_ID", "must be a GUID")
	}
	if roles, err := access.NormalizeRoles(c.AllowedRoles); err != nil {
		bad("ALLOWED_ROLES", "%v", err)
	} else {
		for _, r := range roles {
			if r == access.GlobalAdministratorID {
				bad("ALLOWED_ROLES", "Global Administrator can never be granted; remove %s", r)
			}
		}
	}
	if len(c.NoticeDays) == 0 {
		bad("NOTICE_DAYS", "at least one notice stage is required")
	}
	seen := map[int]bool{}
	for _, d := range c.NoticeDays {
		if d <= 0 || d > 365 {
			bad("NOTICE_DAYS", "%d is not between 1 and 365", d)
		}
		if seen[d] {
			bad("NOTICE_DAYS", "%d is listed twice", d)
		}
		seen[d] = true
	}
	if c.B2BDefaultDays <= 0 {
		bad("B2B_DEFAULT_DAYS", "must be at least 1")
	}
	if c.B2BMaxDays <= 0 || c.B2BMaxDays > 730 {
		bad("B2B_MAX_DAYS", "must be between 1 and 730")
	}
	if c.B2BDefaultDays > c.B2BMaxDays {
		bad("B2B_DEFAULT_DAYS", "%d is longer than B2B_MAX_DAYS %d", c.B2BDefaultDays, c.B2BMaxDays)
	}
	if len(strings.Fields(c.ExpirySweepSchedule)) != 6 {
		bad("EXPIRY_SWEEP_SCHEDULE", "must be a six-field NCRONTAB expression such as \"0 0 * * * *\"")
	}
	if c.NotifyTeamsWebhookURL != "" && !isHTTPURL(c.NotifyTeamsWebhookURL) {
		bad("NOTIFY_TEAMS_WEBHOOK_URL", "must be an http(s) URL")
	}
	if c.TicketCallbackURL != "" {
		if !isHTTPURL(c.TicketCallbackURL) {
			bad("TICKET_CALLBACK_URL", "must be an http(s) URL")
		}
		if c.TicketWebhookSecret == "" {
			bad("TICKET_WEBHOOK_SECRET", "required with TICKET_CALLBACK_URL: ticket comments are signed with it")
		}
	}
	// App Service passes an unresolved Key Vault reference through as its
	// literal text: as an HMAC key that would be a guessable secret.
	for name, v := range map[string]string{"TICKET_WEBHOOK_SECRET": c.TicketWebhookSecret, "APP_CLIENT_SECRET": c.AppClientSecret,
		"NOTIFY_TEAMS_WEBHOOK_URL": c.NotifyTeamsWebhookURL, "TICKET_CALLBACK_URL": c.TicketCallbackURL} {
		if strings.HasPrefix(v, "@Microsoft.KeyVault(") {
			bad(name, "is an unresolved Key Vault reference: grant the app's identity Key Vault Secrets User and check the secret URI")
		}
	}
	if c.LocalClockFile != "" && !c.LocalGraph() {
		bad("LOCAL_CLOCK_FILE", "moving the clock is for local runs against the Graph simulator only (GRAPH_AUTH=none)")
	}
	// Test overrides of the Partner Center trust: against real Graph they
	// would let a local CA sign events that grant access (DESIGN.md
	// section 11).
	const testOnly = "is a test override of the Partner Center signature trust, refused unless GRAPH_AUTH=none"
	if c.PartnerCenterRootsFile != "" && !c.LocalGraph() {
		bad("PARTNER_CENTER_ROOTS_FILE", "%s", testOnly)
	}
	for _, o := range []struct{ name, value, def string }{
		{"PARTNER_CENTER_CERT_HOSTS", c.PartnerCenterCertHosts, DefaultCertHosts},
		{"PARTNER_CENTER_ISSUER_HOSTS", c.PartnerCenterIssuerHosts, DefaultIssuerHosts},
	} {
		hosts := originList(o.value)
		for _, h := range hosts {
			if !isOrigin(h) {
				bad(o.name, "%q is not a scheme://host[:port] prefix", h)
			}
		}
		if len(hosts) == 0 {
			bad(o.name, "no origin listed; unset it for the default %s", o.def)
		} else if !c.LocalGraph() && !sameOrigins(hosts, originList(o.def)) {
			bad(o.name, "%s", testOnly)
		}
	}
	return errors.Join(errs...)
}

// CertHosts lists the allowed origins of Partner Center certificates.
func (c Config) CertHosts() []string { return originList(c.PartnerCenterCertHosts) }

// IssuerHosts lists the allowed origins of the issuers of Partner Center
// certificates, fetched from their caIssuers URLs.
func (c Config) IssuerHosts() []string { return originList(c.PartnerCenterIssuerHosts) }

// originList reads a comma list of scheme://host[:port] prefixes.
func originList(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, strings.TrimRight(h, "/"))
		}
	}
	return out
}

// isOrigin reports whether s is a bare http(s)://host[:port]: a path,
// query or user name would make the prefix ambiguous.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == ""
}

// sameOrigins reports whether two lists name the same origins, in any order
// and case.
func sameOrigins(a, b []string) bool {
	norm := func(l []string) []string {
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = strings.ToLower(s)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// Policy returns the access policy these settings describe.
func (c Config) Policy() access.Policy {
	return access.Policy{
		AllowedRoles:   c.AllowedRoles,
		NoticeDays:     c.NoticeDays,
		B2BDefaultDays: c.B2BDefaultDays,
		B2BMaxDays:     c.B2BMaxDays,
	}
}

// LocalGraph reports whether Graph is a simulator (GRAPH_AUTH=none): only
// then are local-run conveniences such as time overrides allowed.
func (c Config) LocalGraph() bool { return c.GraphAuth == "none" }

// Secrets returns the secret values set, so that tests and log filters can
// check none of them leaks.
func (c Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.AppClientSecret, c.TicketWebhookSecret, accountKey(c.TablesConnectionString),
		accountKey(c.LocalQueuesConnectionString), sharedAccessKey(c.ServiceBusConnectionString)} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func accountKey(conn string) string      { return connField(conn, "AccountKey") }
func sharedAccessKey(conn string) string { return connField(conn, "SharedAccessKey") }

func connField(conn, name string) string {
	for _, part := range strings.Split(conn, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func isMicrosoftGraphHost(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "graph.microsoft.com" || strings.HasSuffix(h, ".graph.microsoft.com") ||
		h == "graph.microsoft.us" || h == "microsoftgraph.chinacloudapi.cn" || h == "dod-graph.microsoft.us"
}
