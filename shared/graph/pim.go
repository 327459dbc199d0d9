package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Time-bound directory roles through Privileged Identity Management
// (DESIGN.md section 13): "Create roleAssignmentScheduleRequests" (Graph
// v1.0) with adminAssign and an expiration at the grant's end, adminUpdate
// to move it, adminRemove to end it early. Entra ends the assignment by
// itself at its end, whatever happens to the app. They need
// RoleAssignmentSchedule.ReadWrite.Directory, and Entra ID P2 (or
// Governance) in the tenant: without it Graph answers 400
// AadPremiumLicenseRequired, KindRefused with Code access.CodeNeedsP2 here.

const permRoleSchedules = "RoleAssignmentSchedule.ReadWrite.Directory"

// Codes Graph answers schedule requests with.
const (
	codeLicence       = "AadPremiumLicenseRequired"
	codeExists        = "RoleAssignmentExists"
	codeDoesNotExists = "RoleAssignmentDoesNotExist"
)

func (c *Client) scheduleRequests() *rolemanagement.DirectoryRoleAssignmentScheduleRequestsRequestBuilder {
	return rolemanagement.NewDirectoryRoleAssignmentScheduleRequestsRequestBuilderInternal(map[string]string{}, c.adapter)
}

// schedule sends one schedule request for a tenant-wide role.
func (c *Client) schedule(ctx context.Context, tenantID string, action models.UnifiedRoleScheduleRequestActions, principalID, roleID string, end time.Time) error {
	body := models.NewUnifiedRoleAssignmentScheduleRequest()
	body.SetAction(&action)
	scope, why := "/", "Security Copilot partner access, until the grant ends"
	body.SetPrincipalId(&principalID)
	body.SetRoleDefinitionId(&roleID)
	body.SetDirectoryScopeId(&scope)
	body.SetJustification(&why)
	if action != models.ADMINREMOVE_UNIFIEDROLESCHEDULEREQUESTACTIONS {
		start, end := time.Now().UTC(), end.UTC()
		kind := models.AFTERDATETIME_EXPIRATIONPATTERNTYPE
		exp := models.NewExpirationPattern()
		exp.SetTypeEscaped(&kind)
		exp.SetEndDateTime(&end)
		info := models.NewRequestSchedule()
		info.SetStartDateTime(&start)
		info.SetExpiration(exp)
		body.SetScheduleInfo(info)
	}
	_, err := c.scheduleRequests().Post(ctx, body, nil)
	if err == nil {
		return nil
	}
	terr := translate(ctx, err, tenantID, permRoleSchedules)
	if access.Match(access.E(access.Code(codeLicence)), terr) {
		return access.E(access.KindRefused, access.Code(access.CodeNeedsP2), fmt.Sprintf("tenant %s has no Entra ID P2 for time-bound role assignments", tenantID), terr)
	}
	return terr
}

// AssignUntil makes a principal's role a time-bound active assignment that
// ends at end; an assignment that exists already is moved to end, so a
// redelivery changes nothing.
func (c *Client) AssignUntil(ctx context.Context, tenantID, principalID, roleID string, end time.Time) error {
	if err := need("tenantID", tenantID, "principalID", principalID, "roleID", roleID); err != nil {
		return fmt.Errorf("assign role until: %w", err)
	}
	ctx = startCall(ctx, "graph.AssignUntil", tenantID)
	err := c.schedule(ctx, tenantID, models.ADMINASSIGN_UNIFIEDROLESCHEDULEREQUESTACTIONS, principalID, roleID, end)
	if access.Match(access.E(access.Code(codeExists)), err) {
		err = c.schedule(ctx, tenantID, models.ADMINUPDATE_UNIFIEDROLESCHEDULEREQUESTACTIONS, principalID, roleID, end)
	}
	if err != nil {
		return fmt.Errorf("assign %s to %s until %s in %s: %w", access.RoleName(roleID), principalID, end.UTC().Format(time.RFC3339), tenantID, err)
	}
	return nil
}

// ExtendUntil moves the end of a time-bound assignment.
func (c *Client) ExtendUntil(ctx context.Context, tenantID, principalID, roleID string, end time.Time) error {
	if err := need("tenantID", tenantID, "principalID", principalID, "roleID", roleID); err != nil {
		return fmt.Errorf("extend role: %w", err)
	}
	ctx = startCall(ctx, "graph.ExtendUntil", tenantID)
	if err := c.schedule(ctx, tenantID, models.ADMINUPDATE_UNIFIEDROLESCHEDULEREQUESTACTIONS, principalID, roleID, end); err != nil {
		return fmt.Errorf("extend %s of %s to %s in %s: %w", access.RoleName(roleID), principalID, end.UTC().Format(time.RFC3339), tenantID, err)
	}
	return nil
}

// RemoveTimeBound ends a time-bound assignment now; one already gone (or
// ended by itself) is no error.
func (c *Client) RemoveTimeBound(ctx context.Context, tenantID, principalID, roleID string) error {
	if err := need("tenantID", tenantID, "principalID", principalID, "roleID", roleID); err != nil {
		return fmt.Errorf("remove role: %w", err)
	}
	ctx = startCall(ctx, "graph.RemoveTimeBound", tenantID)
	err := c.schedule(ctx, tenantID, models.ADMINREMOVE_UNIFIEDROLESCHEDULEREQUESTACTIONS, principalID, roleID, time.Time{})
	if err != nil && !access.Match(access.E(access.Code(codeDoesNotExists)), err) {
		return fmt.Errorf("remove %s from %s in %s: %w", access.RoleName(roleID), principalID, tenantID, err)
	}
	return nil
}
