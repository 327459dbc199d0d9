// Package graph is the Microsoft Graph adapter: it implements
// access.Directory with msgraph-sdk-go, in the partner tenant and in every
// customer tenant, from one multi-tenant app registration.
//
// It imports only the request-builder subpackages it uses (invitations,
// users, rolemanagement, tenantrelationships, models) and the core request
// adapter, never the SDK's root package, which compiles every Graph endpoint
// and roughly doubles the build time and binary size.
//
// Every call names the tenant it acts in. The tenant travels in the request
// context to the authentication provider, which asks the credential of that
// tenant for a token, so one client serves any number of tenants. Graph's
// errors are translated once, at this boundary, into the access.Error
// vocabulary; 429 and 5xx answers reach the caller only after the SDK's
// retry middleware (which honours Retry-After) has given up.
package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// DefaultBaseURL is Microsoft Graph v1.0.
const DefaultBaseURL = "https://graph.microsoft.com/v1.0"

// Scope is the scope of every token the client asks for: the app's
// application permissions on Graph, as consented in the tenant.
const Scope = "https://graph.microsoft.com/.default"

// Authentication modes of Options.Auth.
const (
	// AuthManagedIdentity uses a federated identity credential: the app
	// registration trusts the Function App's managed identity, whose token
	// for api://AzureADTokenExchange is the client assertion. No secret is
	// stored anywhere. This is the default.
	AuthManagedIdentity = "managedidentity"
	// AuthClientSecret uses the app registration's client secret.
	AuthClientSecret = "clientsecret"
	// AuthCertificate uses a certificate (PEM or PFX file) of the app
	// registration.
	AuthCertificate = "certificate"
	// AuthNone sends unsigned tokens; it exists for graphsim and is refused
	// with Microsoft Graph's own base URL.
	AuthNone = "none"
)

// Options configure a Client. The zero value means Microsoft Graph with the
// managed identity's federated credential, which still needs ClientID.
type Options struct {
	// BaseURL is Graph's root, DefaultBaseURL when empty. Any URL other than
	// Microsoft Graph's is a simulator.
	BaseURL string
	// Auth is one of the Auth constants; empty means AuthManagedIdentity.
	Auth string
	// ClientID is the multi-tenant app registration, consented in the
	// partner tenant and in every customer tenant.
	ClientID string
	// ClientSecret is used with AuthClientSecret. It never appears in an
	// error or a log line.
	ClientSecret string
	// CertificatePath is a PEM or PKCS#12 (PFX) file holding the
	// certificate and its private key, for AuthCertificate.
	CertificatePath string
	// CertificatePassword decrypts CertificatePath, if it is encrypted.
	CertificatePassword string
	// ManagedIdentityClientID selects a user-assigned managed identity for
	// AuthManagedIdentity; empty means the system-assigned one.
	ManagedIdentityClientID string
	// HTTPClient sends the Graph requests (not the token requests). Its
	// Transport is wrapped in the SDK's middleware pipeline (retry,
	// redirect, compression), so it sees every attempt, retries included.
	// Nil means a default client with a 100 s timeout.
	HTTPClient *http.Client
}

// Client is a Microsoft Graph client for many tenants. It is safe for
// concurrent use.
type Client struct {
	adapter *core.GraphRequestAdapterBase
	base    *url.URL
}

var (
	_ lifecycle.Guests  = (*Client)(nil)
	_ lifecycle.GDAP    = (*Client)(nil)
	_ lifecycle.Domains = (*Client)(nil)
)

// New returns a client. It checks the options and, for AuthCertificate,
// reads the certificate, so a misconfiguration shows at start-up; it
// contacts no service. Errors name the option at fault, never its secret
// value.
func New(opts Options) (*Client, error) {
	raw := strings.TrimRight(strings.TrimSpace(opts.BaseURL), "/")
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, errors.New("graph: the base URL is not an absolute http(s) URL")
	}
	mode := strings.ToLower(strings.TrimSpace(opts.Auth))
	if mode == "" {
		mode = AuthManagedIdentity
	}
	tokens, err := newTokenSource(mode, base, opts)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base}
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		tenantAuth{tokens: tokens}, core.GraphClientOptions{GraphServiceVersion: "v1.0"},
		jsonser.NewJsonParseNodeFactory(), jsonser.NewJsonSerializationWriterFactory(),
		pipelineClient(opts.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(raw)
	c.adapter = adapter
	return c, nil
}

// newTokenSource checks the options of an authentication mode and returns
// where tokens come from.
func newTokenSource(mode string, base *url.URL, opts Options) (tokenSource, error) {
	if mode == AuthNone {
		if isMicrosoftGraph(base.Host) {
			return nil, fmt.Errorf("graph: auth %q sends unsigned tokens and is only for a simulator; it is refused with Microsoft Graph's base URL %s", AuthNone, base.Redacted())
		}
		return unsignedTokens{clientID: opts.ClientID}, nil
	}
	if base.Scheme != "https" {
		return nil, fmt.Errorf("graph: auth %q needs an https base URL, so that tokens never travel in clear; got %s", mode, base.Redacted())
	}
	if strings.TrimSpace(opts.ClientID) == "" {
		return nil, fmt.Errorf("graph: auth %q needs the app's client id", mode)
	}
	switch mode {
	case AuthClientSecret:
		if opts.ClientSecret == "" {
			return nil, errors.New("graph: auth clientsecret needs a client secret")
		}
		return newCredentialCache(func(tenant string) (credential, error) {
			return azidentity.NewClientSecretCredential(tenant, opts.ClientID, opts.ClientSecret, nil)
		}), nil
	case AuthCertificate:
		if opts.CertificatePath == "" {
			return nil, errors.New("graph: auth certificate needs a certificate path")
		}
		data, err := os.ReadFile(opts.CertificatePath)
		if err != nil {
			return nil, fmt.Errorf("graph: read certificate: %w", err)
		}
		certs, key, err := azidentity.ParseCertificates(data, []byte(opts.CertificatePassword))
		if err != nil {
			return nil, fmt.Errorf("graph: parse certificate %s: %w", opts.CertificatePath, err)
		}
		return newCredentialCache(func(tenant string) (credential, error) {
			return azidentity.NewClientCertificateCredential(tenant, opts.ClientID, certs, key, nil)
		}), nil
	case AuthManagedIdentity:
		var miOpts azidentity.ManagedIdentityCredentialOptions
		if opts.ManagedIdentityClientID != "" {
			miOpts.ID = azidentity.ClientID(opts.ManagedIdentityClientID)
		}
		mi, err := azidentity.NewManagedIdentityCredential(&miOpts)
		if err != nil {
			return nil, fmt.Errorf("graph: managed identity: %w", err)
		}
		assertion := managedIdentityAssertion(mi)
		return newCredentialCache(func(tenant string) (credential, error) {
			return azidentity.NewClientAssertionCredential(tenant, opts.ClientID, assertion, nil)
		}), nil
	}
	return nil, fmt.Errorf("graph: unknown auth %q: use %s, %s, %s or %s", mode, AuthManagedIdentity, AuthClientSecret, AuthCertificate, AuthNone)
}

// isMicrosoftGraph reports whether host is one of Microsoft Graph's own
// endpoints (global and national clouds), where unsigned tokens must never
// be sent.
func isMicrosoftGraph(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	switch h {
	case "graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn":
		return true
	}
	return false
}

// pipelineClient wraps the caller's HTTP client (or a default one) in the
// Graph SDK's middleware: request compression, retry with Retry-After,
// redirects and the rest. The caller's transport stays innermost, so it
// sees each attempt; a recorder there keeps the final status of a call for
// errors the SDK cannot decode.
func pipelineClient(user *http.Client) *http.Client {
	c := &http.Client{Timeout: 100 * time.Second}
	var inner http.RoundTripper
	if user != nil {
		c.Timeout = user.Timeout
		c.Jar = user.Jar
		inner = user.Transport
	}
	if inner == nil {
		inner = khttp.GetDefaultTransport()
	}
	// The redirect middleware follows redirects itself, and only to where
	// it is safe to send the Authorization header.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Transport = khttp.NewCustomTransportWithParentTransport(statusRecorder{next: inner}, middleware()...)
	return c
}

// middleware is the SDK's default middleware in a fixed order. The SDK
// builds its list from a map, so its order changes from one client to the
// next, and when the retry handler lands outside the compression handler a
// retried POST goes out with "Content-Encoding: gzip" over a plain body
// (kiota-http-go issue 183): a 429 on an invitation then turns into a 400.
// Graph's SDK design asks for compression before retry; so do we.
//
// Compression itself is off: the app's request bodies are under 2 KB, and
// gzipping them was measured at about half of the handler's CPU per event
// (bench/README.md). The handler stays in the chain, turned off, so that
// the order above holds if it is ever turned on again.
func middleware() []khttp.Middleware {
	return []khttp.Middleware{
		core.NewGraphTelemetryHandler(&core.GraphClientOptions{GraphServiceVersion: "v1.0"}),
		khttp.NewUrlReplaceHandler(true, core.ReplacementPairs),
		khttp.NewCompressionHandlerWithOptions(khttp.NewCompressionOptions(false)),
		khttp.NewRetryHandler(),
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	}
}

// call is what one Directory method's context carries to the
// authentication provider and the transport.
type call struct {
	op     access.Op // the Directory method, for the errors' Op
	tenant string
	status atomic.Int32 // final HTTP status, set by statusRecorder
}

type callKey struct{}

// startCall returns a context that makes the requests of the Directory
// method op ("graph.<Method>", the Op of its errors) act in tenant.
func startCall(ctx context.Context, op access.Op, tenant string) context.Context {
	return context.WithValue(ctx, callKey{}, &call{op: op, tenant: tenant})
}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// statusRecorder notes the status of the last response of a call.
type statusRecorder struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (s statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if resp != nil {
		if c := callOf(req.Context()); c != nil {
			c.status.Store(int32(resp.StatusCode))
		}
	}
	return resp, err
}

// ApprovalURL is the link a customer's Global Administrator opens to
// review and approve a GDAP relationship.
func ApprovalURL(relationshipID string) string {
	return "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/" + url.PathEscape(relationshipID)
}

// sameOrigin reports whether a link Graph handed back (an @odata.nextLink)
// points at the configured Graph, so that the token is never sent elsewhere.
func (c *Client) sameOrigin(link string) bool {
	u, err := url.Parse(link)
	return err == nil && u.Scheme == c.base.Scheme && strings.EqualFold(u.Host, c.base.Host)
}
