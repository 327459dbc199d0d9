package lighthouse

// The ARM template as Go types. Structs rather than maps keep the key order
// of Microsoft's samples (a customer compares the two) and make the output
// deterministic.

// Schemas and API versions. The template targets a subscription (the
// registration definition lives there even when only a resource group is
// delegated); 2019-08-01 is the schema Microsoft's eligible-authorization
// samples use. 2018-05-01 is the newest subscription-level parameters
// schema published. 2022-10-01 is the newest GA Microsoft.ManagedServices
// API version, the first GA one with eligibleAuthorizations.
const (
	templateSchema       = "https://schema.management.azure.com/schemas/2019-08-01/subscriptionDeploymentTemplate.json#"
	parametersSchema     = "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentParameters.json#"
	nestedTemplateSchema = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
	contentVersion       = "1.0.0.0"

	managedServicesAPIVersion = "2022-10-01"
	deploymentsAPIVersion     = "2021-04-01"

	definitionType = "Microsoft.ManagedServices/registrationDefinitions"
	assignmentType = "Microsoft.ManagedServices/registrationAssignments"
	deploymentType = "Microsoft.Resources/deployments"
)

// Template expressions. The definition and assignment names are GUIDs
// derived from the partner tenant and the offer name, so redeploying the
// same offer updates it in place instead of adding a second delegation. The
// samples derive them from the offer name alone; adding the tenant keeps two
// partners who chose the same offer name (this product's default name, for
// one) from overwriting each other's delegation in a shared customer
// subscription.
const (
	registrationNameExpr = "[guid(parameters('managedByTenantId'), parameters('mspOfferName'))]"
	assignmentNameExpr   = "[guid(parameters('managedByTenantId'), parameters('mspOfferName'))]"
	definitionIDExpr     = "[resourceId('Microsoft.ManagedServices/registrationDefinitions', variables('mspRegistrationName'))]"
)

type template struct {
	Schema         string             `json:"$schema"`
	ContentVersion string             `json:"contentVersion"`
	Metadata       templateMetadata   `json:"metadata"`
	Parameters     templateParameters `json:"parameters"`
	Variables      templateVariables  `json:"variables"`
	Resources      []any              `json:"resources"`
	Outputs        templateOutputs    `json:"outputs"`
}

// templateMetadata tells whoever opens the file where it is meant to be
// deployed; ARM ignores it.
type templateMetadata struct {
	Description    string `json:"description"`
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup,omitempty"`
}

type description struct {
	Description string `json:"description"`
}

type parameter struct {
	Type         string      `json:"type"`
	DefaultValue any         `json:"defaultValue"`
	Metadata     description `json:"metadata"`
}

// offerParameters are the offer's parameters, declared in the template
// (P is parameter) and given in the parameters file (P is value): one list,
// so that the two files name the same parameters. eligibleAuthorizations
// is there only when the offer has some, like Microsoft's two families of
// samples: an offer without them then needs no PIM licence and shows the
// customer nothing it does not use.
type offerParameters[P any] struct {
	MSPOfferName           P  `json:"mspOfferName"`
	MSPOfferDescription    P  `json:"mspOfferDescription"`
	ManagedByTenantID      P  `json:"managedByTenantId"`
	Authorizations         P  `json:"authorizations"`
	EligibleAuthorizations *P `json:"eligibleAuthorizations,omitempty"`
	RGName                 *P `json:"rgName,omitempty"`
}

type templateParameters = offerParameters[parameter]

type templateVariables struct {
	MSPRegistrationName string `json:"mspRegistrationName"`
	MSPAssignmentName   string `json:"mspAssignmentName"`
}

type registrationDefinition struct {
	Type       string               `json:"type"`
	APIVersion string               `json:"apiVersion"`
	Name       string               `json:"name"`
	Properties definitionProperties `json:"properties"`
}

type definitionProperties struct {
	RegistrationDefinitionName string `json:"registrationDefinitionName"`
	Description                string `json:"description"`
	ManagedByTenantID          string `json:"managedByTenantId"`
	Authorizations             string `json:"authorizations"`
	EligibleAuthorizations     string `json:"eligibleAuthorizations,omitempty"`
}

type registrationAssignment struct {
	Type       string               `json:"type"`
	APIVersion string               `json:"apiVersion"`
	Name       string               `json:"name"`
	DependsOn  []string             `json:"dependsOn,omitempty"`
	Properties assignmentProperties `json:"properties"`
}

type assignmentProperties struct {
	RegistrationDefinitionID string `json:"registrationDefinitionId"`
}

// nestedDeployment puts the assignment in the resource group while the
// definition stays at the subscription, as Microsoft's rg sample does. Its
// template is evaluated in the outer scope (the ARM default), so it may use
// the outer variables and resolves the definition's subscription-level id.
type nestedDeployment struct {
	Type          string               `json:"type"`
	APIVersion    string               `json:"apiVersion"`
	Name          string               `json:"name"`
	ResourceGroup string               `json:"resourceGroup"`
	DependsOn     []string             `json:"dependsOn"`
	Properties    deploymentProperties `json:"properties"`
}

type deploymentProperties struct {
	Mode     string         `json:"mode"`
	Template nestedTemplate `json:"template"`
}

type nestedTemplate struct {
	Schema         string                   `json:"$schema"`
	ContentVersion string                   `json:"contentVersion"`
	Parameters     struct{}                 `json:"parameters"`
	Resources      []registrationAssignment `json:"resources"`
}

type output struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type templateOutputs struct {
	MSPOfferName           output  `json:"mspOfferName"`
	Authorizations         output  `json:"authorizations"`
	EligibleAuthorizations *output `json:"eligibleAuthorizations,omitempty"`
}

// authorizationJSON is one element of the authorizations array. There is no
// delegatedRoleDefinitionIds: it only serves User Access Administrator,
// which the product never delegates.
type authorizationJSON struct {
	PrincipalID            string `json:"principalId"`
	PrincipalIDDisplayName string `json:"principalIdDisplayName,omitempty"`
	RoleDefinitionID       string `json:"roleDefinitionId"`
}

type eligibleJSON struct {
	PrincipalID            string    `json:"principalId"`
	PrincipalIDDisplayName string    `json:"principalIdDisplayName"`
	RoleDefinitionID       string    `json:"roleDefinitionId"`
	JustInTimeAccessPolicy jitPolicy `json:"justInTimeAccessPolicy"`
}

type jitPolicy struct {
	MultiFactorAuthProvider   string     `json:"multiFactorAuthProvider"`
	MaximumActivationDuration string     `json:"maximumActivationDuration"`
	ManagedByTenantApprovers  []approver `json:"managedByTenantApprovers,omitempty"`
}

func (p jitPolicy) equal(q jitPolicy) bool {
	if p.MultiFactorAuthProvider != q.MultiFactorAuthProvider ||
		p.MaximumActivationDuration != q.MaximumActivationDuration ||
		len(p.ManagedByTenantApprovers) != len(q.ManagedByTenantApprovers) {
		return false
	}
	set := map[string]bool{}
	for _, a := range p.ManagedByTenantApprovers {
		set[a.PrincipalID] = true
	}
	for _, a := range q.ManagedByTenantApprovers {
		if !set[a.PrincipalID] {
			return false
		}
	}
	return true
}

type approver struct {
	PrincipalID string `json:"principalId"`
}

type parametersFile struct {
	Schema         string          `json:"$schema"`
	ContentVersion string          `json:"contentVersion"`
	Parameters     parameterValues `json:"parameters"`
}

type value struct {
	Value any `json:"value"`
}

type parameterValues = offerParameters[value]

func buildTemplate(o offer) template {
	t := template{
		Schema:         templateSchema,
		ContentVersion: contentVersion,
		Metadata: templateMetadata{
			Description: "Azure Lighthouse onboarding: delegates this subscription to the managing tenant below. " +
				"Deploy it in the customer tenant with: az account set --subscription " + o.subscriptionID +
				" && az deployment sub create --location <region> --template-file <this file>",
			SubscriptionID: o.subscriptionID,
			ResourceGroup:  o.resourceGroup,
		},
		Parameters: templateParameters{
			MSPOfferName: parameter{Type: "string", DefaultValue: o.name,
				Metadata: description{"Name of the offer; the customer sees it under Service providers."}},
			MSPOfferDescription: parameter{Type: "string", DefaultValue: o.description,
				Metadata: description{"Description of the offer, shown next to its name."}},
			ManagedByTenantID: parameter{Type: "string", DefaultValue: o.tenantID,
				Metadata: description{"Tenant id of the managed service provider (the managing tenant)."}},
			Authorizations: parameter{Type: "array", DefaultValue: o.authorizations,
				Metadata: description{"Permanent authorizations: a principal of the managing tenant (principalId, principalIdDisplayName shown to the customer) and the Azure built-in role it holds on the delegated scope (roleDefinitionId)."}},
		},
		Variables: templateVariables{
			MSPRegistrationName: registrationNameExpr,
			MSPAssignmentName:   assignmentNameExpr,
		},
		Outputs: templateOutputs{
			MSPOfferName:   output{Type: "string", Value: "[concat('Managed by', ' ', parameters('mspOfferName'))]"},
			Authorizations: output{Type: "array", Value: "[parameters('authorizations')]"},
		},
	}
	props := definitionProperties{
		RegistrationDefinitionName: "[parameters('mspOfferName')]",
		Description:                "[parameters('mspOfferDescription')]",
		ManagedByTenantID:          "[parameters('managedByTenantId')]",
		Authorizations:             "[parameters('authorizations')]",
	}
	if len(o.eligible) > 0 {
		t.Parameters.EligibleAuthorizations = &parameter{Type: "array", DefaultValue: o.eligible,
			Metadata: description{"Eligible authorizations: roles a principal of the managing tenant activates just in time through Privileged Identity Management, under its justInTimeAccessPolicy (multifactor authentication, maximum activation duration, approvers in the managing tenant)."}}
		props.EligibleAuthorizations = "[parameters('eligibleAuthorizations')]"
		t.Outputs.EligibleAuthorizations = &output{Type: "array", Value: "[parameters('eligibleAuthorizations')]"}
	}
	definition := registrationDefinition{
		Type:       definitionType,
		APIVersion: managedServicesAPIVersion,
		Name:       "[variables('mspRegistrationName')]",
		Properties: props,
	}
	assignment := registrationAssignment{
		Type:       assignmentType,
		APIVersion: managedServicesAPIVersion,
		Name:       "[variables('mspAssignmentName')]",
		Properties: assignmentProperties{RegistrationDefinitionID: definitionIDExpr},
	}
	if o.resourceGroup == "" {
		assignment.DependsOn = []string{definitionIDExpr}
		t.Resources = []any{definition, assignment}
		return t
	}
	t.Metadata.Description = "Azure Lighthouse onboarding: delegates the resource group " + o.resourceGroup +
		" of this subscription to the managing tenant below. Deploy it in the customer tenant with: az account set --subscription " +
		o.subscriptionID + " && az deployment sub create --location <region> --template-file <this file>"
	t.Parameters.RGName = &parameter{Type: "string", DefaultValue: o.resourceGroup,
		Metadata: description{"Name of the resource group to delegate; it must exist in the subscription."}}
	t.Resources = []any{definition, nestedDeployment{
		Type:          deploymentType,
		APIVersion:    deploymentsAPIVersion,
		Name:          "rgAssignment",
		ResourceGroup: "[parameters('rgName')]",
		DependsOn:     []string{definitionIDExpr},
		Properties: deploymentProperties{
			Mode: "Incremental",
			Template: nestedTemplate{
				Schema:         nestedTemplateSchema,
				ContentVersion: contentVersion,
				Resources:      []registrationAssignment{assignment},
			},
		},
	}}
	return t
}

func buildParameters(o offer) parametersFile {
	f := parametersFile{
		Schema:         parametersSchema,
		ContentVersion: contentVersion,
		Parameters: parameterValues{
			MSPOfferName:        value{o.name},
			MSPOfferDescription: value{o.description},
			ManagedByTenantID:   value{o.tenantID},
			Authorizations:      value{o.authorizations},
		},
	}
	if len(o.eligible) > 0 {
		f.Parameters.EligibleAuthorizations = &value{o.eligible}
	}
	if o.resourceGroup != "" {
		f.Parameters.RGName = &value{o.resourceGroup}
	}
	return f
}
