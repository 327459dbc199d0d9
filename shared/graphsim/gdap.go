package graphsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// globalAdministratorID is the Global Administrator role template id: GDAP
// refuses auto-extension for relationships that include it.
const globalAdministratorID = "62e90394-69f5-4237-9190-012177145e10"

const relationshipsPath = "tenantRelationships/delegatedAdminRelationships"

func relationshipJSON(r Relationship) map[string]any {
	roles := make([]map[string]any, 0, len(r.Roles))
	for _, id := range r.Roles {
		roles = append(roles, map[string]any{"roleDefinitionId": id})
	}
	return map[string]any{
		"@odata.etag":          r.ETag,
		"id":                   r.ID,
		"displayName":          r.DisplayName,
		"status":               r.Status,
		"duration":             r.Duration,
		"autoExtendDuration":   r.AutoExtendDuration,
		"createdDateTime":      timeOrNil(r.CreatedDateTime),
		"lastModifiedDateTime": timeOrNil(r.LastModifiedDateTime),
		"activatedDateTime":    timeOrNil(r.ActivatedDateTime),
		"endDateTime":          timeOrNil(r.EndDateTime),
		"customer": map[string]any{
			"tenantId":    nullable(r.CustomerTenantID),
			"displayName": nullable(r.CustomerDisplayName),
		},
		"accessDetails": map[string]any{"unifiedRoles": roles},
	}
}

func accessAssignmentJSON(a AccessAssignment) map[string]any {
	roles := make([]map[string]any, 0, len(a.Roles))
	for _, id := range a.Roles {
		roles = append(roles, map[string]any{"roleDefinitionId": id})
	}
	return map[string]any{
		"@odata.etag":          `W/"` + a.ID + `"`,
		"id":                   a.ID,
		"status":               a.Status,
		"createdDateTime":      timeOrNil(a.CreatedDateTime),
		"lastModifiedDateTime": timeOrNil(a.CreatedDateTime),
		"accessContainer": map[string]any{
			"accessContainerId":   a.GroupID,
			"accessContainerType": "securityGroup",
		},
		"accessDetails": map[string]any{"unifiedRoles": roles},
	}
}

// findRelationship returns a relationship the tenant owns.
func findRelationship(t *Tenant, id string) *Relationship {
	for i := range t.Relationships {
		if t.Relationships[i].ID == id {
			return &t.Relationships[i]
		}
	}
	return nil
}

// relationshipOr404 finds the relationship named in the path or answers 404.
func relationshipOr404(c *graphCall) *Relationship {
	id := c.r.PathValue("id")
	r := findRelationship(c.tenant, id)
	if r == nil {
		writeError(c.w, c.r, http.StatusNotFound, "ResourceNotFound",
			"The delegated admin relationship '"+id+"' was not found.")
	}
	return r
}

func (s *Server) getRelationship(c *graphCall) {
	r := relationshipOr404(c)
	if r == nil {
		return
	}
	out := relationshipJSON(*r)
	out["@odata.context"] = odataContext + relationshipsPath + "/$entity"
	c.w.Header().Set("ETag", r.ETag)
	writeJSON(c.w, c.r, http.StatusOK, out)
}

// relationshipBody is a relationship creation request.
type relationshipBody struct {
	DisplayName string `json:"displayName"`
	Duration    string `json:"duration"`
	AutoExtend  string `json:"autoExtendDuration"`
	Customer    *struct {
		TenantID    string `json:"tenantId"`
		DisplayName string `json:"displayName"`
	} `json:"customer"`
	AccessDetails struct {
		UnifiedRoles []struct {
			RoleDefinitionID string `json:"roleDefinitionId"`
		} `json:"unifiedRoles"`
	} `json:"accessDetails"`
}

// createRelationship creates a relationship in status created, checking the
// rules GDAP documents ("Create delegatedAdminRelationship" and
// "delegatedAdminRelationship resource type", Graph v1.0): a display name,
// unique across the partner's relationships and at most 50 characters
// (displayNameProblem), a duration from P1D to P730D, at least one role,
// auto-extension PT0S or P180D and never with Global Administrator.
func (s *Server) createRelationship(c *graphCall) {
	var in relationshipBody
	if !decodeJSON(c, &in) {
		return
	}
	bad := func(msg string) { writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", msg) }
	if strings.TrimSpace(in.DisplayName) == "" {
		bad("The displayName property is required.")
		return
	}
	if msg := displayNameProblem(c.tenant, in.DisplayName); msg != "" {
		bad(msg)
		return
	}
	d, err := parseDuration(in.Duration)
	if err != nil {
		bad("The duration property is invalid: " + err.Error())
		return
	}
	if days := d.approxDays(); days < 1 || days > 730 {
		bad("The duration must be between P1D and P730D.")
		return
	}
	ext := in.AutoExtend
	if ext == "" {
		ext = "PT0S"
	}
	if ext != "PT0S" && ext != "P180D" {
		bad("The autoExtendDuration must be PT0S or P180D.")
		return
	}
	var roles []string
	for _, u := range in.AccessDetails.UnifiedRoles {
		if !isGUID(u.RoleDefinitionID) {
			bad("The roleDefinitionId '" + u.RoleDefinitionID + "' is not valid.")
			return
		}
		id := strings.ToLower(u.RoleDefinitionID)
		if !slices.Contains(roles, id) {
			roles = append(roles, id)
		}
	}
	if len(roles) == 0 {
		bad("At least one unified role is required in accessDetails.")
		return
	}
	if ext != "PT0S" && slices.Contains(roles, globalAdministratorID) {
		bad("A relationship that includes the Global Administrator role can't be auto-extended.")
		return
	}
	now := s.now().UTC()
	r := Relationship{
		ID:                   newGUID() + "-" + newGUID(),
		DisplayName:          in.DisplayName,
		Status:               "created",
		Roles:                roles,
		Duration:             in.Duration,
		AutoExtendDuration:   ext,
		CreatedDateTime:      now,
		LastModifiedDateTime: now,
		ETag:                 newETag(),
	}
	if in.Customer != nil {
		r.CustomerTenantID = strings.ToLower(in.Customer.TenantID)
		r.CustomerDisplayName = in.Customer.DisplayName
		if t := s.findTenant(r.CustomerTenantID); t != nil && r.CustomerDisplayName == "" {
			r.CustomerDisplayName = t.DisplayName
		}
	}
	c.tenant.Relationships = append(c.tenant.Relationships, r)
	out := relationshipJSON(r)
	out["@odata.context"] = odataContext + relationshipsPath + "/$entity"
	c.w.Header().Set("Location", "https://graph.microsoft.com/v1.0/"+relationshipsPath+"/"+r.ID)
	c.w.Header().Set("ETag", r.ETag)
	writeJSON(c.w, c.r, http.StatusCreated, out)
}

// ifMatchFails reports (and answers 412) when the request carries an
// If-Match that is not the relationship's current tag.
func ifMatchFails(c *graphCall, r *Relationship) bool {
	m := strings.TrimSpace(c.r.Header.Get("If-Match"))
	if m == "" || m == "*" || m == r.ETag {
		return false
	}
	writeError(c.w, c.r, http.StatusPreconditionFailed, "PreconditionFailed",
		"The If-Match header does not match the current version of the relationship.")
	return true
}

// touch marks a relationship changed: a new ETag and modification time.
func (s *Server) touch(r *Relationship) {
	r.LastModifiedDateTime = s.now().UTC()
	r.ETag = newETag()
}

// createRelationshipRequest applies a partner action to a relationship
// ("Create delegatedAdminRelationshipRequest", Graph v1.0, and the status
// values of "delegatedAdminRelationship resource type"): lockForApproval
// moves created to approvalPending at once; terminate is accepted only for
// an active relationship and moves it to terminationRequested, then by
// itself through terminating to terminated (Delays.Termination). Any other
// status is refused with 400: a relationship never approved is deleted
// while created, and cannot be terminated before it is active.
func (s *Server) createRelationshipRequest(c *graphCall) {
	r := relationshipOr404(c)
	if r == nil {
		return
	}
	var in struct {
		Action string `json:"action"`
	}
	if !decodeJSON(c, &in) {
		return
	}
	if ifMatchFails(c, r) {
		return
	}
	refuse := func() {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("The action %s is not allowed on a relationship in status %s.", in.Action, r.Status))
	}
	switch in.Action {
	case "lockForApproval":
		if r.Status != "created" {
			refuse()
			return
		}
		r.Status = "approvalPending"
	case "terminate":
		if r.Status != "active" {
			refuse()
			return
		}
		r.Status = "terminationRequested"
		r.TerminationRequestedDateTime = s.now().UTC()
	case "approve", "reject":
		writeError(c.w, c.r, http.StatusForbidden, "Forbidden",
			"Only the customer can "+in.Action+" a relationship; graphsim approves through POST /_sim/relationships/{id}/approve.")
		return
	default:
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "The action '"+in.Action+"' is not valid.")
		return
	}
	s.touch(r)
	now := s.now().UTC().Format(time.RFC3339)
	writeJSON(c.w, c.r, http.StatusCreated, map[string]any{
		"@odata.context":       odataContext + relationshipsPath + "('" + r.ID + "')/requests/$entity",
		"id":                   newGUID(),
		"action":               in.Action,
		"status":               "succeeded",
		"createdDateTime":      now,
		"lastModifiedDateTime": now,
	})
}

func (s *Server) listAccessAssignments(c *graphCall) {
	r := relationshipOr404(c)
	if r == nil {
		return
	}
	value := []map[string]any{}
	for _, a := range r.AccessAssignments {
		value = append(value, accessAssignmentJSON(a))
	}
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{
		"@odata.context": odataContext + relationshipsPath + "('" + r.ID + "')/accessAssignments",
		"value":          value,
	})
}

func (s *Server) getAccessAssignment(c *graphCall) {
	r := relationshipOr404(c)
	if r == nil {
		return
	}
	aid := c.r.PathValue("aid")
	for _, a := range r.AccessAssignments {
		if a.ID == aid {
			writeJSON(c.w, c.r, http.StatusOK, accessAssignmentJSON(a))
			return
		}
	}
	writeError(c.w, c.r, http.StatusNotFound, "ResourceNotFound", "The access assignment '"+aid+"' was not found.")
}

// accessAssignmentBody is an access assignment creation request.
type accessAssignmentBody struct {
	AccessContainer struct {
		AccessContainerID   string `json:"accessContainerId"`
		AccessContainerType string `json:"accessContainerType"`
	} `json:"accessContainer"`
	AccessDetails struct {
		UnifiedRoles []struct {
			RoleDefinitionID string `json:"roleDefinitionId"`
		} `json:"unifiedRoles"`
	} `json:"accessDetails"`
}

// createAccessAssignment gives a security group of the partner tenant roles
// through an active relationship. The roles must be the relationship's; one
// group has at most one assignment per relationship (409 otherwise).
func (s *Server) createAccessAssignment(c *graphCall) {
	r := relationshipOr404(c)
	if r == nil {
		return
	}
	var in accessAssignmentBody
	if !decodeJSON(c, &in) {
		return
	}
	bad := func(msg string) { writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", msg) }
	if r.Status != "active" {
		bad("Access assignments can only be created on an active relationship; this one is " + r.Status + ".")
		return
	}
	if in.AccessContainer.AccessContainerType != "securityGroup" {
		bad("The accessContainerType must be securityGroup.")
		return
	}
	gid := strings.ToLower(in.AccessContainer.AccessContainerID)
	found := false
	for _, g := range c.tenant.Groups {
		found = found || strings.EqualFold(g.ID, gid)
	}
	if !found {
		bad("The security group '" + in.AccessContainer.AccessContainerID + "' was not found in the partner tenant.")
		return
	}
	var roles []string
	for _, u := range in.AccessDetails.UnifiedRoles {
		id := strings.ToLower(u.RoleDefinitionID)
		if !slices.Contains(r.Roles, id) {
			bad("The role '" + u.RoleDefinitionID + "' is not part of the relationship.")
			return
		}
		if !slices.Contains(roles, id) {
			roles = append(roles, id)
		}
	}
	if len(roles) == 0 {
		bad("At least one unified role is required in accessDetails.")
		return
	}
	for _, a := range r.AccessAssignments {
		if strings.EqualFold(a.GroupID, gid) && a.Status != "deleted" {
			writeError(c.w, c.r, http.StatusConflict, "Conflict",
				"An access assignment for security group '"+gid+"' already exists in this relationship.")
			return
		}
	}
	a := AccessAssignment{ID: newGUID(), GroupID: gid, Roles: roles, Status: "active", CreatedDateTime: s.now().UTC()}
	r.AccessAssignments = append(r.AccessAssignments, a)
	out := accessAssignmentJSON(a)
	out["@odata.context"] = odataContext + relationshipsPath + "('" + r.ID + "')/accessAssignments/$entity"
	writeJSON(c.w, c.r, http.StatusCreated, out)
}
