package lighthouse

import "github.com/mssp-tools/copilot-partner-access/shared/lifecycle"

// Templates renders the default offer's onboarding template for the
// lifecycle's Lighthouse requests.
type Templates struct {
	// GroupName is the partner group's display name in the template.
	GroupName string
}

var _ lifecycle.Templates = Templates{}

// Onboarding renders DefaultOffer for the partner group and subscription,
// and returns the role definitions it authorizes, permanent and eligible.
func (t Templates) Onboarding(partnerTenantID, groupID, subscriptionID string) ([]byte, []string, error) {
	offer := DefaultOffer(partnerTenantID, groupID, t.GroupName, subscriptionID)
	template, err := Render(offer)
	if err != nil {
		return nil, nil, err
	}
	var roles []string
	for _, a := range offer.Authorizations {
		roles = append(roles, a.RoleDefinitionID)
	}
	for _, a := range offer.EligibleAuthorizations {
		roles = append(roles, a.RoleDefinitionID)
	}
	return template, roles, nil
}
