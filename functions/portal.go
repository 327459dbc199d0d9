package functions

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// FnPortal is the web page for operators and customer admins.
const FnPortal = "portal"

// portalPage is one request to the portal, once its path is read.
type portalPage struct {
	req      funchost.HTTPRequest
	base     string // the portal's own path, such as /api/portal
	html     bool   // the client wants a page, not problem+json
	customer string // grants/<customer>/<grantId>[/<action>]
	grantID  string
	action   string
}

// portal serves GET and POST portal/{*path} (DESIGN.md section 12): the
// grants, one grant, and the actions on it, for the person App Service
// Authentication signed in.
func (d Deps) portal(ctx context.Context, req funchost.HTTPRequest) (funchost.HTTPResponse, error) {
	pg := parsePortal(req)
	if pg.action == "" && strings.Trim(req.Params["path"], "/") == "portal.css" {
		return stylesheet(), nil
	}
	if !d.Config.PrincipalTrusted() {
		// Without the platform's sign-in in front, anyone could send the
		// header: nothing it says can be believed.
		return pg.fail(http.StatusServiceUnavailable, "Sign-in is not configured",
			"the portal needs App Service Authentication (WEBSITE_AUTH_ENABLED=True) in front of it"), nil
	}
	raw := req.Header.Get(PrincipalHeader)
	if raw == "" {
		if pg.html && req.Method == http.MethodGet {
			return funchost.HTTPResponse{StatusCode: http.StatusFound, Headers: map[string]string{
				"Location":      "/.auth/login/aad?post_login_redirect_uri=" + loginReturn(req.URL.RequestURI()),
				"Cache-Control": "no-store"}}, nil
		}
		return pg.fail(http.StatusUnauthorized, "Sign-in required", "sign in through /.auth/login/aad"), nil
	}
	p, err := decodePrincipal(raw)
	if err != nil {
		return pg.fail(http.StatusUnauthorized, "Sign-in required", "the sign-in could not be read; sign in again"), nil
	}
	v := authorize(p, d.Config.PartnerTenantID)
	if v.kind == viewerNone {
		return pg.fail(http.StatusForbidden, "No access",
			"the portal is for the MSSP's operators (app role Access.Operator or Access.Reader) and customers' administrators"), nil
	}
	switch {
	case pg.customer == "" && strings.Trim(req.Params["path"], "/") == "" && req.Method == http.MethodGet:
		return d.portalList(ctx, pg, v)
	case pg.customer == "":
		return pg.fail(http.StatusNotFound, "Not found", "no such page"), nil
	case !v.sees(pg.customer):
		// Another tenant's grant does not exist, as far as this viewer can tell.
		return pg.fail(http.StatusNotFound, "Not found", "no such grant"), nil
	case pg.action == "" && req.Method == http.MethodGet:
		return d.portalGrant(ctx, pg, v, "")
	case pg.action != "" && req.Method == http.MethodPost:
		return d.portalAction(ctx, pg, v)
	}
	return pg.fail(http.StatusMethodNotAllowed, "Method not allowed", "use the page's forms"), nil
}

// parsePortal reads the path: "", "grants/<customer>/<grantId>" or
// "grants/<customer>/<grantId>/<action>".
func parsePortal(req funchost.HTTPRequest) portalPage {
	pg := portalPage{req: req, html: wantsHTML(req)}
	rest := strings.Trim(req.Params["path"], "/")
	pg.base = strings.TrimSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/"+rest)
	if rest == "" {
		pg.base = strings.TrimSuffix(req.URL.Path, "/")
	}
	if pg.base == "" {
		pg.base = "/api/portal"
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[0] != "grants" {
		return pg
	}
	customer, err1 := url.PathUnescape(parts[1])
	grantID, err2 := url.PathUnescape(parts[2])
	if err1 != nil || err2 != nil || !access.IsGUID(lower(customer)) {
		return pg
	}
	if _, _, ok := access.SplitGrantID(grantID); !ok {
		return pg
	}
	pg.customer, pg.grantID = lower(customer), grantID
	if len(parts) == 4 {
		switch parts[3] {
		case actRevoke, actExtend, actReview:
			pg.action = parts[3]
		default:
			pg.customer = ""
		}
	}
	return pg
}

// wantsHTML is true for a browser's request: Accept names text/html (a
// form post from the page does too).
func wantsHTML(req funchost.HTTPRequest) bool {
	return strings.Contains(strings.ToLower(req.Header.Get("Accept")), "text/html")
}

// grantPath is the page of one grant.
func (pg portalPage) grantPath(customer, grantID string) string {
	return pg.base + "/grants/" + customer + "/" + url.PathEscape(grantID)
}

// fail answers an error: a page for a browser, problem+json otherwise.
func (pg portalPage) fail(status int, title, detail string) funchost.HTTPResponse {
	if !pg.html {
		return funchost.Problem(status, title, detail, nil)
	}
	return renderPage(status, "error", errorPage{pageBase: pageBase{Title: title, Base: pg.base}, Detail: detail})
}

// loginReturn escapes the page for post_login_redirect_uri: its query's
// & and = are escaped, its slashes (legal in a query) are kept, as App
// Service's own examples write it.
func loginReturn(page string) string {
	return strings.ReplaceAll(url.QueryEscape(page), "%2F", "/")
}
