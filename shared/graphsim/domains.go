package graphsim

import (
	"net/http"
	"strings"
)

// Domain is a domain of a tenant ("domain resource type", Graph v1.0).
type Domain struct {
	ID         string `json:"id"` // the domain name, e.g. fabrikam.example
	IsVerified bool   `json:"isVerified"`
	IsDefault  bool   `json:"isDefault,omitempty"`
	IsInitial  bool   `json:"isInitial,omitempty"`
}

// domainsOf returns the tenant's domains: the seed's, and the initial
// onmicrosoft.com domain, which every tenant has, verified, and which is
// the default unless the seed makes another one default. The caller holds
// s.mu.
func domainsOf(t *Tenant) []Domain {
	out := []Domain{}
	initial, hasDefault := false, false
	for _, d := range t.Domains {
		d.ID = strings.ToLower(strings.TrimSpace(d.ID))
		if d.ID == "" {
			continue
		}
		if d.ID == strings.ToLower(t.Domain) {
			d.IsInitial, d.IsVerified, initial = true, true, true
		}
		hasDefault = hasDefault || d.IsDefault
		out = append(out, d)
	}
	if !initial && t.Domain != "" {
		out = append(out, Domain{ID: strings.ToLower(t.Domain), IsVerified: true, IsInitial: true})
	}
	if !hasDefault {
		for i := range out {
			if out[i].IsInitial {
				out[i].IsDefault = true
			}
		}
	}
	return out
}

// listDomains answers GET /domains ("List domains", Graph v1.0) with the
// caller's domains in Graph's shape.
func (s *Server) listDomains(c *graphCall) {
	value := []map[string]any{}
	for _, d := range domainsOf(c.tenant) {
		value = append(value, map[string]any{
			"id":                 d.ID,
			"authenticationType": "Managed",
			"isAdminManaged":     true,
			"isDefault":          d.IsDefault,
			"isInitial":          d.IsInitial,
			"isRoot":             true,
			"isVerified":         d.IsVerified,
			"supportedServices":  []string{"Email", "OfficeCommunicationsOnline"},
		})
	}
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{
		"@odata.context": odataContext + "domains",
		"value":          value,
	})
}
