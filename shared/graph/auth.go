package graph

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	abs "github.com/microsoft/kiota-abstractions-go"
)

// tokenExchangeScope is the audience Entra expects of a managed identity
// token used as a federated client assertion.
const tokenExchangeScope = "api://AzureADTokenExchange/.default"

// tokenSource gives an access token for Graph in a tenant. claims is a
// continuous access evaluation challenge from Graph, usually empty.
type tokenSource interface {
	token(ctx context.Context, tenant, claims string) (string, error)
}

// credential is the part of azcore.TokenCredential the client uses.
type credential = azcore.TokenCredential

// credentialCache keeps one credential per tenant. azidentity credentials
// cache their tokens, so reusing the credential is what avoids asking Entra
// for a token on every call.
type credentialCache struct {
	newCred func(tenant string) (credential, error)

	mu    sync.Mutex
	creds map[string]credential
}

func newCredentialCache(newCred func(tenant string) (credential, error)) *credentialCache {
	return &credentialCache{newCred: newCred, creds: map[string]credential{}}
}

func (c *credentialCache) credential(tenant string) (credential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cred, ok := c.creds[tenant]; ok {
		return cred, nil
	}
	cred, err := c.newCred(tenant)
	if err != nil {
		return nil, err
	}
	c.creds[tenant] = cred
	return cred, nil
}

func (c *credentialCache) token(ctx context.Context, tenant, claims string) (string, error) {
	cred, err := c.credential(tenant)
	if err != nil {
		return "", err
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{
		Scopes:    []string{Scope},
		Claims:    claims,
		EnableCAE: true,
	})
	if err != nil {
		return "", err
	}
	return tok.Token, nil
}

// managedIdentityAssertion returns the client assertion callback of a
// federated credential: the managed identity's token for the token
// exchange audience. The managed identity credential caches that token.
func managedIdentityAssertion(mi credential) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{tokenExchangeScope}})
		if err != nil {
			return "", err
		}
		return tok.Token, nil
	}
}

// unsignedTokens makes the tokens of AuthNone: a JWT with alg "none" and an
// empty signature whose tid claim names the tenant, so that a simulator
// tells tenants apart from the token exactly as Graph does.
type unsignedTokens struct {
	clientID string
}

func (u unsignedTokens) token(_ context.Context, tenant, _ string) (string, error) {
	return unsignedJWT(tenant, u.clientID, time.Now()), nil
}

// unsignedJWT builds header.payload. with an empty signature: the header
// {"alg":"none","typ":"JWT"} that golang-jwt writes for SigningMethodNone.
func unsignedJWT(tenant, clientID string, now time.Time) string {
	claims := jwt.MapClaims{
		"aud":   "https://graph.microsoft.com",
		"iss":   "https://sts.windows.net/" + tenant + "/",
		"tid":   tenant,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"idtyp": "app",
	}
	if clientID != "" {
		claims["appid"] = clientID
	}
	// Signing cannot fail: the claims are strings and integers, and the
	// key is the constant the none method asks for.
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return tok
}

// tenantAuth is the kiota authentication provider. It reads the tenant of
// the call from the request context and puts that tenant's token on the
// request.
type tenantAuth struct {
	tokens tokenSource
}

// tokenError marks a failure to get a token, as opposed to an answer from
// Graph, so that the error translation can tell the two apart.
type tokenError struct {
	tenant string
	err    error
}

func (e *tokenError) Error() string {
	return "get a token for tenant " + e.tenant + ": " + e.err.Error()
}
func (e *tokenError) Unwrap() error { return e.err }

// errNoTenant is a programming error: a request sent without inTenant.
var errNoTenant = errors.New("graph: request without a tenant in its context")

// AuthenticateRequest implements kiota's AuthenticationProvider. The SDK
// calls it for every request and again for a continuous access evaluation
// challenge, with the claims Graph asked for.
func (a tenantAuth) AuthenticateRequest(ctx context.Context, req *abs.RequestInformation, extra map[string]any) error {
	c := callOf(ctx)
	if c == nil || c.tenant == "" {
		return errNoTenant
	}
	claims, _ := extra["claims"].(string)
	tok, err := a.tokens.token(ctx, c.tenant, claims)
	if err != nil {
		return &tokenError{tenant: c.tenant, err: err}
	}
	// A continuous access evaluation retry authenticates the same request
	// again: replace the header rather than add a second one.
	req.Headers.Remove("Authorization")
	req.Headers.Add("Authorization", "Bearer "+tok)
	return nil
}
