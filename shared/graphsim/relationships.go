package graphsim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDisplayName is the longest relationship display name, in characters
// ("delegatedAdminRelationship resource type", Graph v1.0, displayName:
// "Maximum length is 50 characters").
const maxDisplayName = 50

// displayNameProblem says why a new relationship cannot have this display
// name, or returns "". "delegatedAdminRelationship resource type" (Graph
// v1.0), displayName: "Must be unique across all delegated admin
// relationships of the partner", whatever their status, and at most 50
// characters. The simulator compares names without regard to case, the
// stricter reading.
func displayNameProblem(t *Tenant, name string) string {
	if n := utf8.RuneCountInString(name); n > maxDisplayName {
		return "The displayName must be at most " + strconv.Itoa(maxDisplayName) + " characters; it has " + strconv.Itoa(n) + "."
	}
	for _, r := range t.Relationships {
		if strings.EqualFold(r.DisplayName, name) {
			return "The displayName '" + name + "' is already used by the delegated admin relationship " + r.ID +
				"; display names must be unique across all of the partner's relationships."
		}
	}
	return ""
}

// Paging of GET /tenantRelationships/delegatedAdminRelationships. "List
// delegatedAdminRelationships" (Graph v1.0) supports $filter, $top ("up to
// 300 objects") and $skipToken; it does not document the default page
// size, so the simulator uses a smaller one, so that a client that ignores
// @odata.nextLink misses relationships here as it would against Graph.
const (
	relationshipPageSize = 100
	maxRelationshipTop   = 300
)

// relationshipFilterProps are the properties $filter may compare with eq.
var relationshipFilterProps = map[string]bool{"displayName": true, "status": true, "customer/tenantId": true}

// listRelationships lists the caller's relationships, filtered by $filter
// (eq on displayName, status or customer/tenantId, joined by and, with
// a quote inside a string doubled, as OData writes it) and paged with $top and
// @odata.nextLink as "List delegatedAdminRelationships" (Graph v1.0)
// describes.
func (s *Server) listRelationships(c *graphCall) {
	q := c.r.URL.Query()
	conds, ok := parseFilter(queryOption(q, "$filter"), relationshipFilterProps)
	if !ok {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest",
			"Invalid filter clause: only eq on displayName, status and customer/tenantId, joined by and, is supported.")
		return
	}
	size := relationshipPageSize
	if v := queryOption(q, "$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRelationshipTop {
			writeError(c.w, c.r, http.StatusBadRequest, "BadRequest",
				"Invalid value for $top: it must be an integer from 1 to "+strconv.Itoa(maxRelationshipTop)+".")
			return
		}
		size = n
	}
	skip := 0
	if v := queryOption(q, "$skiptoken"); v != "" {
		n, ok := parseSkipToken(v)
		if !ok {
			writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "The $skiptoken is not valid.")
			return
		}
		skip = n
	}
	var matched []Relationship
	for _, r := range c.tenant.Relationships {
		if conds.match(map[string]string{"displayName": r.DisplayName, "status": r.Status, "customer/tenantId": r.CustomerTenantID}) {
			matched = append(matched, r)
		}
	}
	value := []map[string]any{}
	for i := skip; i < len(matched) && i < skip+size; i++ {
		value = append(value, relationshipJSON(matched[i]))
	}
	out := map[string]any{
		"@odata.context": odataContext + relationshipsPath,
		"value":          value,
	}
	if skip+size < len(matched) {
		out["@odata.nextLink"] = nextLink(c.r, "$skiptoken", skipToken(skip+size))
	}
	writeJSON(c.w, c.r, http.StatusOK, out)
}

// queryOption reads an OData system query option, whose name Graph takes
// with or without the $ and in any case.
func queryOption(q url.Values, name string) string {
	bare := strings.TrimPrefix(name, "$")
	for k, v := range q {
		if len(v) > 0 && (strings.EqualFold(k, name) || strings.EqualFold(k, bare)) {
			return v[0]
		}
	}
	return ""
}

// skipToken makes the opaque token of the page that starts at offset.
func skipToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("graphsim:" + strconv.Itoa(offset)))
}

func parseSkipToken(tok string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "graphsim:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(raw), "graphsim:") {
		return 0, false
	}
	return n, true
}

// nextLink is the request's own absolute URL with one query option
// replaced, as Graph's @odata.nextLink keeps the query of the first page.
func nextLink(r *http.Request, option, value string) string {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		if !strings.EqualFold(strings.TrimPrefix(k, "$"), strings.TrimPrefix(option, "$")) {
			q[k] = v
		}
	}
	q.Set(option, value)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
}

// deleteRelationship deletes a relationship. "Delete
// delegatedAdminRelationship" (Graph v1.0): "A relationship can only be
// deleted if it's in the created status", and the If-Match header with the
// last known ETag is required. A missing If-Match is refused with 400, a
// stale one with 412 (checked first: a precondition is evaluated before
// the request), any status but created with 400; success is 204.
func (s *Server) deleteRelationship(c *graphCall) {
	r := relationshipOr404(c)
	if r == nil {
		return
	}
	if strings.TrimSpace(c.r.Header.Get("If-Match")) == "" {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest",
			"The If-Match header is required: the last known ETag of the delegated admin relationship.")
		return
	}
	if ifMatchFails(c, r) {
		return
	}
	if r.Status != "created" {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest",
			"The delegated admin relationship is "+r.Status+": a relationship can only be deleted while it is created.")
		return
	}
	for i := range c.tenant.Relationships {
		if &c.tenant.Relationships[i] == r {
			c.tenant.Relationships = append(c.tenant.Relationships[:i:i], c.tenant.Relationships[i+1:]...)
			break
		}
	}
	setRequestIDs(c.w, c.r)
	c.w.WriteHeader(http.StatusNoContent)
}
