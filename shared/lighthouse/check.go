package lighthouse

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Limits of eligible authorizations, from Microsoft's "Create eligible
// authorizations" guide for Azure Lighthouse.
const (
	minActivation = 30 * time.Minute
	maxActivation = 8 * time.Hour
	maxApprovers  = 10
)

// Values the justInTimeAccessPolicy takes for multiFactorAuthProvider.
const (
	mfaAzure = "Azure"
	mfaNone  = "None"
)

// nilGUID is the placeholder of Microsoft's sample parameter files; a real
// tenant or principal never has it, so it means someone forgot to fill in a
// value.
const nilGUID = "00000000-0000-0000-0000-000000000000"

// offer is an Offer that passed check: GUIDs lower case, roles resolved to
// catalogue ids, durations canonical.
type offer struct {
	name, description, tenantID   string
	subscriptionID, resourceGroup string
	authorizations                []authorizationJSON
	eligible                      []eligibleJSON
}

// check validates o, then applies the policy, and returns o normalized.
// Field problems come first: a refusal is only meaningful for an offer that
// could otherwise be deployed.
func check(o Offer) (offer, error) {
	c := checker{invalid: map[string]string{}, refused: map[string]string{}, reads: map[string]bool{}}
	n := offer{
		name:           strings.TrimSpace(o.MSPOfferName),
		description:    strings.TrimSpace(o.MSPOfferDescription),
		tenantID:       c.guid("managedByTenantId", o.ManagedByTenantID),
		subscriptionID: c.guid("scope.subscriptionId", o.Scope.SubscriptionID),
		resourceGroup:  strings.TrimSpace(o.Scope.ResourceGroup),
	}
	if n.name == "" {
		c.add("mspOfferName", "is required: the customer sees it under Service providers")
	}
	c.text("mspOfferName", n.name)
	c.text("mspOfferDescription", n.description)
	if o.Scope.ResourceGroup != "" {
		c.resourceGroup("scope.resourceGroup", n.resourceGroup)
	}
	if len(o.Authorizations) == 0 {
		c.add("authorizations", "at least one permanent authorization is required")
	}
	// Permanent authorizations first: the eligible ones are checked against
	// them.
	n.authorizations = c.authorizations(o.Authorizations)
	n.eligible = c.eligible(o.EligibleAuthorizations)

	if len(c.invalid) > 0 {
		return offer{}, access.Invalid("invalid Lighthouse offer", c.invalid)
	}
	if len(c.refused) > 0 {
		var msgs []string
		for f, why := range c.refused {
			msgs = append(msgs, f+": "+why)
		}
		sort.Strings(msgs) // one message for one offer, whatever the map order
		return offer{}, &access.Error{Kind: access.KindRefused, Code: "RoleNotAllowed",
			Msg: "refused by policy: " + strings.Join(msgs, "; "), Fields: c.refused}
	}
	return n, nil
}

// checker collects field problems (invalid) and refusals, keyed by the
// field path of the template's parameters, so a caller can point at the
// value to fix. A request outside policy is refused whole, naming every
// offending role, never trimmed.
type checker struct {
	invalid map[string]string
	refused map[string]string
	// reads holds the principals with a permanent role that reads, or with
	// one the policy refuses anyway (asking for a reading role as well
	// would only hide the refusal behind a field problem).
	reads map[string]bool
}

func (c *checker) add(field, msg string) {
	if _, dup := c.invalid[field]; !dup { // the first problem of a field is the one to fix first
		c.invalid[field] = msg
	}
}

// role resolves a role field (catalogue name or id) to a lower-case id, or
// "" after recording a problem. It records a refusal for a role that can
// grant access to others or that the catalogue does not offer.
func (c *checker) role(field, s string) string {
	if r, ok := LookupRole(s); ok {
		if r.Refused {
			c.refused[field] = fmt.Sprintf("%s (%s) can grant access to others and is never delegated", r.Name, r.ID)
		}
		return r.ID
	}
	id := strings.ToLower(strings.TrimSpace(s))
	if !access.IsGUID(id) {
		c.add(field, fmt.Sprintf("%s is neither a role definition id nor a role name the product knows", quote(s)))
		return ""
	}
	c.refused[field] = fmt.Sprintf("role %s is not one the product offers through Lighthouse", id)
	return id
}

// principalRole checks the principal and the role of authorization f (a
// permanent or an eligible one) and returns them as the template writes
// them, with the display name trimmed.
func (c *checker) principalRole(f, principal, display, role string) (string, string, string) {
	return c.guid(f+".principalId", principal), strings.TrimSpace(display), c.role(f+".roleDefinitionId", role)
}

func (c *checker) authorizations(in []Authorization) []authorizationJSON {
	var out []authorizationJSON
	seen := map[string]bool{}
	for i, a := range in {
		f := fmt.Sprintf("authorizations[%d]", i)
		var j authorizationJSON
		j.PrincipalID, j.PrincipalIDDisplayName, j.RoleDefinitionID = c.principalRole(f, a.PrincipalID, a.PrincipalDisplayName, a.RoleDefinitionID)
		c.text(f+".principalIdDisplayName", j.PrincipalIDDisplayName)
		if j.PrincipalID != "" && j.RoleDefinitionID != "" {
			k := j.PrincipalID + "/" + j.RoleDefinitionID
			if seen[k] {
				c.add(f, "repeats an earlier authorization of the same principal and role")
			}
			seen[k] = true
			if r, known := LookupRole(j.RoleDefinitionID); !known || r.Reads || r.Refused {
				c.reads[j.PrincipalID] = true
			}
		}
		out = append(out, j)
	}
	return out
}

func (c *checker) eligible(in []EligibleAuthorization) []eligibleJSON {
	var out []eligibleJSON
	seen := map[string]bool{}
	policies := map[string]jitPolicy{} // role id -> first access policy seen
	for i, e := range in {
		f := fmt.Sprintf("eligibleAuthorizations[%d]", i)
		var j eligibleJSON
		j.PrincipalID, j.PrincipalIDDisplayName, j.RoleDefinitionID = c.principalRole(f, e.PrincipalID, e.PrincipalDisplayName, e.RoleDefinitionID)
		j.JustInTimeAccessPolicy = c.policy(f, e)
		if j.PrincipalIDDisplayName == "" {
			c.add(f+".principalIdDisplayName", "is required for an eligible authorization")
		}
		c.text(f+".principalIdDisplayName", j.PrincipalIDDisplayName)
		if j.PrincipalID != "" && !c.reads[j.PrincipalID] {
			c.add(f+".principalId", "needs a permanent authorization with a role that reads (such as Microsoft Sentinel Reader) "+
				"for the same principal: without one it cannot activate the eligible role from the Azure portal")
		}
		if j.PrincipalID != "" && j.RoleDefinitionID != "" {
			k := j.PrincipalID + "/" + j.RoleDefinitionID
			if seen[k] {
				c.add(f, "repeats an earlier eligible authorization of the same principal and role")
			}
			seen[k] = true
		}
		// Lighthouse takes one access policy per role across the eligible
		// authorizations of an offer.
		if j.RoleDefinitionID != "" && j.JustInTimeAccessPolicy.MaximumActivationDuration != "" {
			if first, ok := policies[j.RoleDefinitionID]; !ok {
				policies[j.RoleDefinitionID] = j.JustInTimeAccessPolicy
			} else if !first.equal(j.JustInTimeAccessPolicy) {
				c.add(f+".justInTimeAccessPolicy", "differs from an earlier eligible authorization of the same role: "+
					"Lighthouse needs one access policy per role")
			}
		}
		out = append(out, j)
	}
	return out
}

// policy builds the just-in-time access policy of an eligible
// authorization at field f.
func (c *checker) policy(f string, e EligibleAuthorization) jitPolicy {
	p := jitPolicy{
		MultiFactorAuthProvider:   mfaNone,
		MaximumActivationDuration: c.activation(f+".maximumActivationDuration", e.MaximumActivation),
	}
	if e.RequireMFA {
		p.MultiFactorAuthProvider = mfaAzure
	}
	if len(e.Approvers) > maxApprovers {
		c.add(f+".approvers", fmt.Sprintf("at most %d approvers, not %d", maxApprovers, len(e.Approvers)))
	}
	seen := map[string]bool{}
	for k, a := range e.Approvers {
		af := fmt.Sprintf("%s.approvers[%d]", f, k)
		id := c.guid(af, a)
		if id != "" && seen[id] {
			c.add(af, "repeats an earlier approver")
		}
		seen[id] = true
		p.ManagedByTenantApprovers = append(p.ManagedByTenantApprovers, approver{PrincipalID: id})
	}
	return p
}

// guid returns s as a lower-case GUID, or "" after recording a problem.
func (c *checker) guid(field, s string) string {
	id := strings.ToLower(strings.TrimSpace(s))
	switch {
	case id == "":
		c.add(field, "is required")
	case !access.IsGUID(id):
		c.add(field, fmt.Sprintf("%s is not a GUID", quote(s)))
	case id == nilGUID:
		c.add(field, "is the nil GUID, a placeholder: use the real object id")
	default:
		return id
	}
	return ""
}

// text refuses free text that ARM would not take literally: a string
// that starts with "[" and ends with "]" is evaluated as an expression in a
// template, and control characters have no place in a name a customer reads.
func (c *checker) text(field, s string) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		c.add(field, "must not be wrapped in [ ]: ARM would evaluate it as a template expression")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		c.add(field, "must not contain control characters")
	}
}

// resourceGroup checks Azure's resource group naming rules: 1 to 90
// letters, digits, underscores, hyphens, periods and parentheses, not
// ending with a period.
func (c *checker) resourceGroup(field, s string) {
	switch {
	case s == "":
		c.add(field, "is empty")
	case len([]rune(s)) > 90:
		c.add(field, "is longer than 90 characters")
	case strings.HasSuffix(s, "."):
		c.add(field, "must not end with a period")
	case strings.IndexFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.()", r))
	}) >= 0:
		c.add(field, fmt.Sprintf("%s may hold only letters, digits, and _ - . ( )", quote(s)))
	}
}

// activation returns a maximum activation duration in canonical form, the
// default for "", or "" after recording a problem.
func (c *checker) activation(field, s string) string {
	if strings.TrimSpace(s) == "" {
		return DefaultMaximumActivation
	}
	d, err := parseDuration(strings.TrimSpace(s))
	if err != nil {
		c.add(field, err.Error())
		return ""
	}
	if d < minActivation || d > maxActivation {
		c.add(field, fmt.Sprintf("%s is outside PT30M..PT8H, the activation lengths Lighthouse allows", quote(s)))
		return ""
	}
	return formatDuration(d)
}

// parseDuration reads the ISO 8601 durations an activation length can take:
// P[nD][T[nH][nM][nS]] with whole numbers. Years, months and weeks are
// refused: their length is ambiguous and far beyond any activation anyway.
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%s is not an ISO 8601 duration such as PT8H or PT1H30M", quote(s))
	if len(s) < 3 || s[0] != 'P' {
		return 0, bad
	}
	rest := s[1:]
	var total time.Duration
	units := "D"
	inTime := false
	found := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime, units, rest = true, "HMS", rest[1:]
			if rest == "" {
				return 0, bad // "PT" alone, or "P1DT"
			}
			continue
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(rest) { // no digits, an absurd number, or no unit
			return 0, bad
		}
		n, _ := strconv.Atoi(rest[:i])
		u := strings.IndexByte(units, rest[i])
		if u < 0 {
			return 0, bad
		}
		unit := map[byte]time.Duration{'D': 24 * time.Hour, 'H': time.Hour, 'M': time.Minute, 'S': time.Second}[rest[i]]
		total += time.Duration(n) * unit
		units, rest, found = units[u+1:], rest[i+1:], true // units must come in order, each once
	}
	if !found {
		return 0, bad
	}
	return total, nil
}

// formatDuration writes d (whole seconds, under a day) as PTnHnMnS without
// zero parts, so that PT90M and PT1H30M render the same template.
func formatDuration(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	out := "PT"
	if h > 0 {
		out += strconv.Itoa(h) + "H"
	}
	if m > 0 {
		out += strconv.Itoa(m) + "M"
	}
	if s > 0 || out == "PT" {
		out += strconv.Itoa(s) + "S"
	}
	return out
}

// quote quotes s for an error message, cut to a length that keeps a hostile
// value from flooding logs.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
