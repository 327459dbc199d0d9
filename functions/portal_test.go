package functions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

const (
	otherCustomer = "bbbbcccc-1111-dddd-2222-eeee3333ffff"
	otherGrant    = "b2b:9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
	portalHost    = "app.example"
)

// who builds an X-MS-CLIENT-PRINCIPAL header as App Service does, with the
// claims by their long names where App Service maps them.
func who(name, tid, oid string, roles, wids []string) string {
	type claim struct {
		Typ string `json:"typ"`
		Val string `json:"val"`
	}
	claims := []claim{
		{"http://schemas.microsoft.com/identity/claims/tenantid", tid},
		{"http://schemas.microsoft.com/identity/claims/objectidentifier", oid},
		{"name", name},
		{"preferred_username", strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example"},
	}
	for _, r := range roles {
		claims = append(claims, claim{"roles", r})
	}
	for _, w := range wids {
		claims = append(claims, claim{"wids", w})
	}
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "claims": claims,
		"name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "role_typ": "roles"})
	return base64.StdEncoding.EncodeToString(b)
}

var (
	operator  = who("Olivia Operator", partnerTenant, "0e000000-0000-4000-8000-000000000001", []string{RoleOperator}, nil)
	reader    = who("Rita Reader", partnerTenant, "0e000000-0000-4000-8000-000000000002", []string{RoleReader}, nil)
	adminA    = who("Megan Bowen", customerTenant, "c0000000-0000-4000-8000-00000000000a", nil, []string{widSecurityAdmin})
	adminB    = who("Bob Other", otherCustomer, "c0000000-0000-4000-8000-00000000000b", nil, []string{widGlobalAdmin})
	plainUser = who("Pat User", customerTenant, "c0000000-0000-4000-8000-00000000000c", nil, []string{"88d8e3e3-8f55-4a1e-953a-9b9898b8876b"})
	partnerGA = who("Partner Admin", partnerTenant, "0e000000-0000-4000-8000-000000000003", nil, []string{widGlobalAdmin})
)

// portalCall is a browser's request to the portal as the host passes it.
func (e *env) portalCall(method, path, principal string, body url.Values, extra map[string]string) httpResult {
	e.t.Helper()
	h := http.Header{"Accept": {"text/html,application/xhtml+xml"}, "Host": {portalHost}}
	if principal != "" {
		h.Set(PrincipalHeader, principal)
	}
	var raw []byte
	if body != nil {
		raw = []byte(body.Encode())
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set("Origin", "https://"+portalHost)
		h.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range extra {
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
	}
	p, _, _ := strings.Cut(path, "?")
	rest := strings.TrimPrefix(strings.TrimPrefix(p, "/api/portal"), "/")
	params := map[string]string{}
	if rest != "" {
		params["path"] = rest
	}
	return e.call(FnPortal, method, "https://"+portalHost+path, h, raw, params)
}

// portalEnv is an env with an active Contoso guest grant and an active
// grant of another customer.
func portalEnv(t *testing.T) (*env, string) {
	e := newEnv(t)
	res := e.ticket(requestB2B("d-portal-1"))
	grantID := res.Body["grantId"].(string)
	msgs := e.published.to(FnInvitationSent)
	e.mustDeliver(FnInvitationSent, msgs[0].ID, 1, msgs[0].Body)
	now := e.clock.Now()
	err := e.store.Commit(context.Background(), access.Change{Grant: access.Grant{ID: otherGrant, CustomerTenantID: otherCustomer,
		PartnerTenantID: partnerTenant, Method: access.B2B, Status: access.StatusActive, Roles: []string{access.SecurityReaderID},
		PrincipalID: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", ExpiresAt: access.WholeSeconds(now.Add(10 * access.Day)),
		CreatedAt: access.WholeSeconds(now), UpdatedAt: access.WholeSeconds(now)}, EventID: "seed-other", Outcome: "processed"})
	if err != nil {
		t.Fatal(err)
	}
	return e, grantID
}

var formRE = regexp.MustCompile(`<form method="post" action="([^"]+)" id="(\w+)"><input type="hidden" name="token" value="([^"]+)">`)

// forms reads the action forms of a page: id → action URL and token.
func forms(page string) map[string][2]string {
	out := map[string][2]string{}
	for _, m := range formRE.FindAllStringSubmatch(page, -1) {
		out[m[2]] = [2]string{html.UnescapeString(m[1]), html.UnescapeString(m[3])}
	}
	return out
}

func TestPortalWhoSeesWhat(t *testing.T) {
	e, grantID := portalEnv(t)
	mine := "/api/portal/grants/" + customerTenant + "/" + grantID
	theirs := "/api/portal/grants/" + otherCustomer + "/" + otherGrant

	if r := e.portalCall("GET", "/api/portal", "", nil, nil); r.Status != http.StatusFound ||
		r.Header["Location"] != "/.auth/login/aad?post_login_redirect_uri=/api/portal" {
		t.Errorf("no principal, a page: got %d %v, want 302 to the sign-in", r.Status, r.Header)
	}
	if r := e.portalCall("GET", "/api/portal?status=active&within=7", "", nil, nil); r.Status != http.StatusFound ||
		r.Header["Location"] != "/.auth/login/aad?post_login_redirect_uri=/api/portal%3Fstatus%3Dactive%26within%3D7" {
		t.Errorf("no principal, a filtered page: got %d %v, want 302 back to the same page", r.Status, r.Header)
	}
	if r := e.portalCall("GET", mine, "", nil, map[string]string{"Accept": "application/json"}); r.Status != http.StatusUnauthorized ||
		r.Header["Content-Type"] != "application/problem+json" {
		t.Errorf("no principal, not a page: got %d %v, want 401 problem+json", r.Status, r.Header)
	}
	if r := e.portalCall("GET", "/api/portal", "not base64 at all!", nil, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("garbled principal: got %d, want 401", r.Status)
	}
	for name, p := range map[string]string{"plain user": plainUser, "partner admin without app role": partnerGA} {
		if r := e.portalCall("GET", "/api/portal", p, nil, nil); r.Status != http.StatusForbidden {
			t.Errorf("%s: got %d, want 403", name, r.Status)
		}
	}

	for _, tc := range []struct {
		name, principal string
		sees, hides     []string
	}{
		{"operator", operator, []string{grantID, otherGrant, "operator", `name="customer"`}, nil},
		{"reader", reader, []string{grantID, otherGrant, "reader"}, nil},
		{"admin A", adminA, []string{grantID, "customer admin"}, []string{otherGrant, `name="customer"`}},
		{"admin B", adminB, []string{otherGrant}, []string{grantID}},
	} {
		r := e.portalCall("GET", "/api/portal", tc.principal, nil, nil)
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header["Content-Type"], "text/html") {
			t.Fatalf("%s: list: got %d %v", tc.name, r.Status, r.Header)
		}
		for _, s := range tc.sees {
			if !strings.Contains(r.Raw, s) {
				t.Errorf("%s: the list does not show %q", tc.name, s)
			}
		}
		for _, s := range tc.hides {
			if strings.Contains(r.Raw, s) {
				t.Errorf("%s: the list shows %q", tc.name, s)
			}
		}
		if !strings.Contains(r.Raw, `<svg class="timeline"`) || !strings.Contains(r.Raw, `class="today"`) {
			t.Errorf("%s: no timeline with a today line", tc.name)
		}
	}
	// The timeline marks the notice days ahead: the Contoso grant has 30
	// days left, so its 7- and 1-day notices.
	r := e.portalCall("GET", "/api/portal", adminA, nil, nil)
	for _, d := range []string{`data-days="7"`, `data-days="1"`} {
		if !strings.Contains(r.Raw, `class="notice" `+d) {
			t.Errorf("timeline: no notice mark %s", d)
		}
	}
	if r := e.portalCall("GET", "/api/portal?status=expired", operator, nil, nil); r.Status != 200 || strings.Contains(r.Raw, `data-grant="`+grantID) {
		t.Errorf("status filter: got %d, or an active grant is listed under expired", r.Status)
	}
	if r := e.portalCall("GET", "/api/portal?within=15", operator, nil, nil); r.Status != 200 || strings.Contains(r.Raw, `data-grant="`+grantID) ||
		!strings.Contains(r.Raw, `data-grant="`+otherGrant) {
		t.Errorf("ends within 15 days: got %d, want the 10-day grant only", r.Status)
	}
	if r := e.portalCall("GET", "/api/portal?customer="+otherCustomer, operator, nil, nil); r.Status != 200 || strings.Contains(r.Raw, `data-grant="`+grantID) ||
		!strings.Contains(r.Raw, `data-grant="`+otherGrant) {
		t.Errorf("customer filter: got %d, want the other customer's grant only", r.Status)
	}
	if r := e.portalCall("GET", "/api/portal?customer="+otherCustomer, adminA, nil, nil); r.Status != 200 || strings.Contains(r.Raw, otherGrant) {
		t.Errorf("a customer admin's customer filter: got %d, want it ignored", r.Status)
	}
	if r := e.portalCall("GET", "/api/portal?within=x", operator, nil, nil); r.Status != http.StatusBadRequest {
		t.Errorf("bad filter: got %d, want 400", r.Status)
	}

	// One grant: its trail, and what each may do.
	for _, tc := range []struct {
		name, principal, path string
		status                int
		actions               []string
	}{
		{"operator", operator, mine, 200, []string{"revoke", "extend"}},
		{"reader", reader, mine, 200, nil},
		{"admin A", adminA, mine, 200, []string{"revoke", "review"}},
		{"admin A, another tenant's grant", adminA, theirs, 404, nil},
		{"admin B, A's grant", adminB, mine, 404, nil},
		{"plain user", plainUser, mine, 403, nil},
	} {
		r := e.portalCall("GET", tc.path, tc.principal, nil, nil)
		if r.Status != tc.status {
			t.Errorf("%s: got %d, want %d", tc.name, r.Status, tc.status)
			continue
		}
		if tc.status != 200 {
			if strings.Contains(r.Raw, grantID) || strings.Contains(r.Raw, otherGrant) {
				t.Errorf("%s: the refusal names the grant", tc.name)
			}
			continue
		}
		f := forms(r.Raw)
		if len(f) != len(tc.actions) {
			t.Errorf("%s: forms %v, want %v", tc.name, f, tc.actions)
		}
		for _, a := range tc.actions {
			if _, ok := f[a]; !ok {
				t.Errorf("%s: no %s form", tc.name, a)
			}
		}
		if !strings.Contains(r.Raw, `id="trail"`) || !strings.Contains(r.Raw, "activate") {
			t.Errorf("%s: the grant page has no trail with its activation", tc.name)
		}
	}
	if r := e.portalCall("GET", "/api/portal/nothing/here", operator, nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown page: got %d, want 404", r.Status)
	}
}

func TestPortalPostsNeedTheirTokenAndOrigin(t *testing.T) {
	e, grantID := portalEnv(t)
	mine := "/api/portal/grants/" + customerTenant + "/" + grantID
	f := forms(e.portalCall("GET", mine, adminA, nil, nil).Raw)
	revoke := f["revoke"]
	opForms := forms(e.portalCall("GET", mine, operator, nil, nil).Raw)
	readerToken := e.deps.formToken(mustPrincipal(t, reader), actRevoke, customerTenant, grantID, time.Now())
	for _, tc := range []struct {
		name, principal string
		form            url.Values
		headers         map[string]string
		want            int
	}{
		{"no token", adminA, url.Values{}, nil, 403},
		{"forged token", adminA, url.Values{"token": {"1700000000.AAAA"}}, nil, 403},
		{"the operator's token", adminA, url.Values{"token": {opForms["revoke"][1]}}, nil, 403},
		{"cross-site", adminA, url.Values{"token": {revoke[1]}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin", adminA, url.Values{"token": {revoke[1]}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": ""}, 403},
		{"null origin", adminA, url.Values{"token": {revoke[1]}}, map[string]string{"Origin": "null"}, 403},
		{"reader with a token of its own", reader, url.Values{"token": {readerToken}}, nil, 403},
		{"another tenant's admin", adminB, url.Values{"token": {revoke[1]}}, nil, 404},
		{"no principal", "", url.Values{"token": {revoke[1]}}, nil, 401},
	} {
		r := e.portalCall("POST", mine+"/revoke", tc.principal, tc.form, tc.headers)
		if r.Status != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, r.Status, tc.want)
		}
		if g := e.grant(grantID); g.Status != access.StatusActive {
			t.Fatalf("%s: the grant is %s, want it untouched", tc.name, g.Status)
		}
	}
	// The review form's token does not revoke.
	if r := e.portalCall("POST", mine+"/revoke", adminA, url.Values{"token": {f["review"][1]}}, nil); r.Status != 403 {
		t.Errorf("the review's token on revoke: got %d, want 403", r.Status)
	}
	// An admin may not extend, even with a token made for them.
	extendToken := e.deps.formToken(mustPrincipal(t, adminA), actExtend, customerTenant, grantID, time.Now())
	if r := e.portalCall("POST", mine+"/extend", adminA, url.Values{"token": {extendToken}, "days": {"90"}}, nil); r.Status != 403 {
		t.Errorf("admin extends: got %d, want 403", r.Status)
	}
}

func TestPortalActionsAreAuditedWithThePerson(t *testing.T) {
	e, grantID := portalEnv(t)
	mine := "/api/portal/grants/" + customerTenant + "/" + grantID

	// The operator extends.
	ext := forms(e.portalCall("GET", mine, operator, nil, nil).Raw)["extend"]
	r := e.portalCall("POST", ext[0], operator, url.Values{"token": {ext[1]}, "days": {"60"}}, nil)
	if r.Status != http.StatusSeeOther || r.Header["Location"] != mine {
		t.Fatalf("extend: got %d %v %s, want 303 to the grant", r.Status, r.Header, r.Raw)
	}
	if g := e.grant(grantID); !g.ExpiresAt.Equal(access.WholeSeconds(e.clock.Now().Add(60 * access.Day))) {
		t.Errorf("extend: ends %s, want 60 days from now", g.ExpiresAt)
	}
	if r := e.portalCall("POST", ext[0], operator, url.Values{"token": {ext[1]}, "days": {"4000"}}, nil); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("extend past the cap: got %d, want 422", r.Status)
	}

	// The customer's admin keeps it at review, then revokes it.
	f := forms(e.portalCall("GET", mine, adminA, nil, nil).Raw)
	if r := e.portalCall("POST", f["review"][0], adminA, url.Values{"token": {f["review"][1]}, "decision": {"keep"}}, nil); r.Status != http.StatusSeeOther {
		t.Fatalf("review keep: got %d %s", r.Status, r.Raw)
	}
	mails := len(e.mails())
	if r := e.portalCall("POST", f["revoke"][0], adminA, url.Values{"token": {f["revoke"][1]}}, nil); r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: got %d %s", r.Status, r.Raw)
	}
	// The same form again (a double click) changes nothing more.
	if r := e.portalCall("POST", f["revoke"][0], adminA, url.Values{"token": {f["revoke"][1]}}, nil); r.Status != http.StatusSeeOther {
		t.Errorf("revoke sent twice: got %d %s, want 303 again", r.Status, r.Raw)
	}
	g := e.grant(grantID)
	if g.Status != access.StatusRevoked {
		t.Fatalf("after revoke: %s", g.Status)
	}
	if roles := e.rolesOf(customerTenant, g.PrincipalID); len(roles) != 0 {
		t.Errorf("roles after the portal's revoke: %v, want none", roles)
	}
	if len(e.mails()) <= mails {
		t.Errorf("the revocation sent no mail")
	}
	var seen = map[string]string{}
	for _, a := range e.audit(grantID) {
		seen[a.Action] = a.Detail
	}
	for action, person := range map[string]string{"extend": "Olivia Operator <oid 0e000000-0000-4000-8000-000000000001",
		"review": "Megan Bowen <oid c0000000-0000-4000-8000-00000000000a", "revoke": "Megan Bowen <oid c0000000-0000-4000-8000-00000000000a"} {
		if !strings.Contains(seen[action], person) {
			t.Errorf("audit %s: %q, want it to name %s", action, seen[action], person)
		}
	}
	page := e.portalCall("GET", mine, adminA, nil, nil)
	if !strings.Contains(page.Raw, "Megan Bowen") || len(forms(page.Raw)) != 0 {
		t.Errorf("the revoked grant's page: want the trail naming the admin and no forms")
	}
}

func TestPortalTrustsThePrincipalOnlyBehindSignIn(t *testing.T) {
	e, _ := portalEnv(t)
	d := e.deps
	d.Config.GraphAuth = "clientsecret" // not a local run
	h := Routes(d)
	call := func() int {
		e.handler = h
		return e.portalCall("GET", "/api/portal", operator, nil, nil).Status
	}
	if got := call(); got != http.StatusServiceUnavailable {
		t.Errorf("WEBSITE_AUTH_ENABLED unset: got %d, want 503", got)
	}
	d.Config.WebsiteAuthEnabled = "True"
	h = Routes(d)
	if got := call(); got != http.StatusOK {
		t.Errorf("WEBSITE_AUTH_ENABLED=True: got %d, want 200", got)
	}
}

func mustPrincipal(t *testing.T, header string) principal {
	t.Helper()
	p, err := decodePrincipal(header)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
