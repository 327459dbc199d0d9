package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// portalAction is POST …/grants/<customer>/<grantId>/<action>: revoke,
// extend (days) or review (decision). The post must come from the app's
// own page, carry the token that page rendered for this principal and
// action, and be one the viewer may take; otherwise 403 and nothing
// changes. Done, it answers 303 back to the grant's page.
func (d Deps) portalAction(ctx context.Context, pg portalPage, v viewer) (funchost.HTTPResponse, error) {
	if !sameOrigin(pg.req) {
		return pg.fail(http.StatusForbidden, "Cross-site request refused", "post the page's own forms"), nil
	}
	form, err := readForm(pg.req)
	if err != nil {
		return pg.fail(http.StatusBadRequest, "Invalid form", err.Error()), nil
	}
	token := form.Get("token")
	if token == "" || !d.checkToken(token, v.principal, pg.action, pg.customer, pg.grantID, time.Now()) {
		return pg.fail(http.StatusForbidden, "Form expired or not yours", "reload the grant's page and try again"), nil
	}
	if !v.may(pg.action, pg.customer) {
		return pg.fail(http.StatusForbidden, "Not allowed", fmt.Sprintf("a %s may not %s this grant", v.role(), pg.action)), nil
	}
	// The event is named by the form it came from: a form sent twice
	// counts once.
	h := sha256.Sum256([]byte(pg.action + "\n" + pg.customer + "\n" + pg.grantID + "\n" + token + "\n" + form.Get("days") + "\n" + form.Get("decision")))
	eventID := "portal-" + hex.EncodeToString(h[:12])
	on := lifecycle.GrantCommand{CustomerTenantID: pg.customer, GrantID: pg.grantID, EventID: eventID, Actor: v.actor()}
	switch pg.action {
	case actRevoke:
		_, err = d.Lifecycle.Revoke(ctx, lifecycle.RevokeInput{GrantCommand: on, Reason: "revoked in the portal"})
	case actExtend:
		days, convErr := strconv.Atoi(strings.TrimSpace(form.Get("days")))
		if convErr != nil || days < 1 {
			return pg.fail(http.StatusBadRequest, "Invalid form", "days must be a whole number of days from 1"), nil
		}
		_, err = d.Lifecycle.Extend(ctx, lifecycle.ExtendInput{GrantCommand: on, Days: days})
	case actReview:
		decision := lifecycle.ReviewDecision(form.Get("decision"))
		if decision != lifecycle.ReviewKeep && decision != lifecycle.ReviewRevoke {
			return pg.fail(http.StatusBadRequest, "Invalid form", "decision must be keep or revoke"), nil
		}
		_, err = d.Lifecycle.Review(ctx, lifecycle.ReviewInput{GrantCommand: on, Decision: decision})
	}
	switch kind := access.KindOf(err); {
	case err == nil:
	case kind == access.KindNotFound:
		return pg.fail(http.StatusNotFound, "Not found", "no such grant"), nil
	case kind == access.KindConflict && d.applied(ctx, pg.customer, eventID):
		// This very form was carried out before (sent twice): done.
	case kind == access.KindConflict || kind == access.KindRefused || kind == access.KindInvalid:
		res := problem(err)
		if !pg.html {
			return res, nil
		}
		return pg.fail(res.StatusCode, "Not done", errDetail(err)), nil
	default:
		return funchost.HTTPResponse{}, err
	}
	return funchost.HTTPResponse{StatusCode: http.StatusSeeOther, Headers: map[string]string{
		"Location": pg.grantPath(pg.customer, pg.grantID), "Cache-Control": "no-store"}}, nil
}

// readForm reads an application/x-www-form-urlencoded body.
func readForm(req funchost.HTTPRequest) (url.Values, error) {
	ct := req.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); ct != "" && (err != nil || mt != "application/x-www-form-urlencoded") {
		return nil, fmt.Errorf("the form must be sent as application/x-www-form-urlencoded")
	}
	v, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return nil, fmt.Errorf("the form cannot be read: %w", err)
	}
	return v, nil
}

// errDetail is what the person is told about a refusal: the error's own
// message, which names no secret.
func errDetail(err error) string {
	var e *access.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return err.Error()
}

// applied reports whether the form's event is in the ledger already.
func (d Deps) applied(ctx context.Context, customer, eventID string) bool {
	ok, err := d.Lifecycle.Applied(ctx, customer, eventID)
	return err == nil && ok
}
