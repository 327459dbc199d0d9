package functions

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestDecodePrincipalReadsShortAndLongClaimNames(t *testing.T) {
	short := base64.RawURLEncoding.EncodeToString([]byte(`{"auth_typ":"aad","claims":[{"typ":"tid","val":"AAAABBBB-0000-CCCC-1111-DDDD2222EEEE"},
		{"typ":"oid","val":"c0000000-0000-4000-8000-00000000000a"},{"typ":"preferred_username","val":"megan@contoso.example"},
		{"typ":"wids","val":"[\"194ae4cb-b126-40b2-bd5b-6091b380977d\",\"b79fbf4d-3ef9-4689-8143-76b194e85509\"]"},
		{"typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role","val":"Access.Reader"}],
		"name_typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name","role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}`))
	p, err := decodePrincipal(short)
	if err != nil {
		t.Fatal(err)
	}
	if p.TenantID != customerTenant || p.ObjectID != "c0000000-0000-4000-8000-00000000000a" || p.display() != "megan@contoso.example" ||
		len(p.Wids) != 2 || len(p.Roles) != 1 || p.Roles[0] != "Access.Reader" {
		t.Errorf("principal: %+v", p)
	}
	if v := authorize(p, partnerTenant); v.kind != viewerCustomer || !v.sees(customerTenant) || v.sees(otherCustomer) || v.may(actExtend, customerTenant) {
		t.Errorf("a customer's Security Administrator: %+v", v)
	}
	for _, bad := range []string{"", "%%%", base64.StdEncoding.EncodeToString([]byte(`[]`)),
		base64.StdEncoding.EncodeToString([]byte(`{"claims":[{"typ":"name","val":"No Ids"}]}`))} {
		if _, err := decodePrincipal(bad); err == nil {
			t.Errorf("decodePrincipal(%q): want an error", bad)
		}
	}
}

func TestPortalTokenIsBoundToPrincipalActionAndGrant(t *testing.T) {
	var d Deps
	d.Config.PortalTokenSecret = "portal-token-key-for-tests-0123456789"
	a := principal{TenantID: customerTenant, ObjectID: "a"}
	b := principal{TenantID: customerTenant, ObjectID: "b"}
	now := timeNow()
	tok := d.formToken(a, actRevoke, customerTenant, "b2b:x", now)
	if !d.checkToken(tok, a, actRevoke, customerTenant, "b2b:x", now) {
		t.Fatal("the token does not check")
	}
	for name, ok := range map[string]bool{
		"another principal": d.checkToken(tok, b, actRevoke, customerTenant, "b2b:x", now),
		"another action":    d.checkToken(tok, a, actExtend, customerTenant, "b2b:x", now),
		"another grant":     d.checkToken(tok, a, actRevoke, customerTenant, "b2b:y", now),
		"expired":           d.checkToken(tok, a, actRevoke, customerTenant, "b2b:x", now.Add(tokenLife+1e9)),
		"another key": func() bool {
			e := d
			e.Config.PortalTokenSecret = "another-portal-token-key-0123456789ab"
			return e.checkToken(tok, a, actRevoke, customerTenant, "b2b:x", now)
		}(),
	} {
		if ok {
			t.Errorf("%s: the token checks", name)
		}
	}
}

func timeNow() time.Time { return time.Now() }
