package graphsim

import (
	"net/http"
	"strings"
	"time"
)

// Privileged Identity Management's active assignments ("Create
// roleAssignmentScheduleRequests", Graph v1.0): adminAssign makes a
// time-bound active assignment that Entra ends by itself at its
// expiration, adminUpdate and adminExtend move that end, adminRemove ends
// it. The tenant needs Microsoft Entra ID P2 (or Governance): without it
// Graph answers 400 AadPremiumLicenseRequired. An assignment that exists
// already is 400 RoleAssignmentExists; one that does not, for the other
// actions, 400 RoleAssignmentDoesNotExist.

type scheduleRequestBody struct {
	Action           string `json:"action"`
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId"`
	Justification    string `json:"justification"`
	ScheduleInfo     *struct {
		StartDateTime *time.Time `json:"startDateTime"`
		Expiration    *struct {
			Type        string     `json:"type"`
			EndDateTime *time.Time `json:"endDateTime"`
		} `json:"expiration"`
	} `json:"scheduleInfo"`
}

// expireSchedules drops the time-bound assignments whose end has passed,
// as Entra does by itself. The caller holds s.mu.
func (s *Server) expireSchedules(t *Tenant) {
	now := s.simNow()
	kept := t.RoleAssignments[:0]
	for _, a := range t.RoleAssignments {
		if a.EndDateTime.IsZero() || now.Before(a.EndDateTime) {
			kept = append(kept, a)
		}
	}
	t.RoleAssignments = kept
}

func (s *Server) createScheduleRequest(c *graphCall) {
	var in scheduleRequestBody
	if !decodeJSON(c, &in) {
		return
	}
	if !c.tenant.EntraP2 {
		writeError(c.w, c.r, http.StatusBadRequest, "AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.")
		return
	}
	if !isGUID(in.RoleDefinitionID) || in.DirectoryScopeID != "/" || !s.hasPrincipal(c.tenant, in.PrincipalID) {
		writeError(c.w, c.r, http.StatusBadRequest, "InvalidRequest", "principalId, roleDefinitionId and directoryScopeId must name a principal, a role and the tenant scope.")
		return
	}
	s.expireSchedules(c.tenant)
	idx := -1
	for i, a := range c.tenant.RoleAssignments {
		if strings.EqualFold(a.PrincipalID, in.PrincipalID) && strings.EqualFold(a.RoleDefinitionID, in.RoleDefinitionID) && a.DirectoryScopeID == "/" {
			idx = i
		}
	}
	var end time.Time
	if in.ScheduleInfo != nil && in.ScheduleInfo.Expiration != nil && in.ScheduleInfo.Expiration.EndDateTime != nil {
		end = in.ScheduleInfo.Expiration.EndDateTime.UTC()
	}
	status := "Provisioned"
	switch in.Action {
	case "adminAssign", "adminUpdate", "adminExtend":
		if in.ScheduleInfo == nil || in.ScheduleInfo.Expiration == nil || !strings.EqualFold(in.ScheduleInfo.Expiration.Type, "afterDateTime") ||
			end.IsZero() || !end.After(s.simNow()) {
			writeError(c.w, c.r, http.StatusBadRequest, "InvalidScheduleInfo", "The expiration must be afterDateTime, with an endDateTime in the future.")
			return
		}
		if in.Action == "adminAssign" {
			if idx >= 0 {
				writeError(c.w, c.r, http.StatusBadRequest, "RoleAssignmentExists", "The Role assignment already exists.")
				return
			}
			c.tenant.RoleAssignments = append(c.tenant.RoleAssignments, RoleAssignment{ID: newAssignmentID(), PrincipalID: in.PrincipalID,
				RoleDefinitionID: strings.ToLower(in.RoleDefinitionID), DirectoryScopeID: "/", EndDateTime: end})
			break
		}
		if idx < 0 || c.tenant.RoleAssignments[idx].EndDateTime.IsZero() {
			writeError(c.w, c.r, http.StatusBadRequest, "RoleAssignmentDoesNotExist", "The Role assignment does not exist.")
			return
		}
		c.tenant.RoleAssignments[idx].EndDateTime = end
	case "adminRemove":
		if idx < 0 || c.tenant.RoleAssignments[idx].EndDateTime.IsZero() {
			writeError(c.w, c.r, http.StatusBadRequest, "RoleAssignmentDoesNotExist", "The Role assignment does not exist.")
			return
		}
		c.tenant.RoleAssignments = append(c.tenant.RoleAssignments[:idx], c.tenant.RoleAssignments[idx+1:]...)
		status = "Revoked"
	default:
		writeError(c.w, c.r, http.StatusBadRequest, "InvalidRequest", "The action '"+in.Action+"' is not one the app uses.")
		return
	}
	writeJSON(c.w, c.r, http.StatusCreated, map[string]any{
		"@odata.context": odataContext + "roleManagement/directory/roleAssignmentScheduleRequests/$entity",
		"id":             newAssignmentID(), "action": in.Action, "status": status,
		"principalId": in.PrincipalID, "roleDefinitionId": strings.ToLower(in.RoleDefinitionID), "directoryScopeId": "/",
		"justification": in.Justification, "createdDateTime": s.simNow().UTC().Format(time.RFC3339),
	})
}
