package functions

import (
	"errors"
	"net/http"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// upstreamError marks a failure of a dependency (Graph, storage) after the
// caller was authenticated: the caller is not at fault, so even a missing
// consent in a tenant must not read as the caller's 401.
type upstreamError struct{ err error }

func (u upstreamError) Error() string { return u.err.Error() }
func (u upstreamError) Unwrap() error { return u.err }

// upstream marks err as a dependency's failure; nil stays nil.
func upstream(err error) error {
	if err == nil {
		return nil
	}
	return upstreamError{err}
}

// problem is the one place that maps an error to an HTTP problem response.
// Internal errors say nothing of their cause to the caller; it is logged.
func problem(err error) funchost.HTTPResponse {
	var e *access.Error
	detail := err.Error()
	if errors.As(err, &e) && e.Msg != "" {
		detail = e.Msg
	}
	var up upstreamError
	if errors.As(err, &up) && access.KindOf(err) == access.KindUnauthorized {
		// The message names the tenant and the permission to consent; it
		// holds no secret.
		return funchost.Problem(http.StatusBadGateway, "The app is not authorized in a tenant", detail, nil)
	}
	switch access.KindOf(err) {
	case access.KindInvalid:
		return funchost.Problem(http.StatusBadRequest, "Invalid request", detail, access.FieldsOf(err))
	case access.KindUnauthorized:
		// Why the signature failed helps only an attacker: the reason is
		// logged, the caller learns that it failed.
		return funchost.Problem(http.StatusUnauthorized, "Unauthorized", "authentication failed", nil)
	case access.KindNotFound:
		return funchost.Problem(http.StatusNotFound, "Not found", detail, nil)
	case access.KindConflict:
		return funchost.Problem(http.StatusConflict, "Conflict", detail, nil)
	case access.KindRefused:
		return funchost.Problem(http.StatusUnprocessableEntity, "Refused by policy", detail, nil)
	case access.KindTransient:
		return funchost.Problem(http.StatusServiceUnavailable, "Temporarily unavailable", "a dependency is unavailable; retry later", nil)
	}
	return funchost.Problem(http.StatusInternalServerError, "Internal error", "the request could not be completed", nil)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
