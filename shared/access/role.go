package access

import (
	"sort"
	"strings"
)

// Role is a Microsoft Entra directory role, by template id.
type Role struct {
	ID   string // role template id (the same in every tenant)
	Name string // display name
	// Privileged roles can change who has access; they are never part of the
	// default policy.
	Privileged bool
}

// Directory role template ids used by the product.
const (
	SecurityReaderID        = "5d6b6bb7-de71-4623-b4af-96380a352509"
	SecurityOperatorID      = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"
	SecurityAdministratorID = "194ae4cb-b126-40b2-bd5b-6091b380977d"
	GlobalAdministratorID   = "62e90394-69f5-4237-9190-012177145e10"
)

// Roles is the catalogue of directory roles the product knows by name.
var Roles = []Role{
	{ID: SecurityReaderID, Name: "Security Reader"},
	{ID: SecurityOperatorID, Name: "Security Operator"},
	{ID: SecurityAdministratorID, Name: "Security Administrator", Privileged: true},
	{ID: GlobalAdministratorID, Name: "Global Administrator", Privileged: true},
}

// DefaultAllowedRoles are the least-privileged roles Microsoft's guide asks
// an MSSP to request for Security Copilot.
var DefaultAllowedRoles = []string{SecurityReaderID, SecurityOperatorID}

// LookupRole finds a role of the catalogue by template id or display name
// (case-insensitive, spaces optional). ok is false for anything else.
func LookupRole(s string) (Role, bool) {
	key := roleKey(s)
	for _, r := range Roles {
		if strings.EqualFold(r.ID, strings.TrimSpace(s)) || roleKey(r.Name) == key {
			return r, true
		}
	}
	return Role{}, false
}

func roleKey(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// RoleName returns the display name of a role template id, or the id itself
// when the catalogue does not know it.
func RoleName(id string) string {
	if r, ok := LookupRole(id); ok {
		return r.Name
	}
	return id
}

// NormalizeRoles resolves names and ids to template ids, lower-cased,
// de-duplicated and sorted. A value that is neither a known name nor a GUID is
// a field problem; a GUID the catalogue does not know is kept (policy decides
// whether it may be granted).
func NormalizeRoles(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, Invalid("no roles requested", map[string]string{"roles": "at least one role is required"})
	}
	seen := map[string]bool{}
	var out []string
	for i, s := range in {
		id := ""
		if r, ok := LookupRole(s); ok {
			id = r.ID
		} else if IsGUID(s) {
			id = strings.ToLower(strings.TrimSpace(s))
		} else {
			return nil, Invalid("unknown role", map[string]string{
				"roles[" + itoa(i) + "]": "unknown role " + quoteShort(s) + ": use a role template id or a display name such as \"Security Reader\"",
			})
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}
