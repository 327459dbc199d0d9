package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// What the guest's whole life needs of users (DESIGN.md section 13):
// listing by mail, disabling and enabling, and deleting.

// enabled reports whether a user may sign in: accountEnabled, which Graph
// defaults to true for a new user and an invited guest.
func (u User) enabled() bool { return u.AccountEnabled == nil || *u.AccountEnabled }

// listUsers lists users, filtered by mail the way the app asks
// ("List users", Graph v1.0: $filter=mail eq '<address>' is one of the
// filters Graph supports without advanced query parameters; the
// comparison ignores case).
func (s *Server) listUsers(c *graphCall) {
	conds, ok := parseFilter(c.r.URL.Query().Get("$filter"), map[string]bool{"mail": true})
	if !ok {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "Invalid filter clause: only eq on mail is supported.")
		return
	}
	value := []map[string]any{}
	for _, u := range c.tenant.Users {
		if !s.userVisible(&u) {
			continue
		}
		if want, ok := conds["mail"]; ok && !strings.EqualFold(u.Mail, want) {
			continue
		}
		j := userJSON(u)
		delete(j, "@odata.context")
		value = append(value, j)
	}
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{"@odata.context": odataContext + "users", "value": value})
}

// updateUser changes a user ("Update user", Graph v1.0): the app only ever
// sets accountEnabled, which needs User.EnableDisableAccount.All. Graph
// answers 204 with no body; a property the directory does not know is a
// 400.
func (s *Server) updateUser(c *graphCall) {
	id := c.r.PathValue("id")
	u := findUser(c.tenant, id, false)
	if u == nil || !s.userVisible(u) {
		notFound(c, id)
		return
	}
	var in map[string]json.RawMessage
	if !decodeJSON(c, &in) {
		return
	}
	for k, v := range in {
		switch k {
		case "accountEnabled":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "Cannot convert the literal '"+string(v)+"' to the expected type 'Edm.Boolean'.")
				return
			}
			u.AccountEnabled = &b
		case "@odata.type":
		default:
			writeError(c.w, c.r, http.StatusBadRequest, "Request_BadRequest", "Invalid property '"+k+"'.")
			return
		}
	}
	c.w.WriteHeader(http.StatusNoContent)
}

// deleteUser deletes a user ("Delete a user", Graph v1.0): it moves to the
// deleted items, restorable for 30 days, and takes its directory role
// assignments with it. Graph answers 204; a user that is not there is a
// 404.
func (s *Server) deleteUser(c *graphCall) {
	id := c.r.PathValue("id")
	for i := range c.tenant.Users {
		u := c.tenant.Users[i]
		if strings.EqualFold(u.ID, id) || strings.EqualFold(u.UserPrincipalName, id) {
			c.tenant.DeletedUsers = append(c.tenant.DeletedUsers, u)
			c.tenant.Users = append(c.tenant.Users[:i], c.tenant.Users[i+1:]...)
			kept := c.tenant.RoleAssignments[:0]
			for _, a := range c.tenant.RoleAssignments {
				if !strings.EqualFold(a.PrincipalID, u.ID) {
					kept = append(kept, a)
				}
			}
			c.tenant.RoleAssignments = kept
			c.w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	notFound(c, id)
}
