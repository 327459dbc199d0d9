package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Permissions of the guest's whole life (DESIGN.md section 13), as "Update
// user" and "Delete a user" (Graph v1.0) name the least privileged ones.
const (
	permUserEnableDisable = "User.EnableDisableAccount.All"
	permUserDelete        = "User.DeleteRestore.All"
	permSignInActivity    = "AuditLog.Read.All"
)

// LastSignIn is when a user last signed in interactively
// (signInActivity.lastSignInDateTime; zero if never). Graph serves it only
// with AuditLog.Read.All and Entra ID P1 in the tenant: without them the
// answer is a 403, KindUnauthorized here (Code
// Authentication_RequestFromNonPremiumTenantOrB2CTenant without P1).
func (c *Client) LastSignIn(ctx context.Context, tenantID, userID string) (time.Time, error) {
	if err := need("tenantID", tenantID, "userID", userID); err != nil {
		return time.Time{}, fmt.Errorf("read sign-in activity: %w", err)
	}
	ctx = startCall(ctx, "graph.LastSignIn", tenantID)
	u, err := c.users().ByUserId(userID).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "signInActivity"}},
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read sign-in activity of %s in %s: %w", userID, tenantID, translate(ctx, err, tenantID, permSignInActivity))
	}
	if u == nil || u.GetSignInActivity() == nil {
		return time.Time{}, nil
	}
	return utc(u.GetSignInActivity().GetLastSignInDateTime()), nil
}

// UserByMail finds the user of a tenant whose mail is the address (a guest
// carries its external address there). KindNotFound if there is none.
func (c *Client) UserByMail(ctx context.Context, tenantID, mail string) (access.User, error) {
	if err := need("tenantID", tenantID, "mail", mail); err != nil {
		return access.User{}, fmt.Errorf("find user: %w", err)
	}
	ctx = startCall(ctx, "graph.UserByMail", tenantID)
	filter := "mail eq '" + odataString(mail) + "'"
	page, err := c.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{
			Filter: &filter,
			Select: []string{"id", "displayName", "mail", "userPrincipalName", "userType"},
		},
	})
	if err != nil {
		return access.User{}, fmt.Errorf("find user %s in %s: %w", mail, tenantID, translate(ctx, err, tenantID, permUserRead))
	}
	if found := page.GetValue(); len(found) > 0 {
		u := found[0]
		return access.User{ID: deref(u.GetId()), DisplayName: deref(u.GetDisplayName()), Mail: deref(u.GetMail()), UserType: deref(u.GetUserType())}, nil
	}
	return access.User{}, access.Errorf(access.KindNotFound, "no user of %s has the mail %s", tenantID, mail)
}

// SetAccountEnabled lets a user sign in again, or stops it.
func (c *Client) SetAccountEnabled(ctx context.Context, tenantID, userID string, enabled bool) error {
	if err := need("tenantID", tenantID, "userID", userID); err != nil {
		return fmt.Errorf("set accountEnabled: %w", err)
	}
	ctx = startCall(ctx, "graph.SetAccountEnabled", tenantID)
	body := models.NewUser()
	body.SetAccountEnabled(&enabled)
	if _, err := c.users().ByUserId(userID).Patch(ctx, body, nil); err != nil {
		return fmt.Errorf("set accountEnabled=%t on %s in %s: %w", enabled, userID, tenantID, translate(ctx, err, tenantID, permUserEnableDisable))
	}
	return nil
}

// DeleteUser deletes a user (to the tenant's deleted items); one already
// gone is no error.
func (c *Client) DeleteUser(ctx context.Context, tenantID, userID string) error {
	if err := need("tenantID", tenantID, "userID", userID); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	ctx = startCall(ctx, "graph.DeleteUser", tenantID)
	if err := c.users().ByUserId(userID).Delete(ctx, nil); err != nil {
		terr := translate(ctx, err, tenantID, permUserDelete)
		if access.IsKind(terr, access.KindNotFound) {
			return nil
		}
		return fmt.Errorf("delete user %s in %s: %w", userID, tenantID, terr)
	}
	return nil
}
