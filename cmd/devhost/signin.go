package main

import (
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

// The local stand-in for App Service Authentication (DESIGN.md section
// 12): /.auth/login/aad offers the demo people, and the one chosen is kept
// in a cookie that devhost turns into the X-MS-CLIENT-PRINCIPAL header of
// every request it passes on, as App Service does after an Entra sign-in.
// It signs nobody in for real: it is for local runs, where the handler
// trusts the header because Graph is the simulator (GRAPH_AUTH=none).

const (
	principalHeader = "X-Ms-Client-Principal"
	signinCookie    = "devhost_principal"
	// demoCustomerTenant is Contoso in the Graph simulator's demo seed.
	demoCustomerTenant = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	demoPartnerTenant  = "11112222-3333-4444-5555-666677778888"
	widSecurityAdmin   = "194ae4cb-b126-40b2-bd5b-6091b380977d"
	widGlobalReader    = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
)

// demoPerson is one person of the sign-in page.
type demoPerson struct {
	Key, Name, Username, About string
	TenantID, ObjectID         string
	Roles, Wids                []string
}

// signIn holds the demo people of this local run.
type signIn struct {
	people []demoPerson
}

// newSignIn lists the demo people: a Fabrikam operator and reader (the
// partner tenant of the settings), a Contoso admin and a Contoso user
// without an admin role (DEVHOST_DEMO_CUSTOMER_TENANT_ID, default the demo
// seed's Contoso).
func newSignIn(env map[string]string) *signIn {
	partner := firstSet(env["PARTNER_TENANT_ID"], demoPartnerTenant)
	customer := firstSet(env["DEVHOST_DEMO_CUSTOMER_TENANT_ID"], demoCustomerTenant)
	return &signIn{people: []demoPerson{
		{Key: "fabrikam-operator", Name: "Alex Operator", Username: "alex@fabrikam.example", About: "Fabrikam (the MSSP), app role Access.Operator: every customer, may revoke and extend",
			TenantID: partner, ObjectID: "f0000000-0000-4000-8000-0000000000a1", Roles: []string{"Access.Operator"}},
		{Key: "fabrikam-reader", Name: "Riley Reader", Username: "riley@fabrikam.example", About: "Fabrikam, app role Access.Reader: every customer, changes nothing",
			TenantID: partner, ObjectID: "f0000000-0000-4000-8000-0000000000a2", Roles: []string{"Access.Reader"}},
		{Key: "contoso-admin", Name: "Megan Bowen", Username: "megan@contoso.example", About: "Contoso, Security Administrator: Contoso's grants, may revoke and review",
			TenantID: customer, ObjectID: "c0000000-0000-4000-8000-0000000000a1", Wids: []string{widSecurityAdmin}},
		{Key: "contoso-user", Name: "Pat User", Username: "pat@contoso.example", About: "Contoso, no admin role: refused (403)",
			TenantID: customer, ObjectID: "c0000000-0000-4000-8000-0000000000a2", Wids: []string{widGlobalReader}},
	}}
}

func firstSet(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (si *signIn) person(key string) (demoPerson, bool) {
	for _, p := range si.people {
		if p.Key == key {
			return p, true
		}
	}
	return demoPerson{}, false
}

// header is the person's X-MS-CLIENT-PRINCIPAL, in App Service's shape.
func (p demoPerson) header() string {
	type claim struct {
		Typ string `json:"typ"`
		Val string `json:"val"`
	}
	claims := []claim{
		{"http://schemas.microsoft.com/identity/claims/tenantid", p.TenantID},
		{"http://schemas.microsoft.com/identity/claims/objectidentifier", p.ObjectID},
		{"name", p.Name},
		{"preferred_username", p.Username},
	}
	for _, r := range p.Roles {
		claims = append(claims, claim{"roles", r})
	}
	for _, w := range p.Wids {
		claims = append(claims, claim{"wids", w})
	}
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "claims": claims,
		"name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "role_typ": "roles"})
	return base64.StdEncoding.EncodeToString(b)
}

// apply sets the signed-in person's principal header on a request bound
// for the handler. Without the cookie the request goes on as it came, so
// that a local client can send a header of its own (App Service would
// strip it: in Azure only the platform's sign-in counts).
func (si *signIn) apply(r *http.Request) {
	c, err := r.Cookie(signinCookie)
	if err != nil {
		return
	}
	if p, ok := si.person(c.Value); ok {
		r.Header.Set(principalHeader, p.header())
	}
}

var signinPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in (local) · Copilot partner access</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:640px;margin:2rem auto;padding:0 1rem;color:#1b1f24}
form{border:1px solid #d6dbe1;border-radius:6px;padding:.75rem;margin:.75rem 0}button{font:inherit;padding:.3rem .8rem}
small{color:#5b6570;display:block}</style></head>
<body><h1>Sign in</h1>
<p>Local run: devhost stands in for App Service Authentication and Entra ID. Choose a demo person.</p>
{{range .People}}<form method="post" action="/.auth/login/aad">
<input type="hidden" name="person" value="{{.Key}}"><input type="hidden" name="post_login_redirect_uri" value="{{$.Redirect}}">
<button type="submit" id="{{.Key}}">{{.Name}}</button> <small>{{.Username}} · {{.About}}</small></form>
{{end}}</body></html>`))

// login is /.auth/login/aad: GET shows the demo people, POST signs the
// chosen one in and goes on to post_login_redirect_uri.
func (si *signIn) login(w http.ResponseWriter, r *http.Request) {
	redirect := localRedirect(r.FormValue("post_login_redirect_uri"))
	if r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = signinPage.Execute(w, map[string]any{"People": si.people, "Redirect": redirect})
		return
	}
	p, ok := si.person(r.PostFormValue("person"))
	if !ok {
		http.Error(w, "no such demo person", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: p.Key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, redirect, http.StatusFound)
}

// logout is /.auth/logout: forget the person, back to the sign-in page.
func (si *signIn) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fportal", http.StatusFound)
}

// localRedirect keeps a redirect on this host: a path, never another site.
func localRedirect(u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || strings.Contains(u, "\\") {
		return "/api/portal"
	}
	return u
}
