package lighthouse

import (
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// Templates renders the default offer's onboarding template for the
// lifecycle's Lighthouse requests.
type Templates struct {
	// GroupName is the partner group's display name in the template.
	GroupName string
	// AppPrincipalID is the app's own identity in the partner tenant
	// (LIGHTHOUSE_APP_PRINCIPAL_ID), given the Delete Role so that the app
	// removes the delegation at the end. Empty: the template names no one
	// to remove it, and the customer must.
	AppPrincipalID string
}

var _ lifecycle.Templates = Templates{}

// Onboarding renders DefaultOffer for the partner group and subscription,
// with the app's authorization, and returns the role definitions it gives
// the partner group, permanent and eligible (the app's own role is not the
// partner's access).
func (t Templates) Onboarding(partnerTenantID, groupID, subscriptionID string) ([]byte, []string, error) {
	offer := DefaultOffer(partnerTenantID, groupID, t.GroupName, subscriptionID)
	if strings.TrimSpace(t.AppPrincipalID) != "" {
		offer = offer.WithApp(t.AppPrincipalID)
	}
	template, err := Render(offer)
	if err != nil {
		return nil, nil, err
	}
	var roles []string
	for _, a := range offer.Authorizations {
		if strings.EqualFold(strings.TrimSpace(a.PrincipalID), strings.TrimSpace(groupID)) {
			roles = append(roles, a.RoleDefinitionID)
		}
	}
	for _, a := range offer.EligibleAuthorizations {
		roles = append(roles, a.RoleDefinitionID)
	}
	return template, roles, nil
}
