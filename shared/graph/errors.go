package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// The least-privileged application permission each operation needs. An
// error caused by missing consent names it, so the operator knows what to
// grant in which tenant.
const (
	permUserRead       = "User.Read.All"
	permUserInvite     = "User.Invite.All"
	permRoleManagement = "RoleManagement.ReadWrite.Directory"
	permGDAP           = "DelegatedAdminRelationship.ReadWrite.All"
	permMailSend       = "Mail.Send"
)

// translate turns anything a Graph call returned into an *access.Error. It
// is the only place that knows the SDK's error types:
//
//	404                         KindNotFound
//	409, 412                    KindConflict
//	429, 408, 5xx               KindTransient (after the SDK's own retries)
//	401, 403                    KindUnauthorized, naming tenant and permission
//	other 4xx                   KindInvalid
//	network, timeout            KindTransient
//	no token for the tenant     KindUnauthorized (KindTransient if Entra is down)
//
// Graph's error code goes to Code and its message to Msg, and the method
// the call is made for (inTenant) to Op, "graph.<Method>". The SDK's error
// value is not kept as the cause: it holds the response headers and its
// Error method panics on a body without a message.
func translate(ctx context.Context, err error, tenant, permission string) error {
	e := classify(ctx, err, tenant, permission)
	if c := callOf(ctx); c != nil {
		e.Op = c.op
	}
	return e
}

func classify(ctx context.Context, err error, tenant, permission string) *access.Error {
	var (
		tokErr  *tokenError
		odata   *odataerrors.ODataError
		api     *abs.ApiError
		urlErr  *url.Error
		netErr  net.Error
		status  int
		code    string
		message string
	)
	switch {
	case errors.As(err, &tokErr):
		return tokenFailure(tokErr, permission)
	case errors.As(err, &odata):
		status = odata.ResponseStatusCode
		if main := odata.GetErrorEscaped(); main != nil {
			code, message = deref(main.GetCode()), deref(main.GetMessage())
		}
	case errors.As(err, &api):
		status, message = api.ResponseStatusCode, api.Message
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &access.Error{Kind: access.KindTransient, Msg: "graph call in tenant " + tenant + " did not finish", Err: err}
	case errors.As(err, &urlErr), errors.As(err, &netErr):
		return &access.Error{Kind: access.KindTransient, Msg: "graph unreachable", Err: err}
	default:
		// A failure answer whose body the SDK could not decode (an HTML
		// page from a gateway, say): the transport recorded its status.
		if c := callOf(ctx); c != nil && c.status.Load() >= 400 {
			status = int(c.status.Load())
			message = "undecodable error body (" + err.Error() + ")"
		} else {
			return &access.Error{Kind: access.KindInternal, Msg: "graph call in tenant " + tenant + " failed", Err: err}
		}
	}
	if message == "" {
		message = http.StatusText(status)
	}
	e := &access.Error{Code: code, Msg: fmt.Sprintf("graph answered %d: %s", status, message)}
	switch {
	case status == http.StatusUnauthorized:
		e.Kind = access.KindUnauthorized
		e.Msg = fmt.Sprintf("graph refused the app's token for tenant %s (401: %s): check the app's credential and that an administrator of tenant %s consented to the app with the application permission %s",
			tenant, message, tenant, permission)
	case status == http.StatusForbidden:
		e.Kind = access.KindUnauthorized
		e.Msg = fmt.Sprintf("graph denied the call in tenant %s (403: %s): an administrator of tenant %s must grant the app the application permission %s (admin consent)",
			tenant, message, tenant, permission)
	case status == http.StatusNotFound:
		e.Kind = access.KindNotFound
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		e.Kind = access.KindConflict
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		e.Kind = access.KindTransient
	case status >= 400:
		e.Kind = access.KindInvalid
	default:
		e.Kind = access.KindInternal
	}
	return e
}

// tokenFailure explains a failure to get a token for a tenant. Entra
// answering 429 or 5xx, or not answering, is transient; anything else (bad
// secret, app not consented in the tenant, no managed identity) needs an
// operator.
func tokenFailure(te *tokenError, permission string) *access.Error {
	var (
		authErr *azidentity.AuthenticationFailedError
		urlErr  *url.Error
		netErr  net.Error
	)
	kind := access.KindUnauthorized
	switch {
	case errors.As(te.err, &authErr) && authErr.RawResponse != nil &&
		(authErr.RawResponse.StatusCode == http.StatusTooManyRequests || authErr.RawResponse.StatusCode >= 500):
		kind = access.KindTransient
	case errors.As(te.err, &authErr):
	case errors.Is(te.err, context.Canceled), errors.Is(te.err, context.DeadlineExceeded),
		errors.As(te.err, &urlErr), errors.As(te.err, &netErr):
		kind = access.KindTransient
	}
	msg := fmt.Sprintf("no Graph token for tenant %s: check the app's credential and that an administrator of tenant %s consented to the app (application permission %s)",
		te.tenant, te.tenant, permission)
	if kind == access.KindTransient {
		msg = fmt.Sprintf("no Graph token for tenant %s: Microsoft Entra ID did not answer", te.tenant)
	}
	return &access.Error{Kind: kind, Msg: msg, Err: te.err}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
