package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/invitations"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/tenantrelationships"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// maxPages bounds how many @odata.nextLink pages a list follows: far more
// than a principal's role assignments or a relationship's access
// assignments, and a stop if a server keeps answering with links.
const maxPages = 50

// tenantScope is the directory scope of a tenant-wide role assignment.
const tenantScope = "/"

// copilotURL is where a B2B guest lands after redeeming the invitation:
// Security Copilot, switched to the customer tenant.
func copilotURL(customerTenantID string) string {
	return "https://securitycopilot.microsoft.com/?tenantId=" + customerTenantID
}

// need returns a KindInvalid error naming the empty arguments, so that an
// empty id never turns into a different Graph URL (an empty user id would
// make GET /users/{id} a list of every user).
func need(args ...string) error {
	fields := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		if strings.TrimSpace(args[i+1]) == "" {
			fields[args[i]] = "required"
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return access.Invalid("missing arguments", fields)
}

func (c *Client) users() *users.UsersRequestBuilder {
	return users.NewUsersRequestBuilderInternal(map[string]string{}, c.adapter)
}

func (c *Client) roleAssignments() *rolemanagement.DirectoryRoleAssignmentsRequestBuilder {
	return rolemanagement.NewDirectoryRoleAssignmentsRequestBuilderInternal(map[string]string{}, c.adapter)
}

func (c *Client) relationship(id string) *tenantrelationships.DelegatedAdminRelationshipsDelegatedAdminRelationshipItemRequestBuilder {
	return tenantrelationships.NewDelegatedAdminRelationshipsRequestBuilderInternal(map[string]string{}, c.adapter).
		ByDelegatedAdminRelationshipId(id)
}

// User reads a user of a tenant. KindNotFound if there is none.
func (c *Client) User(ctx context.Context, tenantID, userID string) (access.User, error) {
	if err := need("tenantID", tenantID, "userID", userID); err != nil {
		return access.User{}, fmt.Errorf("read user: %w", err)
	}
	ctx = startCall(ctx, "graph.User", tenantID)
	u, err := c.users().ByUserId(userID).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		// userType is not in Graph's default set of user properties.
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{
			Select: []string{"id", "displayName", "mail", "userPrincipalName", "userType"},
		},
	})
	if err != nil {
		return access.User{}, fmt.Errorf("read user %s in %s: %w", userID, tenantID, translate(ctx, err, tenantID, permUserRead))
	}
	if u == nil {
		return access.User{}, fmt.Errorf("read user %s in %s: %w", userID, tenantID, access.Errorf(access.KindNotFound, "graph answered no user"))
	}
	return access.User{
		ID:          deref(u.GetId()),
		DisplayName: deref(u.GetDisplayName()),
		Mail:        deref(u.GetMail()),
		UserType:    deref(u.GetUserType()),
	}, nil
}

// Invite creates a B2B invitation in the customer tenant. Without a
// redirect URL the guest lands in Security Copilot, switched to the
// customer tenant. Graph re-invites a guest that already exists, so a
// repeated invitation returns the same user.
func (c *Client) Invite(ctx context.Context, customerTenantID string, inv access.Invitation) (access.InvitationResult, error) {
	if err := need("customerTenantID", customerTenantID, "email", inv.Email); err != nil {
		return access.InvitationResult{}, fmt.Errorf("invite guest: %w", err)
	}
	redirect := inv.RedirectURL
	if redirect == "" {
		redirect = copilotURL(customerTenantID)
	}
	body := models.NewInvitation()
	body.SetInvitedUserEmailAddress(&inv.Email)
	if inv.DisplayName != "" {
		body.SetInvitedUserDisplayName(&inv.DisplayName)
	}
	body.SetInviteRedirectUrl(&redirect)
	send := inv.SendMessage
	body.SetSendInvitationMessage(&send)

	ctx = startCall(ctx, "graph.Invite", customerTenantID)
	res, err := invitations.NewInvitationsRequestBuilderInternal(map[string]string{}, c.adapter).Post(ctx, body, nil)
	if err != nil {
		return access.InvitationResult{}, fmt.Errorf("invite %s to %s: %w", inv.Email, customerTenantID, translate(ctx, err, customerTenantID, permUserInvite))
	}
	if res == nil {
		return access.InvitationResult{}, fmt.Errorf("invite %s to %s: %w", inv.Email, customerTenantID, access.Errorf(access.KindInternal, "graph answered no invitation"))
	}
	out := access.InvitationResult{
		ID:        deref(res.GetId()),
		RedeemURL: deref(res.GetInviteRedeemUrl()),
		Status:    deref(res.GetStatus()),
	}
	if u := res.GetInvitedUser(); u != nil {
		out.UserID = deref(u.GetId())
	}
	return out, nil
}

// RoleAssignments lists the directory role assignments of a principal, at
// every scope.
func (c *Client) RoleAssignments(ctx context.Context, tenantID, principalID string) ([]access.RoleAssignment, error) {
	if err := need("tenantID", tenantID, "principalID", principalID); err != nil {
		return nil, fmt.Errorf("list role assignments: %w", err)
	}
	ctx = startCall(ctx, "graph.RoleAssignments", tenantID)
	out, err := c.listRoleAssignments(ctx, principalID)
	if err != nil {
		return nil, fmt.Errorf("list role assignments of %s in %s: %w", principalID, tenantID, translate(ctx, err, tenantID, permRoleManagement))
	}
	return out, nil
}

// listRoleAssignments follows every page of the principal's assignments.
// ctx already names the tenant; errors are the SDK's, untranslated.
func (c *Client) listRoleAssignments(ctx context.Context, principalID string) ([]access.RoleAssignment, error) {
	filter := "principalId eq '" + odataString(principalID) + "'"
	b := c.roleAssignments()
	first, err := b.Get(ctx, &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetQueryParameters{Filter: &filter},
	})
	return collect(c, first, err, func(next string) (page[models.UnifiedRoleAssignmentable], error) {
		return b.WithUrl(next).Get(ctx, nil)
	}, roleAssignment)
}

// page is one page of a Graph collection.
type page[T any] interface {
	GetValue() []T
	GetOdataNextLink() *string
}

// collect converts the items of first and of every page after it, which
// get fetches by its @odata.nextLink, at most maxPages and only from the
// configured Graph. err is first's; errors are the SDK's, untranslated.
func collect[T, R any](c *Client, first page[T], err error, get func(next string) (page[T], error), conv func(T) R) ([]R, error) {
	var out []R
	for n := 0; err == nil && first != nil; n++ {
		for _, v := range first.GetValue() {
			out = append(out, conv(v))
		}
		next := deref(first.GetOdataNextLink())
		if next == "" || n == maxPages {
			break
		}
		if !c.sameOrigin(next) {
			return nil, fmt.Errorf("graph gave a next link to another host: %s", next)
		}
		first, err = get(next)
	}
	return out, err
}

// odataString escapes a value for a single-quoted OData literal.
func odataString(s string) string { return strings.ReplaceAll(s, "'", "''") }

func roleAssignment(a models.UnifiedRoleAssignmentable) access.RoleAssignment {
	return access.RoleAssignment{
		ID:          deref(a.GetId()),
		PrincipalID: deref(a.GetPrincipalId()),
		RoleID:      deref(a.GetRoleDefinitionId()),
		Scope:       deref(a.GetDirectoryScopeId()),
	}
}

// findTenantWide returns the tenant-wide assignment of role, if present.
func findTenantWide(as []access.RoleAssignment, roleID string) (access.RoleAssignment, bool) {
	for _, a := range as {
		if strings.EqualFold(a.RoleID, roleID) && a.Scope == tenantScope {
			return a, true
		}
	}
	return access.RoleAssignment{}, false
}

// AssignRole gives a principal a directory role at tenant scope. It is
// idempotent: if the principal already holds the role, the existing
// assignment is returned and none is created.
//
// It creates first and lists only when the create is refused: Graph
// refuses a second tenant-wide assignment of the same role to the same
// principal (400 Request_BadRequest, "A conflicting object with one or more
// of the specified property values is present in the directory"), so the
// usual first delivery costs one call, not two. Every 400 or 409 is checked
// against the list: a refusal worded differently still finds the
// assignment that is there, and one that is not there keeps Graph's error.
//
// A principal Graph does not find (400 Request_BadRequest, "Resource '<id>'
// does not exist or one of its queried reference-property objects are not
// present") is KindNotFound, not KindInvalid: right after an invitation
// the guest has not replicated yet, and the caller waits and retries.
func (c *Client) AssignRole(ctx context.Context, tenantID, principalID, roleID string) (access.RoleAssignment, error) {
	if err := need("tenantID", tenantID, "principalID", principalID, "roleID", roleID); err != nil {
		return access.RoleAssignment{}, fmt.Errorf("assign role: %w", err)
	}
	wrap := func(err error) error {
		return fmt.Errorf("assign role %s to %s in %s: %w", roleID, principalID, tenantID, err)
	}
	ctx = startCall(ctx, "graph.AssignRole", tenantID)
	body := models.NewUnifiedRoleAssignment()
	body.SetPrincipalId(&principalID)
	body.SetRoleDefinitionId(&roleID)
	scope := tenantScope
	body.SetDirectoryScopeId(&scope)
	created, err := c.roleAssignments().Post(ctx, body, nil)
	if err != nil {
		terr := translate(ctx, err, tenantID, permRoleManagement)
		if principalMissing(terr, principalID) {
			var ae *access.Error
			errors.As(terr, &ae)
			return access.RoleAssignment{}, wrap(&access.Error{Op: ae.Op, Kind: access.KindNotFound, Code: ae.Code,
				Msg: ae.Msg + " (the principal is not in the directory yet: a new guest replicates for a while)"})
		}
		if k := access.KindOf(terr); k == access.KindConflict || k == access.KindInvalid {
			held, lerr := c.listRoleAssignments(ctx, principalID)
			if lerr != nil {
				// The list's failure decides: a refusal that a failed list
				// could not explain may be a duplicate, worth a retry.
				return access.RoleAssignment{}, wrap(fmt.Errorf("%w (checking after the create was refused: %v)",
					translate(ctx, lerr, tenantID, permRoleManagement), terr))
			}
			if a, ok := findTenantWide(held, roleID); ok {
				return a, nil
			}
		}
		return access.RoleAssignment{}, wrap(terr)
	}
	if created == nil {
		return access.RoleAssignment{}, wrap(access.Errorf(access.KindInternal, "graph answered no role assignment"))
	}
	return roleAssignment(created), nil
}

// principalMissing reports whether Graph refused a role assignment because
// it does not find the principal: 400 Request_BadRequest whose message says
// the principal (named by id or as "principal") does not exist. Other
// refusals, a role definition that does not exist included, do not match.
func principalMissing(err error, principalID string) bool {
	var ae *access.Error
	if !errors.As(err, &ae) || ae.Kind != access.KindInvalid || ae.Code != "Request_BadRequest" {
		return false
	}
	msg := strings.ToLower(ae.Msg)
	return strings.Contains(msg, "does not exist") &&
		(strings.Contains(msg, "'"+strings.ToLower(principalID)+"'") || strings.Contains(msg, "principal"))
}

// RemoveRoleAssignment deletes an assignment; one already gone is no error.
func (c *Client) RemoveRoleAssignment(ctx context.Context, tenantID, assignmentID string) error {
	if err := need("tenantID", tenantID, "assignmentID", assignmentID); err != nil {
		return fmt.Errorf("remove role assignment: %w", err)
	}
	ctx = startCall(ctx, "graph.RemoveRoleAssignment", tenantID)
	err := c.roleAssignments().ByUnifiedRoleAssignmentId(assignmentID).Delete(ctx, nil)
	if err != nil {
		terr := translate(ctx, err, tenantID, permRoleManagement)
		if access.IsKind(terr, access.KindNotFound) {
			return nil
		}
		return fmt.Errorf("remove role assignment %s in %s: %w", assignmentID, tenantID, terr)
	}
	return nil
}

// Relationship reads a GDAP relationship of the partner tenant.
func (c *Client) Relationship(ctx context.Context, partnerTenantID, relationshipID string) (access.Relationship, error) {
	if err := need("partnerTenantID", partnerTenantID, "relationshipID", relationshipID); err != nil {
		return access.Relationship{}, fmt.Errorf("read relationship: %w", err)
	}
	ctx = startCall(ctx, "graph.Relationship", partnerTenantID)
	r, err := c.relationship(relationshipID).Get(ctx, nil)
	if err != nil {
		return access.Relationship{}, fmt.Errorf("read relationship %s in %s: %w", relationshipID, partnerTenantID, translate(ctx, err, partnerTenantID, permGDAP))
	}
	if r == nil {
		return access.Relationship{}, fmt.Errorf("read relationship %s in %s: %w", relationshipID, partnerTenantID, access.Errorf(access.KindNotFound, "graph answered no relationship"))
	}
	return relationship(r), nil
}

func relationship(r models.DelegatedAdminRelationshipable) access.Relationship {
	out := access.Relationship{
		ID:                 deref(r.GetId()),
		DisplayName:        deref(r.GetDisplayName()),
		Duration:           isoDuration(r.GetDuration()),
		AutoExtendDuration: isoDuration(r.GetAutoExtendDuration()),
		EndDateTime:        utc(r.GetEndDateTime()),
		ActivatedDateTime:  utc(r.GetActivatedDateTime()),
		ETag:               etag(r.GetAdditionalData()),
	}
	if s := r.GetStatus(); s != nil {
		out.Status = s.String()
	}
	if cust := r.GetCustomer(); cust != nil {
		out.CustomerTenantID = deref(cust.GetTenantId())
	}
	if d := r.GetAccessDetails(); d != nil {
		out.Roles = unifiedRoles(d.GetUnifiedRoles())
	}
	return out
}

func unifiedRoles(rs []models.UnifiedRoleable) []string {
	var out []string
	for _, r := range rs {
		if id := deref(r.GetRoleDefinitionId()); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func newUnifiedRoles(ids []string) []models.UnifiedRoleable {
	out := make([]models.UnifiedRoleable, 0, len(ids))
	for _, id := range ids {
		r := models.NewUnifiedRole()
		r.SetRoleDefinitionId(&id)
		out = append(out, r)
	}
	return out
}

// etag reads @odata.etag, which the SDK's models keep with the properties
// they do not describe.
func etag(extra map[string]any) string {
	switch v := extra["@odata.etag"].(type) {
	case *string:
		return deref(v)
	case string:
		return v
	}
	return ""
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// isoDuration formats a duration the way Graph wrote it. The SDK's own
// String normalises days into weeks ("P730D" becomes "P104W2D") and writes
// a zero duration as "P", which neither the domain nor Graph expects.
func isoDuration(d *absser.ISODuration) string {
	if d == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("P")
	for _, p := range []struct {
		n    int
		unit string
	}{{d.GetYears(), "Y"}, {d.GetWeeks(), "W"}, {d.GetDays(), "D"}} {
		if p.n != 0 {
			fmt.Fprintf(&b, "%d%s", p.n, p.unit)
		}
	}
	if h, m, s := d.GetHours(), d.GetMinutes(), d.GetSeconds(); h != 0 || m != 0 || s != 0 {
		b.WriteString("T")
		for _, p := range []struct {
			n    int
			unit string
		}{{h, "H"}, {m, "M"}, {s, "S"}} {
			if p.n != 0 {
				fmt.Fprintf(&b, "%d%s", p.n, p.unit)
			}
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}

// CreateRelationship creates a GDAP relationship request in status
// created. DisplayName, Duration and Roles are required; Duration and
// AutoExtendDuration are ISO 8601 ("P730D", "P180D", "PT0S").
func (c *Client) CreateRelationship(ctx context.Context, partnerTenantID string, req access.RelationshipRequest) (access.Relationship, error) {
	if err := need("partnerTenantID", partnerTenantID, "displayName", req.DisplayName, "duration", req.Duration); err != nil {
		return access.Relationship{}, fmt.Errorf("create relationship: %w", err)
	}
	if len(req.Roles) == 0 {
		return access.Relationship{}, fmt.Errorf("create relationship: %w", access.Invalid("missing arguments", map[string]string{"roles": "required"}))
	}
	extra := map[string]any{}
	// The durations go out as the caller wrote them (see isoDuration for
	// what the SDK would send instead), after checking they parse.
	for field, v := range map[string]string{"duration": req.Duration, "autoExtendDuration": req.AutoExtendDuration} {
		if v == "" {
			continue
		}
		if _, err := absser.ParseISODuration(v); err != nil {
			return access.Relationship{}, fmt.Errorf("create relationship: %w",
				access.Invalid("bad duration", map[string]string{field: "not an ISO 8601 duration such as P730D"}))
		}
		extra[field] = v
	}
	body := models.NewDelegatedAdminRelationship()
	body.SetDisplayName(&req.DisplayName)
	body.SetAdditionalData(extra)
	if req.CustomerTenantID != "" {
		cust := models.NewDelegatedAdminRelationshipCustomerParticipant()
		cust.SetTenantId(&req.CustomerTenantID)
		body.SetCustomer(cust)
	}
	details := models.NewDelegatedAdminAccessDetails()
	details.SetUnifiedRoles(newUnifiedRoles(req.Roles))
	body.SetAccessDetails(details)

	ctx = startCall(ctx, "graph.CreateRelationship", partnerTenantID)
	r, err := tenantrelationships.NewDelegatedAdminRelationshipsRequestBuilderInternal(map[string]string{}, c.adapter).Post(ctx, body, nil)
	if err != nil {
		return access.Relationship{}, fmt.Errorf("create relationship %q in %s: %w", req.DisplayName, partnerTenantID, translate(ctx, err, partnerTenantID, permGDAP))
	}
	if r == nil {
		return access.Relationship{}, fmt.Errorf("create relationship %q in %s: %w", req.DisplayName, partnerTenantID, access.Errorf(access.KindInternal, "graph answered no relationship"))
	}
	return relationship(r), nil
}

// LockForApproval locks a created relationship for customer approval and
// returns the customer's approval link. The request carries rel.ETag as
// If-Match: KindConflict if the relationship changed since it was read. A
// relationship already past created is not locked again; its link is
// returned, so a redelivered message does no harm.
func (c *Client) LockForApproval(ctx context.Context, partnerTenantID string, rel access.Relationship) (string, error) {
	if err := need("partnerTenantID", partnerTenantID, "relationship.ID", rel.ID); err != nil {
		return "", fmt.Errorf("lock relationship for approval: %w", err)
	}
	if rel.Status != "" && rel.Status != access.RelCreated {
		return ApprovalURL(rel.ID), nil
	}
	if err := c.relationshipRequest(ctx, "graph.LockForApproval", partnerTenantID, rel, models.LOCKFORAPPROVAL_DELEGATEDADMINRELATIONSHIPREQUESTACTION); err != nil {
		return "", fmt.Errorf("lock relationship %s for approval in %s: %w", rel.ID, partnerTenantID, err)
	}
	return ApprovalURL(rel.ID), nil
}

// TerminateRelationship asks for a relationship to end. One that is ending
// or ended already is left alone. KindConflict if rel.ETag is stale.
func (c *Client) TerminateRelationship(ctx context.Context, partnerTenantID string, rel access.Relationship) error {
	if err := need("partnerTenantID", partnerTenantID, "relationship.ID", rel.ID); err != nil {
		return fmt.Errorf("terminate relationship: %w", err)
	}
	switch rel.Status {
	case access.RelTerminationReq, access.RelTerminating, access.RelTerminated, access.RelExpired:
		return nil
	}
	if err := c.relationshipRequest(ctx, "graph.TerminateRelationship", partnerTenantID, rel, models.TERMINATE_DELEGATEDADMINRELATIONSHIPREQUESTACTION); err != nil {
		return fmt.Errorf("terminate relationship %s in %s: %w", rel.ID, partnerTenantID, err)
	}
	return nil
}

// relationshipRequest posts a partner action on a relationship, guarded by
// its ETag when known, and returns a translated error.
func (c *Client) relationshipRequest(ctx context.Context, op access.Op, partnerTenantID string, rel access.Relationship, action models.DelegatedAdminRelationshipRequestAction) error {
	body := models.NewDelegatedAdminRelationshipRequest()
	body.SetAction(&action)
	cfg := &tenantrelationships.DelegatedAdminRelationshipsItemRequestsRequestBuilderPostRequestConfiguration{}
	if rel.ETag != "" {
		cfg.Headers = abs.NewRequestHeaders()
		cfg.Headers.Add("If-Match", rel.ETag)
	}
	ctx = startCall(ctx, op, partnerTenantID)
	if _, err := c.relationship(rel.ID).Requests().Post(ctx, body, cfg); err != nil {
		return translate(ctx, err, partnerTenantID, permGDAP)
	}
	return nil
}

// AccessAssignments lists a relationship's access assignments.
func (c *Client) AccessAssignments(ctx context.Context, partnerTenantID, relationshipID string) ([]access.AccessAssignment, error) {
	if err := need("partnerTenantID", partnerTenantID, "relationshipID", relationshipID); err != nil {
		return nil, fmt.Errorf("list access assignments: %w", err)
	}
	ctx = startCall(ctx, "graph.AccessAssignments", partnerTenantID)
	out, err := c.listAccessAssignments(ctx, relationshipID)
	if err != nil {
		return nil, fmt.Errorf("list access assignments of relationship %s in %s: %w", relationshipID, partnerTenantID, translate(ctx, err, partnerTenantID, permGDAP))
	}
	return out, nil
}

func (c *Client) listAccessAssignments(ctx context.Context, relationshipID string) ([]access.AccessAssignment, error) {
	b := c.relationship(relationshipID).AccessAssignments()
	first, err := b.Get(ctx, nil)
	return collect(c, first, err, func(next string) (page[models.DelegatedAdminAccessAssignmentable], error) {
		return b.WithUrl(next).Get(ctx, nil)
	}, accessAssignment)
}

func accessAssignment(a models.DelegatedAdminAccessAssignmentable) access.AccessAssignment {
	out := access.AccessAssignment{ID: deref(a.GetId())}
	if ac := a.GetAccessContainer(); ac != nil {
		out.GroupID = deref(ac.GetAccessContainerId())
	}
	if d := a.GetAccessDetails(); d != nil {
		out.Roles = unifiedRoles(d.GetUnifiedRoles())
	}
	if s := a.GetStatus(); s != nil {
		out.Status = s.String()
	}
	return out
}

// CreateAccessAssignment gives a partner security group roles through a
// relationship. A group holds one live assignment per relationship: when
// Graph refuses the create (409 or 400) and the group already has a live
// one (not deleting or deleted), that assignment is returned, with its own
// roles for the caller to compare. Like AssignRole, it creates first and
// lists only after a refusal.
func (c *Client) CreateAccessAssignment(ctx context.Context, partnerTenantID, relationshipID, groupID string, roles []string) (access.AccessAssignment, error) {
	if err := need("partnerTenantID", partnerTenantID, "relationshipID", relationshipID, "groupID", groupID); err != nil {
		return access.AccessAssignment{}, fmt.Errorf("create access assignment: %w", err)
	}
	if len(roles) == 0 {
		return access.AccessAssignment{}, fmt.Errorf("create access assignment: %w", access.Invalid("missing arguments", map[string]string{"roles": "required"}))
	}
	wrap := func(err error) error {
		return fmt.Errorf("assign group %s to relationship %s in %s: %w", groupID, relationshipID, partnerTenantID, err)
	}
	container := models.NewDelegatedAdminAccessContainer()
	container.SetAccessContainerId(&groupID)
	kind := models.SECURITYGROUP_DELEGATEDADMINACCESSCONTAINERTYPE
	container.SetAccessContainerType(&kind)
	details := models.NewDelegatedAdminAccessDetails()
	details.SetUnifiedRoles(newUnifiedRoles(roles))
	body := models.NewDelegatedAdminAccessAssignment()
	body.SetAccessContainer(container)
	body.SetAccessDetails(details)

	ctx = startCall(ctx, "graph.CreateAccessAssignment", partnerTenantID)
	a, err := c.relationship(relationshipID).AccessAssignments().Post(ctx, body, nil)
	if err != nil {
		terr := translate(ctx, err, partnerTenantID, permGDAP)
		if k := access.KindOf(terr); k == access.KindConflict || k == access.KindInvalid {
			all, lerr := c.listAccessAssignments(ctx, relationshipID)
			if lerr != nil {
				return access.AccessAssignment{}, wrap(fmt.Errorf("%w (checking after the create was refused: %v)",
					translate(ctx, lerr, partnerTenantID, permGDAP), terr))
			}
			for _, x := range all {
				if strings.EqualFold(x.GroupID, groupID) && x.Status != "deleting" && x.Status != "deleted" {
					return x, nil
				}
			}
		}
		return access.AccessAssignment{}, wrap(terr)
	}
	if a == nil {
		return access.AccessAssignment{}, wrap(access.Errorf(access.KindInternal, "graph answered no access assignment"))
	}
	return accessAssignment(a), nil
}

// SendMail sends a plain-text mail as the given mailbox of the partner
// tenant, and keeps a copy in its Sent Items.
func (c *Client) SendMail(ctx context.Context, partnerTenantID, from string, m access.Mail) error {
	if err := need("partnerTenantID", partnerTenantID, "from", from); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if len(m.To) == 0 {
		return fmt.Errorf("send mail: %w", access.Invalid("no recipients", map[string]string{"to": "required"}))
	}
	msg := models.NewMessage()
	msg.SetSubject(&m.Subject)
	body := models.NewItemBody()
	text := models.TEXT_BODYTYPE
	body.SetContentType(&text)
	body.SetContent(&m.Body)
	msg.SetBody(body)
	to := make([]models.Recipientable, 0, len(m.To))
	for _, addr := range m.To {
		ea := models.NewEmailAddress()
		ea.SetAddress(&addr)
		r := models.NewRecipient()
		r.SetEmailAddress(ea)
		to = append(to, r)
	}
	msg.SetToRecipients(to)
	req := users.NewItemSendMailPostRequestBody()
	req.SetMessage(msg)
	save := true
	req.SetSaveToSentItems(&save)

	ctx = startCall(ctx, "graph.SendMail", partnerTenantID)
	if err := c.users().ByUserId(from).SendMail().Post(ctx, req, nil); err != nil {
		return fmt.Errorf("send mail %q as %s in %s: %w", m.Subject, from, partnerTenantID, translate(ctx, err, partnerTenantID, permMailSend))
	}
	return nil
}
