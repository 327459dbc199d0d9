package functions

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// PrincipalHeader is the header App Service Authentication injects with
// the signed-in person (DESIGN.md section 12).
const PrincipalHeader = "X-Ms-Client-Principal"

// App roles of the portal's app registration, and the directory roles
// (template ids, the wids claim) that make a customer's admin.
const (
	RoleOperator = "Access.Operator"
	RoleReader   = "Access.Reader"

	widGlobalAdmin         = "62e90394-69f5-4237-9190-012177145e10"
	widPrivilegedRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	widSecurityAdmin       = "194ae4cb-b126-40b2-bd5b-6091b380977d"
)

// Claim types by their long names, as App Service writes them when it maps
// the token's claims (the short names are read too).
var claimNames = map[string][]string{
	"tid":                {"tid", "http://schemas.microsoft.com/identity/claims/tenantid"},
	"oid":                {"oid", "http://schemas.microsoft.com/identity/claims/objectidentifier"},
	"roles":              {"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"},
	"wids":               {"wids", "http://schemas.microsoft.com/ws/2008/06/identity/claims/wids"},
	"name":               {"name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"},
	"preferred_username": {"preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"},
}

// principal is the signed-in person as the header tells.
type principal struct {
	TenantID string
	ObjectID string
	Name     string
	Username string
	Roles    []string
	Wids     []string
}

// clientPrincipal is the header's JSON.
type clientPrincipal struct {
	AuthType string `json:"auth_typ"`
	Claims   []struct {
		Type  string `json:"typ"`
		Value string `json:"val"`
	} `json:"claims"`
	NameType string `json:"name_typ"`
	RoleType string `json:"role_typ"`
}

// decodePrincipal reads X-MS-CLIENT-PRINCIPAL: base64 (padded or not,
// standard or URL alphabet) of the JSON above. A principal without tenant
// and object id is an error: nothing can be decided for it.
func decodePrincipal(header string) (principal, error) {
	header = strings.TrimSpace(header)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(header); err == nil {
			break
		}
	}
	if err != nil {
		return principal{}, fmt.Errorf("the principal header is not base64: %w", err)
	}
	var cp clientPrincipal
	if err := json.Unmarshal(raw, &cp); err != nil {
		return principal{}, fmt.Errorf("the principal header is not the client principal's JSON: %w", err)
	}
	values := map[string][]string{}
	for _, c := range cp.Claims {
		short := shortClaim(c.Type, cp)
		if short == "" {
			continue
		}
		values[short] = append(values[short], claimValues(c.Value)...)
	}
	first := func(k string) string {
		if v := values[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	p := principal{TenantID: lower(first("tid")), ObjectID: lower(first("oid")), Name: first("name"),
		Username: first("preferred_username"), Roles: values["roles"], Wids: lowerAll(values["wids"])}
	if p.TenantID == "" || p.ObjectID == "" {
		return principal{}, fmt.Errorf("the principal has no tenant id or object id claim")
	}
	return p, nil
}

// shortClaim names a claim type by its short name, or "" for one the
// portal does not read. The header's own name_typ and role_typ count too.
func shortClaim(typ string, cp clientPrincipal) string {
	for short, names := range claimNames {
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, typ) }) {
			return short
		}
	}
	switch {
	case cp.RoleType != "" && strings.EqualFold(typ, cp.RoleType):
		return "roles"
	case cp.NameType != "" && strings.EqualFold(typ, cp.NameType):
		return "name"
	}
	return ""
}

// claimValues splits a claim's value: one value, or a JSON array of them
// (how some token mappings write roles and wids).
func claimValues(v string) []string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		var list []string
		if json.Unmarshal([]byte(v), &list) == nil {
			return list
		}
	}
	return []string{v}
}

func lowerAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = lower(s)
	}
	return out
}

// display is the person as shown and audited.
func (p principal) display() string {
	return firstNonEmpty(firstNonEmpty(p.Name, p.Username), p.ObjectID)
}

// actor is the person as the audit trail records them: name and object id.
func (p principal) actor() string {
	return fmt.Sprintf("%s <oid %s, tid %s> (portal)", p.display(), p.ObjectID, p.TenantID)
}

// viewerKind is what the portal lets a principal do.
type viewerKind int

const (
	viewerNone     viewerKind = iota // anyone else: 403
	viewerReader                     // the MSSP's Access.Reader: sees every customer
	viewerOperator                   // the MSSP's Access.Operator: sees and changes every customer
	viewerCustomer                   // a customer tenant's admin: that tenant only
)

// viewer is a signed-in principal and what they may see and do.
type viewer struct {
	principal
	kind viewerKind
}

// authorize decides who p is to the portal: an operator or reader of the
// partner tenant by app role, a customer's admin by directory role.
func authorize(p principal, partnerTenantID string) viewer {
	v := viewer{principal: p}
	if p.TenantID == lower(partnerTenantID) {
		switch {
		case slices.Contains(p.Roles, RoleOperator):
			v.kind = viewerOperator
		case slices.Contains(p.Roles, RoleReader):
			v.kind = viewerReader
		}
		return v
	}
	if access.IsGUID(p.TenantID) && slices.ContainsFunc(p.Wids, func(w string) bool {
		return w == widGlobalAdmin || w == widPrivilegedRoleAdmin || w == widSecurityAdmin
	}) {
		v.kind = viewerCustomer
	}
	return v
}

// operatorSide is true for the MSSP's people.
func (v viewer) operatorSide() bool { return v.kind == viewerOperator || v.kind == viewerReader }

// sees reports whether the viewer may see customer's grants.
func (v viewer) sees(customer string) bool {
	return v.operatorSide() || (v.kind == viewerCustomer && v.TenantID == customer)
}

// may reports whether the viewer may take action on a grant of customer.
func (v viewer) may(action, customer string) bool {
	switch action {
	case actRevoke:
		return v.kind == viewerOperator || (v.kind == viewerCustomer && v.TenantID == customer)
	case actExtend:
		return v.kind == viewerOperator
	case actReview:
		return v.kind == viewerCustomer && v.TenantID == customer
	}
	return false
}

// role names the viewer's kind for the page.
func (v viewer) role() string {
	switch v.kind {
	case viewerOperator:
		return "operator"
	case viewerReader:
		return "reader"
	case viewerCustomer:
		return "customer admin"
	}
	return "no access"
}
