// Package config reads the app's settings from the environment once, at
// start-up, with the variable names of the contract (DESIGN.md section 6),
// and refuses a missing or contradictory setting with one line that names
// the variable.
//
// The variables are read with github.com/kelseyhightower/envconfig, the
// package of the design card: envconfig.Process fills Config from its
// `envconfig`, `default` and `required` tags, and the comma lists decode
// themselves (List, IntList, DomainList implement envconfig.Decoder).
//
// Where the values come from: envconfig.Process reads the process
// environment, and so does Load. An empty value counts as unset, as it does
// in App Service settings: Load unsets the app's empty variables in the
// process environment first, because envconfig would otherwise take an
// empty value as set, skip the default and fail to parse it. The handler's
// run(ctx, args, getenv, …) keeps its getenv argument (os.Getenv in
// production) and checks it with CheckGetenv before Load: a getenv that
// disagrees with the process environment about any variable of Config is
// refused with one line naming the variable, rather than silently ignored.
// Tests therefore set the environment with t.Setenv and pass os.Getenv.
//
// A setting only one function needs stops only that function:
// TICKET_WEBHOOK_SECRET unset or an unresolved Key Vault reference leaves
// every other function running; ticket-webhook answers 503 naming it, ticket
// comments are not sent, and Warnings says so in one line.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/kelseyhightower/envconfig"

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

// MinTicketSecretBytes is the shortest TICKET_WEBHOOK_SECRET accepted: the
// HMAC-SHA256 key should carry as many bytes as the hash (DESIGN.md
// section 11).
const MinTicketSecretBytes = 32

// AnyDomain in B2B_ALLOWED_DOMAINS lets guests come from any e-mail domain
// (lifecycle.AnyDomain).
const AnyDomain = "*"

// Config is every setting of the app. Secrets are kept in fields whose
// names say so.
type Config struct {
	Port int `envconfig:"FUNCTIONS_CUSTOMHANDLER_PORT" default:"8080"`

	TablesConnectionString string `envconfig:"TABLES_CONNECTION_STRING"`
	TablesServiceURL       string `envconfig:"TABLES_SERVICE_URL"`

	ServiceBusNamespace         string `envconfig:"SERVICEBUS_NAMESPACE"`
	ServiceBusConnectionString  string `envconfig:"SERVICEBUS_CONNECTION_STRING"`
	LocalQueuesConnectionString string `envconfig:"LOCAL_QUEUES_CONNECTION_STRING"`

	GraphBaseURL    string `envconfig:"GRAPH_BASE_URL" default:"https://graph.microsoft.com/v1.0"`
	GraphAuth       string `envconfig:"GRAPH_AUTH" default:"managedidentity"`
	PartnerTenantID string `envconfig:"PARTNER_TENANT_ID" required:"true"`
	// AppClientID is the partner app: GDAP, Mail.Send and Domain.Read.All,
	// consented in the partner tenant only.
	AppClientID        string `envconfig:"APP_CLIENT_ID"`
	AppClientSecret    string `envconfig:"APP_CLIENT_SECRET"`
	AppCertificatePath string `envconfig:"APP_CERTIFICATE_PATH"`
	// CustomerAppClientID is the customer app: invite guests, read users,
	// assign directory roles, consented in each customer tenant. Unset, the
	// partner app serves both sides (warned at start).
	CustomerAppClientID        string `envconfig:"CUSTOMER_APP_CLIENT_ID"`
	CustomerAppClientSecret    string `envconfig:"CUSTOMER_APP_CLIENT_SECRET"`
	CustomerAppCertificatePath string `envconfig:"CUSTOMER_APP_CERTIFICATE_PATH"`
	// ManagedIdentityClientID selects a user-assigned identity; Azure's SDKs
	// read the same variable.
	ManagedIdentityClientID string `envconfig:"AZURE_CLIENT_ID"`

	PartnerSecurityGroupID string  `envconfig:"PARTNER_SECURITY_GROUP_ID"`
	AllowedRoles           List    `envconfig:"ALLOWED_ROLES" default:"5d6b6bb7-de71-4623-b4af-96380a352509,5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"`
	NoticeDays             IntList `envconfig:"NOTICE_DAYS" default:"30,7,1"`
	B2BDefaultDays         int     `envconfig:"B2B_DEFAULT_DAYS" default:"90"`
	B2BMaxDays             int     `envconfig:"B2B_MAX_DAYS" default:"365"`
	// What becomes of a guest the app created once its grant ends
	// (DESIGN.md section 13): guests.go beside this file.
	B2BGuestAfterEnd        string `envconfig:"B2B_GUEST_AFTER_END" default:"disable"`
	B2BGuestDeleteAfterDays int    `envconfig:"B2B_GUEST_DELETE_AFTER_DAYS" default:"30"`
	IdleRevokeDays          int    `envconfig:"IDLE_REVOKE_DAYS" default:"0"`
	B2BAssignment           string `envconfig:"B2B_ASSIGNMENT" default:"directory"`
	// Lighthouse through Azure Resource Manager (DESIGN.md section 15):
	// lighthouse.go beside this file.
	LighthouseAppPrincipalID string `envconfig:"LIGHTHOUSE_APP_PRINCIPAL_ID"`
	ARMBaseURL               string `envconfig:"ARM_BASE_URL" default:"https://management.azure.com"`
	// B2BAllowedDomains are the e-mail domains guests may come from; unset
	// means the partner tenant's verified domains (Graph GET /domains),
	// AnyDomain any domain (warned at start).
	B2BAllowedDomains   DomainList `envconfig:"B2B_ALLOWED_DOMAINS"`
	ExpirySweepSchedule string     `envconfig:"EXPIRY_SWEEP_SCHEDULE" default:"0 0 * * * *"`

	NotifyMailFrom        string `envconfig:"NOTIFY_MAIL_FROM"`
	NotifyTeamsWebhookURL string `envconfig:"NOTIFY_TEAMS_WEBHOOK_URL"`
	TicketCallbackURL     string `envconfig:"TICKET_CALLBACK_URL"`
	// TicketWebhookSecret is the HMAC key of the ticket webhook, at least
	// MinTicketSecretBytes long. Load leaves it empty when it is not usable
	// (unset, or an unresolved Key Vault reference): TicketWebhookUnavailable
	// says why.
	TicketWebhookSecret string `envconfig:"TICKET_WEBHOOK_SECRET"`

	PartnerCenterRootsFile string `envconfig:"PARTNER_CENTER_ROOTS_FILE"`
	// LocalClockFile moves the app's clock for local runs only: the file
	// holds a duration (such as "2160h") added to the real time. It is
	// refused unless Graph is a simulator.
	LocalClockFile         string `envconfig:"LOCAL_CLOCK_FILE"`
	PartnerCenterCertHosts string `envconfig:"PARTNER_CENTER_CERT_HOSTS" default:"https://3psostorageacct.blob.core.windows.net"`
	// PartnerCenterIssuerHosts lists the origins, same syntax as
	// PARTNER_CENTER_CERT_HOSTS, that the issuers named by the caIssuers
	// URLs of Partner Center's certificate may be fetched from.
	PartnerCenterIssuerHosts string `envconfig:"PARTNER_CENTER_ISSUER_HOSTS" default:"http://www.microsoft.com,https://www.microsoft.com,http://cacerts.digicert.com,https://cacerts.digicert.com"`

	// The portal (DESIGN.md section 12) and its access reviews: see
	// portal.go beside this file.
	WebsiteAuthEnabled string `envconfig:"WEBSITE_AUTH_ENABLED"`
	PortalURL          string `envconfig:"PORTAL_URL"`
	WebsiteHostname    string `envconfig:"WEBSITE_HOSTNAME"`
	PortalTokenSecret  string `envconfig:"PORTAL_TOKEN_KEY"`
	ReviewEveryDays    int    `envconfig:"REVIEW_EVERY_DAYS" default:"30"`
	ReviewDeadlineDays int    `envconfig:"REVIEW_DEADLINE_DAYS" default:"7"`
	ReviewDefault      string `envconfig:"REVIEW_DEFAULT" default:"keep"`

	// ticketSecretProblem is why TICKET_WEBHOOK_SECRET is not usable,
	// when Load found a value it set aside (unexported: envconfig skips it).
	ticketSecretProblem string
}

// List is a comma list of strings, each trimmed, empty items dropped.
type List []string

// Decode implements envconfig.Decoder.
func (l *List) Decode(value string) error {
	*l = nil
	for _, s := range strings.Split(value, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// IntList is a comma list of whole numbers.
type IntList []int

// Decode implements envconfig.Decoder.
func (l *IntList) Decode(value string) error {
	var strs List
	_ = strs.Decode(value)
	*l = make(IntList, 0, len(strs))
	for _, s := range strs {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		*l = append(*l, n)
	}
	return nil
}

// DomainList is a comma list of e-mail domains, lower-case, a leading "@"
// dropped; AnyDomain stands for any.
type DomainList []string

// Decode implements envconfig.Decoder.
func (l *DomainList) Decode(value string) error {
	var strs List
	_ = strs.Decode(value)
	*l = nil
	for _, s := range strs {
		s = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(s, "@"), "."))
		if s != AnyDomain && !isDomain(s) {
			return fmt.Errorf("%q is not an e-mail domain such as fabrikam.com (or * for any)", s)
		}
		if !slices.Contains(*l, s) {
			*l = append(*l, s)
		}
	}
	if slices.Contains(*l, AnyDomain) && len(*l) > 1 {
		return errors.New("* (any domain) stands alone: list domains or *, not both")
	}
	return nil
}

// isDomain reports whether s looks like a DNS name with at least two labels.
func isDomain(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Error is a configuration problem about one variable.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return "config: " + e.Variable + ": " + e.Problem }

// Load reads the configuration from the process environment with
// envconfig.Process and checks it. An empty value counts as unset.
func Load(ctx context.Context) (Config, error) {
	if err := ctx.Err(); err != nil {
		return Config{}, err
	}
	for _, name := range Variables() {
		if v, ok := os.LookupEnv(name); ok && v == "" {
			// App Service passes an emptied setting as an empty variable;
			// envconfig would take it as set and skip the default.
			_ = os.Unsetenv(name)
		}
	}
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return Config{}, translate(err)
	}
	// App Service passes an unresolved Key Vault reference through as its
	// literal text. For the ticket webhook's key that stops only the ticket
	// webhook (and ticket comments): set the value aside, say why.
	if isKeyVaultReference(c.TicketWebhookSecret) {
		c.TicketWebhookSecret = ""
		c.ticketSecretProblem = "is an unresolved Key Vault reference: grant the app's identity Key Vault Secrets User and check the secret URI"
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	c.AllowedRoles, _ = access.NormalizeRoles(c.AllowedRoles) // validated above
	return c, nil
}

// CheckGetenv checks that getenv, the environment run was given, agrees
// with the process environment that Load reads, for every variable of
// Config (empty and unset count as the same). A nil getenv is os.Getenv.
// The refusal names the first variable that differs and never its value.
func CheckGetenv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	for _, name := range Variables() {
		if getenv(name) != os.Getenv(name) {
			return &Error{Variable: name, Problem: "the environment given to run differs from the process environment, " +
				"which the configuration is read from (envconfig.Process): set the variable in the process environment (t.Setenv in tests)"}
		}
	}
	return nil
}

// translate turns envconfig's error into one naming the variable, without
// the value (it may be a secret).
func translate(err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		problem := pe.Err.Error()
		var ne *strconv.NumError
		if errors.As(pe.Err, &ne) {
			problem = "must be a whole number"
		}
		return &Error{Variable: pe.KeyName, Problem: problem}
	}
	if rest, ok := strings.CutPrefix(err.Error(), "required key "); ok {
		if name, ok := strings.CutSuffix(rest, " missing value"); ok {
			return &Error{Variable: name, Problem: "is required" + requiredWhy[name]}
		}
	}
	return fmt.Errorf("config: %w", err)
}

// requiredWhy completes the refusal of a variable tagged required.
var requiredWhy = map[string]string{
	"PARTNER_TENANT_ID": ": the MSSP's tenant id",
}

// Setting is one variable the configuration reads, as its struct tags say.
type Setting struct {
	Name     string
	Default  string
	Required bool
}

// Settings lists the variables the app reads, in the order of Config.
func Settings() []Setting {
	t := reflect.TypeOf(Config{})
	out := make([]Setting, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" && f.IsExported() {
			out = append(out, Setting{Name: name, Default: f.Tag.Get("default"), Required: f.Tag.Get("required") == "true"})
		}
	}
	return out
}

// Variables lists the environment variables the app reads.
func Variables() []string {
	var out []string
	for _, s := range Settings() {
		out = append(out, s.Name)
	}
	return out
}

// Default returns the default the configuration gives a variable, and
// whether it has one.
func Default(name string) (string, bool) {
	for _, s := range Settings() {
		if s.Name == name && s.Default != "" {
			return s.Default, true
		}
	}
	return "", false
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
	c.validateCustomerApp(bad)
	c.validatePortal(bad)
	if c.PartnerTenantID == "" {
		bad("PARTNER_TENANT_ID", "is required: the MSSP's tenant id")
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
	c.validateGuests(bad)
	c.validateLighthouse(bad)
	if c.B2BDefaultDays > c.B2BMaxDays {
		bad("B2B_DEFAULT_DAYS", "%d is longer than B2B_MAX_DAYS %d", c.B2BDefaultDays, c.B2BMaxDays)
	}
	if len(strings.Fields(c.ExpirySweepSchedule)) != 6 {
		bad("EXPIRY_SWEEP_SCHEDULE", "must be a six-field NCRONTAB expression such as \"0 0 * * * *\"")
	}
	if c.NotifyTeamsWebhookURL != "" && !isHTTPURL(c.NotifyTeamsWebhookURL) && !isKeyVaultReference(c.NotifyTeamsWebhookURL) {
		bad("NOTIFY_TEAMS_WEBHOOK_URL", "must be an http(s) URL")
	}
	if c.TicketCallbackURL != "" && !isHTTPURL(c.TicketCallbackURL) && !isKeyVaultReference(c.TicketCallbackURL) {
		bad("TICKET_CALLBACK_URL", "must be an http(s) URL")
	}
	// Without a usable secret the ticket webhook and ticket comments are off
	// (Warnings); a secret that is set must be a real key.
	if s := c.TicketWebhookSecret; s != "" {
		switch {
		case strings.TrimSpace(s) == "":
			bad("TICKET_WEBHOOK_SECRET", "is all white space: set a random key of at least %d bytes (openssl rand -hex 32)", MinTicketSecretBytes)
		case len(s) < MinTicketSecretBytes:
			bad("TICKET_WEBHOOK_SECRET", "is shorter than %d bytes: set a random key of at least %d bytes (openssl rand -hex 32)", MinTicketSecretBytes, MinTicketSecretBytes)
		}
	}
	// App Service passes an unresolved Key Vault reference through as its
	// literal text: as a credential or a URL that would be a guessable
	// secret or a request to nowhere, and every function needs these.
	for _, o := range []struct{ name, value string }{
		{"APP_CLIENT_SECRET", c.AppClientSecret}, {"CUSTOMER_APP_CLIENT_SECRET", c.CustomerAppClientSecret},
		{"NOTIFY_TEAMS_WEBHOOK_URL", c.NotifyTeamsWebhookURL}, {"TICKET_CALLBACK_URL", c.TicketCallbackURL},
		{"TICKET_WEBHOOK_SECRET", c.TicketWebhookSecret},
	} {
		if isKeyVaultReference(o.value) {
			bad(o.name, "is an unresolved Key Vault reference: grant the app's identity Key Vault Secrets User and check the secret URI")
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

// validateCustomerApp checks the customer app's settings: a credential of
// its own needs its own client id, and with GRAPH_AUTH clientsecret or
// certificate the customer app needs a credential (managed identity is the
// same federated identity for both apps).
func (c Config) validateCustomerApp(bad func(v, format string, args ...any)) {
	if c.CustomerAppClientID == "" {
		for _, o := range []struct{ name, value string }{
			{"CUSTOMER_APP_CLIENT_SECRET", c.CustomerAppClientSecret}, {"CUSTOMER_APP_CERTIFICATE_PATH", c.CustomerAppCertificatePath},
		} {
			if o.value != "" {
				bad(o.name, "is set without CUSTOMER_APP_CLIENT_ID: set the customer app's client id, or unset it to use the partner app's credential")
			}
		}
		return
	}
	if c.CustomerAppClientSecret != "" && c.CustomerAppCertificatePath != "" {
		bad("CUSTOMER_APP_CERTIFICATE_PATH", "set either CUSTOMER_APP_CLIENT_SECRET or CUSTOMER_APP_CERTIFICATE_PATH, not both")
	}
	if c.sameApp() || c.CustomerAppClientSecret != "" || c.CustomerAppCertificatePath != "" {
		return
	}
	switch c.GraphAuth {
	case "clientsecret", "certificate":
		bad("CUSTOMER_APP_CLIENT_SECRET", "required with CUSTOMER_APP_CLIENT_ID and GRAPH_AUTH=%s (or CUSTOMER_APP_CERTIFICATE_PATH)", c.GraphAuth)
	}
}

// App is one app registration as Graph calls are made with it.
type App struct {
	ClientID        string
	Auth            string // managedidentity, clientsecret, certificate or none
	ClientSecret    string
	CertificatePath string
}

// PartnerApp is the app every call into the partner tenant is made as
// (GDAP, Mail.Send, Domain.Read.All).
func (c Config) PartnerApp() App {
	return App{ClientID: c.AppClientID, Auth: c.GraphAuth, ClientSecret: c.AppClientSecret, CertificatePath: c.AppCertificatePath}
}

// CustomerApp is the app every call into a customer tenant is made as
// (User.Invite.All, User.Read.All, RoleManagement.ReadWrite.Directory): the
// partner app when CUSTOMER_APP_CLIENT_ID is unset or names the same app.
// With its own client id and no credential of its own, it signs in with the
// same managed identity (a federated credential on the customer app).
func (c Config) CustomerApp() App {
	if c.sameApp() {
		return c.PartnerApp()
	}
	a := App{ClientID: c.CustomerAppClientID, Auth: c.GraphAuth}
	switch {
	case c.GraphAuth == "none":
	case c.CustomerAppClientSecret != "":
		a.Auth, a.ClientSecret = "clientsecret", c.CustomerAppClientSecret
	case c.CustomerAppCertificatePath != "":
		a.Auth, a.CertificatePath = "certificate", c.CustomerAppCertificatePath
	}
	return a
}

// sameApp reports whether one app registration serves both sides.
func (c Config) sameApp() bool {
	return c.CustomerAppClientID == "" || strings.EqualFold(strings.TrimSpace(c.CustomerAppClientID), strings.TrimSpace(c.AppClientID))
}

// TicketWebhookUnavailable says why the ticket webhook is off ("is not
// set", "is an unresolved Key Vault reference: …"), or "" when
// TICKET_WEBHOOK_SECRET is usable. The words follow the variable's name.
func (c Config) TicketWebhookUnavailable() string {
	switch {
	case c.TicketWebhookSecret != "":
		return ""
	case c.ticketSecretProblem != "":
		return c.ticketSecretProblem
	}
	return "is not set"
}

// TicketComments reports whether ticket comments are sent: a callback URL
// and a usable secret to sign them with.
func (c Config) TicketComments() bool {
	return c.TicketCallbackURL != "" && c.TicketWebhookUnavailable() == ""
}

// Warning is a setting that leaves the app running with less than it could
// do, or with more privilege than it should have: one line at start-up.
type Warning struct {
	Variable string
	Message  string
}

// Warnings lists what start-up should warn about, one line each.
func (c Config) Warnings() []Warning {
	var out []Warning
	if why := c.TicketWebhookUnavailable(); why != "" {
		msg := "TICKET_WEBHOOK_SECRET " + why + ": ticket-webhook answers 503 until it is set"
		if c.TicketCallbackURL != "" {
			msg += ", and ticket comments to TICKET_CALLBACK_URL are not sent (they are signed with it)"
		}
		out = append(out, Warning{Variable: "TICKET_WEBHOOK_SECRET", Message: msg + "; every other function runs"})
	}
	if c.sameApp() {
		out = append(out, Warning{Variable: "CUSTOMER_APP_CLIENT_ID", Message: "CUSTOMER_APP_CLIENT_ID is unset or the partner app: " +
			"one app registration serves both sides, so a customer's consent also grants it the partner's permissions; register a customer app (infra/README.md)"})
	}
	if slices.Contains(c.B2BAllowedDomains, AnyDomain) {
		out = append(out, Warning{Variable: "B2B_ALLOWED_DOMAINS", Message: "B2B_ALLOWED_DOMAINS is *: guests may be invited from any e-mail domain, not only the MSSP's"})
	}
	return out
}

// isKeyVaultReference reports whether v is an App Service Key Vault
// reference that did not resolve: its literal @Microsoft.KeyVault(…) text.
func isKeyVaultReference(v string) bool {
	const prefix = "@Microsoft.KeyVault("
	v = strings.TrimSpace(v)
	return len(v) >= len(prefix) && strings.EqualFold(v[:len(prefix)], prefix)
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
	for _, s := range []string{c.AppClientSecret, c.CustomerAppClientSecret, c.TicketWebhookSecret, c.PortalTokenSecret, accountKey(c.TablesConnectionString),
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
