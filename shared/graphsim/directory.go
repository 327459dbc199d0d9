package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// userJSON is a user as Graph returns it. Graph answers null for absent
// properties; so does the simulator.
func userJSON(u User) map[string]any {
	return map[string]any{
		"@odata.context":    odataContext + "users/$entity",
		"id":                u.ID,
		"displayName":       nullable(u.DisplayName),
		"mail":              nullable(u.Mail),
		"userPrincipalName": nullable(u.UserPrincipalName),
		"userType":          nullable(u.UserType),
		"accountEnabled":    u.enabled(),
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// findUser finds a user by id or user principal name, as /users/{id} does;
// sendMail also takes a mail address.
func findUser(t *Tenant, key string, byMail bool) *User {
	for i := range t.Users {
		u := &t.Users[i]
		if strings.EqualFold(u.ID, key) || strings.EqualFold(u.UserPrincipalName, key) ||
			byMail && u.Mail != "" && strings.EqualFold(u.Mail, key) {
			return u
		}
	}
	return nil
}

func notFound(c *graphCall, id string) {
	writeError(c.w, c.r, http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

// getUser reads a user. A guest an invitation created moments ago is not
// found (404) until Delays.Replication has passed: "Create invitation"
// (Graph v1.0) returns the new user's id at once, but Microsoft Entra ID
// replicates the object to the replica that serves the next read later.
func (s *Server) getUser(c *graphCall) {
	id := c.r.PathValue("id")
	u := findUser(c.tenant, id, false)
	if u == nil || !s.userVisible(u) {
		notFound(c, id)
		return
	}
	out := userJSON(*u)
	if selects(c.r, "signInActivity") {
		// "signInActivity" (Graph v1.0 user resource): only with Entra ID
		// P1 in the tenant (and AuditLog.Read.All); without it Graph
		// answers 403.
		if !c.tenant.EntraP1 {
			writeError(c.w, c.r, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
				"Neither tenant is B2C or tenant doesn't have premium license")
			return
		}
		var last any
		if !u.LastSignIn.IsZero() {
			last = u.LastSignIn.UTC().Format(time.RFC3339)
		}
		out["signInActivity"] = map[string]any{"lastSignInDateTime": last}
	}
	writeJSON(c.w, c.r, http.StatusOK, out)
}

// selects reports whether the request's $select names prop.
func selects(r *http.Request, prop string) bool {
	for _, p := range strings.Split(r.URL.Query().Get("$select"), ",") {
		if strings.EqualFold(strings.TrimSpace(p), prop) {
			return true
		}
	}
	return false
}

// invitationBody is the part of an invitation request the simulator uses.
type invitationBody struct {
	InvitedUserEmailAddress string `json:"invitedUserEmailAddress"`
	InvitedUserDisplayName  string `json:"invitedUserDisplayName"`
	InviteRedirectURL       string `json:"inviteRedirectUrl"`
	SendInvitationMessage   *bool  `json:"sendInvitationMessage"`
}

// createInvitation invites an external user: it creates a guest user in the
// caller's tenant, or re-invites the guest that already has this address,
// as Graph does.
func (s *Server) createInvitation(c *graphCall) {
	var in invitationBody
	if !decodeJSON(c, &in) {
		return
	}
	email := strings.TrimSpace(in.InvitedUserEmailAddress)
	if email == "" || !strings.Contains(email, "@") {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "The invitedUserEmailAddress property is required and must be an email address.")
		return
	}
	if strings.TrimSpace(in.InviteRedirectURL) == "" {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "The inviteRedirectUrl property is required.")
		return
	}
	var guest *User
	for i := range c.tenant.Users {
		if u := &c.tenant.Users[i]; strings.EqualFold(u.Mail, email) {
			guest = u
		}
	}
	if guest != nil && guest.UserType != "Guest" {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest",
			"The invited user already exists in the directory as a member: "+guest.ID)
		return
	}
	if guest == nil {
		name := in.InvitedUserDisplayName
		if name == "" {
			name = email
		}
		c.tenant.Users = append(c.tenant.Users, User{
			ID:                newGUID(),
			DisplayName:       name,
			Mail:              email,
			UserPrincipalName: strings.ReplaceAll(email, "@", "_") + "#EXT#@" + c.tenant.Domain,
			UserType:          "Guest",
			// From now on the guest replicates (see getUser).
			CreatedDateTime: s.now().UTC(),
		})
		guest = &c.tenant.Users[len(c.tenant.Users)-1]
	}
	send := in.SendInvitationMessage != nil && *in.SendInvitationMessage
	redeem := "https://login.microsoftonline.com/redeem?rd=" + url.QueryEscape(
		"https://invitations.microsoft.com/redeem/?tenant="+c.tenant.ID+"&user="+guest.ID)
	writeJSON(c.w, c.r, http.StatusCreated, map[string]any{
		"@odata.context":          odataContext + "invitations/$entity",
		"id":                      newGUID(),
		"inviteRedeemUrl":         redeem,
		"invitedUserDisplayName":  nullable(in.InvitedUserDisplayName),
		"invitedUserEmailAddress": email,
		"inviteRedirectUrl":       in.InviteRedirectURL,
		"invitedUserType":         "Guest",
		"sendInvitationMessage":   send,
		"resetRedemption":         false,
		"status":                  "PendingAcceptance",
		"invitedUser":             map[string]any{"id": guest.ID},
	})
}

// mailBody is the part of a sendMail request the simulator keeps.
type mailBody struct {
	Message struct {
		Subject string `json:"subject"`
		Body    struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		ToRecipients []struct {
			EmailAddress struct {
				Address string `json:"address"`
			} `json:"emailAddress"`
		} `json:"toRecipients"`
	} `json:"message"`
}

// sendMail records a mail sent as one of the tenant's mailboxes.
func (s *Server) sendMail(c *graphCall) {
	from := c.r.PathValue("id")
	u := findUser(c.tenant, from, true)
	if u == nil {
		writeError(c.w, c.r, http.StatusNotFound, "ErrorInvalidUser",
			"The requested user '"+from+"' is invalid.")
		return
	}
	var in mailBody
	if !decodeJSON(c, &in) {
		return
	}
	var to []string
	for _, r := range in.Message.ToRecipients {
		if a := strings.TrimSpace(r.EmailAddress.Address); a != "" {
			to = append(to, a)
		}
	}
	if len(to) == 0 {
		writeError(c.w, c.r, http.StatusBadRequest, "ErrorInvalidRecipients",
			"At least one recipient is not valid., A message can't be sent because it contains no recipients.")
		return
	}
	sender := u.Mail
	if sender == "" {
		sender = u.UserPrincipalName
	}
	s.mails = append(s.mails, Mail{
		TenantID:    c.tenant.ID,
		From:        sender,
		To:          to,
		Subject:     in.Message.Subject,
		ContentType: in.Message.Body.ContentType,
		Body:        in.Message.Body.Content,
		SentAt:      s.now().UTC(),
	})
	setRequestIDs(c.w, c.r)
	c.w.WriteHeader(http.StatusAccepted)
}

func roleAssignmentJSON(a RoleAssignment) map[string]any {
	return map[string]any{
		"id":               a.ID,
		"principalId":      a.PrincipalID,
		"roleDefinitionId": a.RoleDefinitionID,
		"directoryScopeId": a.DirectoryScopeID,
	}
}

// listRoleAssignments lists assignments, filtered by the $filter clauses
// the app uses: principalId, roleDefinitionId and directoryScopeId
// equalities joined by "and".
func (s *Server) listRoleAssignments(c *graphCall) {
	s.expireSchedules(c.tenant)
	conds, ok := parseFilter(c.r.URL.Query().Get("$filter"),
		map[string]bool{"principalId": true, "roleDefinitionId": true, "directoryScopeId": true})
	if !ok {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest",
			"Invalid filter clause: only eq on principalId, roleDefinitionId and directoryScopeId, joined by and, is supported.")
		return
	}
	value := []map[string]any{}
	for _, a := range c.tenant.RoleAssignments {
		if conds.match(map[string]string{
			"principalId": a.PrincipalID, "roleDefinitionId": a.RoleDefinitionID, "directoryScopeId": a.DirectoryScopeID,
		}) {
			value = append(value, roleAssignmentJSON(a))
		}
	}
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{
		"@odata.context": odataContext + "roleManagement/directory/roleAssignments",
		"value":          value,
	})
}

func (s *Server) getRoleAssignment(c *graphCall) {
	s.expireSchedules(c.tenant)
	id := c.r.PathValue("id")
	for _, a := range c.tenant.RoleAssignments {
		if a.ID == id {
			out := roleAssignmentJSON(a)
			out["@odata.context"] = odataContext + "roleManagement/directory/roleAssignments/$entity"
			writeJSON(c.w, c.r, http.StatusOK, out)
			return
		}
	}
	notFound(c, id)
}

// roleAssignmentBody is a role assignment request.
type roleAssignmentBody struct {
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId"`
}

// createRoleAssignment assigns a directory role ("Create
// unifiedRoleAssignment", Graph v1.0). The principal must be a user or
// group of the tenant that has replicated: one that is not there, or a
// guest invited less than Delays.Replication ago, is refused with 400
// Request_BadRequest and Graph's directory message "Resource '<id>' does
// not exist or one of its queried reference-property objects are not
// present." (as reported for role assignments to just-created users,
// microsoftgraph/microsoft-graph-docs#18218). A second identical
// assignment is refused as Graph refuses it: 400 Request_BadRequest, "A
// conflicting object ...", whether it comes from a retry or from a client
// racing another one.
func (s *Server) createRoleAssignment(c *graphCall) {
	var in roleAssignmentBody
	if !decodeJSON(c, &in) {
		return
	}
	if !isGUID(in.RoleDefinitionID) {
		writeError(c.w, c.r, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'roleDefinitionId' of resource 'UnifiedRoleAssignment'.")
		return
	}
	if !strings.HasPrefix(in.DirectoryScopeID, "/") {
		writeError(c.w, c.r, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'directoryScopeId' of resource 'UnifiedRoleAssignment'.")
		return
	}
	if !s.hasPrincipal(c.tenant, in.PrincipalID) {
		writeError(c.w, c.r, http.StatusBadRequest, "Request_BadRequest",
			"Resource '"+in.PrincipalID+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	for _, a := range c.tenant.RoleAssignments {
		if strings.EqualFold(a.PrincipalID, in.PrincipalID) && strings.EqualFold(a.RoleDefinitionID, in.RoleDefinitionID) &&
			a.DirectoryScopeID == in.DirectoryScopeID {
			writeError(c.w, c.r, http.StatusBadRequest, "Request_BadRequest",
				"A conflicting object with one or more of the specified property values is present in the directory.")
			return
		}
	}
	a := RoleAssignment{
		ID:               newAssignmentID(),
		PrincipalID:      in.PrincipalID,
		RoleDefinitionID: strings.ToLower(in.RoleDefinitionID),
		DirectoryScopeID: in.DirectoryScopeID,
	}
	c.tenant.RoleAssignments = append(c.tenant.RoleAssignments, a)
	out := roleAssignmentJSON(a)
	out["@odata.context"] = odataContext + "roleManagement/directory/roleAssignments/$entity"
	writeJSON(c.w, c.r, http.StatusCreated, out)
}

// hasPrincipal reports whether a user (replicated, see getUser) or group
// of the tenant has this id. The caller holds s.mu.
func (s *Server) hasPrincipal(t *Tenant, id string) bool {
	for i := range t.Users {
		if u := &t.Users[i]; strings.EqualFold(u.ID, id) {
			return s.userVisible(u)
		}
	}
	for _, g := range t.Groups {
		if strings.EqualFold(g.ID, id) {
			return true
		}
	}
	return false
}

func (s *Server) deleteRoleAssignment(c *graphCall) {
	id := c.r.PathValue("id")
	for i, a := range c.tenant.RoleAssignments {
		if a.ID == id {
			c.tenant.RoleAssignments = append(c.tenant.RoleAssignments[:i:i], c.tenant.RoleAssignments[i+1:]...)
			setRequestIDs(c.w, c.r)
			c.w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	notFound(c, id)
}

// filter is a conjunction of property equalities from an OData $filter.
type filter map[string]string

// parseFilter parses `prop eq 'value' and prop eq 'value'` for the allowed
// properties. An empty filter matches everything.
func parseFilter(f string, allowed map[string]bool) (filter, bool) {
	out := filter{}
	f = strings.TrimSpace(f)
	if f == "" {
		return out, true
	}
	for _, clause := range splitAnd(f) {
		fields := strings.SplitN(strings.TrimSpace(clause), " ", 3)
		if len(fields) != 3 || !strings.EqualFold(fields[1], "eq") || !allowed[fields[0]] {
			return nil, false
		}
		v := strings.TrimSpace(fields[2])
		if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			return nil, false
		}
		out[fields[0]] = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return out, true
}

// splitAnd splits on " and " outside quoted strings.
func splitAnd(f string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '\'':
			inQuote = !inQuote
		case !inQuote && i+5 <= len(f) && strings.EqualFold(f[i:i+5], " and "):
			parts = append(parts, f[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(parts, f[start:])
}

func (f filter) match(props map[string]string) bool {
	for k, v := range f {
		if !strings.EqualFold(props[k], v) {
			return false
		}
	}
	return true
}

// isGUID reports whether s is a GUID in the 8-4-4-4-12 hex form, the only
// form the simulator takes (uuid.Validate alone also takes braced, urn:uuid:
// and bare forms).
func isGUID(s string) bool { return len(s) == 36 && uuid.Validate(s) == nil }
