package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestSignInPassesTheChosenPersonAsAppServiceWould(t *testing.T) {
	si := newSignIn(map[string]string{"PARTNER_TENANT_ID": "11112222-3333-4444-5555-666677778888"})

	page := httptest.NewRecorder()
	si.login(page, httptest.NewRequest("GET", "/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fportal%3Fstatus%3Dactive", nil))
	for _, want := range []string{`id="fabrikam-operator"`, `id="contoso-admin"`, `id="contoso-user"`, `value="/api/portal?status=active"`} {
		if !strings.Contains(page.Body.String(), want) {
			t.Errorf("sign-in page: no %s", want)
		}
	}

	form := url.Values{"person": {"contoso-admin"}, "post_login_redirect_uri": {"/api/portal?status=active"}}
	req := httptest.NewRequest("POST", "/.auth/login/aad", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := httptest.NewRecorder()
	si.login(res, req)
	if res.Code != http.StatusFound || res.Header().Get("Location") != "/api/portal?status=active" {
		t.Fatalf("sign in: got %d to %q", res.Code, res.Header().Get("Location"))
	}
	cookies := res.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != signinCookie || !cookies[0].HttpOnly {
		t.Fatalf("cookie: %+v", cookies)
	}

	// The cookie becomes the principal header, replacing any the client sent.
	call := httptest.NewRequest("GET", "/api/portal", nil)
	call.AddCookie(cookies[0])
	call.Header.Set(principalHeader, "forged")
	si.apply(call)
	raw, err := base64.StdEncoding.DecodeString(call.Header.Get(principalHeader))
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var cp struct {
		Claims []struct{ Typ, Val string }
	}
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	claims := map[string]string{}
	for _, c := range cp.Claims {
		claims[c.Typ] = c.Val
	}
	if claims["http://schemas.microsoft.com/identity/claims/tenantid"] != demoCustomerTenant || claims["wids"] != widSecurityAdmin || claims["name"] != "Megan Bowen" {
		t.Errorf("claims: %v", claims)
	}

	// Only a path on this host is a redirect target.
	for _, bad := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", ""} {
		if got := localRedirect(bad); got != "/api/portal" {
			t.Errorf("redirect %q: got %q", bad, got)
		}
	}
	bad := httptest.NewRequest("POST", "/.auth/login/aad", strings.NewReader("person=nobody"))
	bad.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	si.login(rec, bad)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("unknown person: got %d, want 400", rec.Code)
	}
}
