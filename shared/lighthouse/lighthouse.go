// Package lighthouse renders the Azure Lighthouse onboarding template that a
// customer deploys in its own tenant to delegate a subscription, or one
// resource group of it, to the partner (MSSP): a
// Microsoft.ManagedServices registration definition (who in the partner
// tenant gets which Azure built-in role, permanently or just in time through
// PIM) and the registration assignment that binds it to the scope.
//
// The output follows the shape of Microsoft's published samples
// (Azure/Azure-Lighthouse-samples, templates/delegated-resource-management
// and its eligible-authorizations variant) so that a customer who knows those
// recognises every line. Rendering is pure: no network, the same offer always
// gives the same bytes.
//
// A Lighthouse delegation never expires by itself; the app watches it in
// Azure Resource Manager and deletes the registration assignment itself at
// the end, which is why the offer gives the app's own identity (and only
// it) the role that deletes the assignment (Offer.WithApp).
package lighthouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Offer is what a partner asks a customer to delegate.
type Offer struct {
	// MSPOfferName is shown to the customer under Service providers and
	// names the registration definition.
	MSPOfferName string
	// MSPOfferDescription is shown next to the name.
	MSPOfferDescription string
	// ManagedByTenantID is the partner tenant, a GUID.
	ManagedByTenantID string
	// Scope is the subscription, or the resource group in it, to delegate.
	Scope Scope
	// Authorizations are permanent role assignments; at least one.
	Authorizations []Authorization
	// EligibleAuthorizations are just-in-time role assignments, activated
	// through Privileged Identity Management in the partner tenant (which
	// needs Microsoft Entra ID P2 there). Optional.
	EligibleAuthorizations []EligibleAuthorization
}

// Scope is where the delegation lands in the customer tenant.
type Scope struct {
	// SubscriptionID is the customer subscription the template is deployed
	// to (one deployment per subscription). The template itself does not
	// need it; the app tracks the delegation as lighthouse:<subscription
	// id>, so an offer without one could not be tracked to its expiry.
	SubscriptionID string
	// ResourceGroup, when set, delegates only this resource group of the
	// subscription (for example the one holding the Sentinel workspace)
	// instead of the whole subscription.
	ResourceGroup string
}

// Authorization gives a principal of the partner tenant an Azure built-in
// role on the delegated scope, permanently.
type Authorization struct {
	PrincipalID          string // user, group or service principal object id in the partner tenant; a group is the norm
	PrincipalDisplayName string // shown to the customer; optional
	RoleDefinitionID     string // a catalogue role, by id or display name
}

// EligibleAuthorization gives a principal of the partner tenant a role it
// must activate, for a limited time, through Privileged Identity
// Management.
type EligibleAuthorization struct {
	PrincipalID          string // user or group object id in the partner tenant (not a service principal: it cannot activate)
	PrincipalDisplayName string // shown to the customer; required for eligible authorizations
	RoleDefinitionID     string // a catalogue role, by id or display name
	// MaximumActivation is how long one activation lasts, an ISO 8601
	// duration between PT30M and PT8H; empty means PT8H.
	MaximumActivation string
	// RequireMFA asks for Microsoft Entra multifactor authentication at
	// activation.
	RequireMFA bool
	// Approvers are up to 10 user or group object ids in the partner tenant
	// who approve each activation; none means activation needs no approval.
	Approvers []string
}

// DefaultMaximumActivation is the activation length Lighthouse uses when
// none is given, and the longest it allows.
const DefaultMaximumActivation = "PT8H"

// DefaultOffer is the least-privilege, time-bound offer of Microsoft's
// guide for Security Copilot over Microsoft Sentinel: the partner group
// reads Sentinel permanently and responds to incidents only after a
// just-in-time activation (PIM, multifactor authentication, at most 8
// hours). Nobody in the partner group can remove the delegation: the app
// does it itself when the grant ends, through the authorization WithApp
// adds. DefaultOffer does not validate; Render does.
func DefaultOffer(partnerTenantID, groupID, groupName, subscriptionID string) Offer {
	who := groupName
	if strings.TrimSpace(who) == "" {
		who = "The partner's security group"
	}
	return Offer{
		MSPOfferName: DefaultOfferName,
		MSPOfferDescription: fmt.Sprintf("%s reads Microsoft Sentinel and responds to incidents only through a just-in-time activation "+
			"(PIM, MFA, at most 8 hours). The partner's access app removes this delegation itself when the grant ends. "+
			"Security Copilot prompts run on the partner's capacity (SCUs).", who),
		ManagedByTenantID: partnerTenantID,
		Scope:             Scope{SubscriptionID: subscriptionID},
		Authorizations: []Authorization{
			{PrincipalID: groupID, PrincipalDisplayName: groupName, RoleDefinitionID: SentinelReaderID},
		},
		EligibleAuthorizations: []EligibleAuthorization{
			{PrincipalID: groupID, PrincipalDisplayName: groupName, RoleDefinitionID: SentinelResponderID,
				MaximumActivation: DefaultMaximumActivation, RequireMFA: true},
		},
	}
}

// DefaultOfferName is the name DefaultOffer gives the registration
// definition.
const DefaultOfferName = "Security Copilot partner access"

// AppDisplayName is how the onboarding template shows the app's identity
// to the customer.
const AppDisplayName = "Security Copilot partner access app (removes this delegation when the grant ends)"

// WithApp returns o with the app's own identity (the managed identity's
// object id in the partner tenant, LIGHTHOUSE_APP_PRINCIPAL_ID) authorized
// with the Managed Services Registration assignment Delete Role and nothing
// else: it reads and deletes the registration assignment, which is how the
// app ends the delegation (DESIGN §15). An offer that already gives the app
// that role is returned unchanged.
func (o Offer) WithApp(appPrincipalID string) Offer {
	id := strings.ToLower(strings.TrimSpace(appPrincipalID))
	for _, a := range o.Authorizations {
		if strings.EqualFold(strings.TrimSpace(a.PrincipalID), id) && strings.EqualFold(a.RoleDefinitionID, RegistrationAssignmentDeleteID) {
			return o
		}
	}
	o.Authorizations = append(append([]Authorization(nil), o.Authorizations...),
		Authorization{PrincipalID: id, PrincipalDisplayName: AppDisplayName, RoleDefinitionID: RegistrationAssignmentDeleteID})
	return o
}

// Render returns the onboarding ARM template for o: indented JSON, complete
// and deployable as it is (`az deployment sub create --location <region>
// --template-file <file>`), its parameters defaulting to the offer's values.
//
// Render returns an *access.Error of KindInvalid listing field problems if
// o is malformed (GUIDs, names, durations, a missing authorization), and of
// KindRefused if o asks for a role outside the catalogue or one that can
// grant access to others (Owner, User Access Administrator, Role Based
// Access Control Administrator, ...).
func Render(o Offer) ([]byte, error) {
	n, err := check(o)
	if err != nil {
		return nil, err
	}
	return encode(buildTemplate(n))
}

// RenderParameters returns the parameters file that matches Render's
// template for o, for customers who deploy Microsoft's sample template with
// their own parameters or review values apart from the template. It fails
// exactly as Render does.
func RenderParameters(o Offer) ([]byte, error) {
	n, err := check(o)
	if err != nil {
		return nil, err
	}
	return encode(buildParameters(n))
}

// encode writes JSON indented like Microsoft's samples, without the HTML
// escaping of encoding/json: a customer reviews this file by eye, and
// "\u0026" for "&" in an offer description helps nobody.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	return buf.Bytes(), nil
}
