package access

import "strings"

// This file holds the facts of Microsoft's guide "Grant partners access to
// Microsoft Security Copilot" as data, in the project's own words: which
// plugins work through which method, whose capacity (SCUs) pays for prompts,
// how time-bound and least-privileged access is done, and the steps.

// Support says whether a plugin works through an access method.
type Support string

// Levels of support.
const (
	Supported   Support = "yes"
	Unsupported Support = "no"
	Partial     Support = "partial" // some capabilities only
)

// Plugin is a Security Copilot plugin and its support per method.
type Plugin struct {
	Name    string   // as the guide writes it
	Aliases []string // short forms accepted from users
	Support map[Method]Support
	Note    string
}

// Plugins is the guide's plugin matrix. B2B guests work inside the customer
// tenant, so every plugin the customer has is available to them.
var Plugins = []Plugin{
	{Name: "Microsoft Defender External Attack Surface Management", Aliases: []string{"EASM", "Defender EASM", "Microsoft Defender External Attack Surface Mgmt", "Defender External Attack Surface Management"},
		Support: map[Method]Support{GDAP: Unsupported, B2B: Supported, Lighthouse: Unsupported}},
	{Name: "Microsoft Defender Threat Intelligence", Aliases: []string{"MDTI", "Defender Threat Intelligence"},
		Support: map[Method]Support{GDAP: Unsupported, B2B: Supported, Lighthouse: Unsupported}},
	{Name: "Microsoft Defender XDR", Aliases: []string{"Defender XDR", "XDR"},
		Support: map[Method]Support{GDAP: Supported, B2B: Supported, Lighthouse: Unsupported}},
	{Name: "Microsoft Entra", Aliases: []string{"Entra"},
		Support: map[Method]Support{GDAP: Partial, B2B: Supported, Lighthouse: Unsupported},
		Note:    "through GDAP only a few Entra capabilities work"},
	{Name: "Microsoft Intune", Aliases: []string{"Intune"},
		Support: map[Method]Support{GDAP: Supported, B2B: Supported, Lighthouse: Unsupported}},
	{Name: "Microsoft Purview", Aliases: []string{"Purview"},
		Support: map[Method]Support{GDAP: Supported, B2B: Supported, Lighthouse: Unsupported}},
	{Name: "Microsoft Sentinel", Aliases: []string{"Sentinel"},
		Support: map[Method]Support{GDAP: Unsupported, B2B: Supported, Lighthouse: Supported}},
	{Name: "NL2KQL Defender", Aliases: []string{"NL2KQL for Defender"},
		Support: map[Method]Support{GDAP: Supported, B2B: Supported, Lighthouse: Unsupported}},
	{Name: "NL2KQL Sentinel", Aliases: []string{"NL2KQL for Sentinel"},
		Support: map[Method]Support{GDAP: Unsupported, B2B: Supported, Lighthouse: Supported}},
}

// LookupPlugin finds a plugin by its name or a short form, ignoring case
// and spacing.
func LookupPlugin(name string) (Plugin, bool) {
	key := roleKey(name)
	for _, p := range Plugins {
		if roleKey(p.Name) == key {
			return p, true
		}
		for _, a := range p.Aliases {
			if roleKey(a) == key {
				return p, true
			}
		}
	}
	return Plugin{}, false
}

// Capacity plans: whose Security Copilot Compute Units a prompt consumes.
const (
	PaidByCustomer = "customer"
	PaidByPartner  = "partner"
)

// MethodFacts is what the guide says about one access method.
type MethodFacts struct {
	Method      Method
	Title       string
	Recommended bool
	// CapacityPlan is whose SCUs are used when the partner prompts.
	CapacityPlan string
	// TimeBoundBuiltIn is true when the method itself ends access.
	TimeBoundBuiltIn bool
	TimeBound        string
	LeastPrivilege   string
	SecurityGroups   string // "required" or "optional"
	Plugins          string
	Login            string
	Embedded         string
	Prerequisites    []string
	Steps            []Step
}

// Step is one step of setting a method up, and who does it.
type Step struct {
	Who  string // "partner" or "customer"
	What string
}

// Facts holds the guide's comparison of the three methods.
var Facts = []MethodFacts{
	{
		Method: GDAP, Title: "Granular Delegated Admin Privileges", Recommended: true,
		CapacityPlan: PaidByCustomer, TimeBoundBuiltIn: true,
		TimeBound:      "built into the approval: every relationship has an end date (P1D to P2Y)",
		LeastPrivilege: "access goes to partner security groups, with a short list of least-privileged roles",
		SecurityGroups: "required",
		Plugins:        "a subset of plugins",
		Login:          "the partner signs in to the customer's Security Copilot through Service management",
		Embedded:       "supported, with Service management links",
		Prerequisites:  []string{"the partner is a Cloud Solution Provider (CSP) in Partner Center"},
		Steps: []Step{
			{"partner", "send the customer a GDAP relationship request for Security Reader and Security Operator"},
			{"customer", "approve the relationship request in the Microsoft 365 admin center"},
			{"partner", "assign the approved roles to a partner security group"},
			{"customer", "add the requested roles to the Security Copilot contributor (or owner) role"},
			{"partner", "analysts in the security group open Security Copilot for the customer"},
		},
	},
	{
		Method: B2B, Title: "B2B collaboration (guest accounts)",
		CapacityPlan: PaidByCustomer, TimeBoundBuiltIn: false,
		TimeBound:      "not built in: PIM can limit it but the customer maintains it; this app ends it at expiry",
		LeastPrivilege: "security groups are optional and the customer maintains them",
		SecurityGroups: "optional",
		Plugins:        "every plugin the customer has",
		Login:          "the guest uses the tenant switch in Security Copilot, or a link with ?tenantId=",
		Embedded:       "supported as for any user",
		Steps: []Step{
			{"customer", "invite the partner analyst as a guest (User Administrator or similar role needed)"},
			{"customer", "give the guest Security Reader or Security Operator"},
			{"partner", "the analyst accepts the invitation mail"},
			{"partner", "the analyst opens https://securitycopilot.microsoft.com/?tenantId=<customer> or switches tenant"},
		},
	},
	{
		Method: Lighthouse, Title: "Azure Lighthouse",
		CapacityPlan: PaidByPartner, TimeBoundBuiltIn: false,
		TimeBound:      "only PIM eligible authorizations are time-bound; the delegation itself never expires, so this app watches it in Azure Resource Manager and removes it itself at the end",
		LeastPrivilege: "requires Microsoft Entra security groups in the partner tenant",
		SecurityGroups: "required",
		Plugins:        "delegated Azure resources, which includes Microsoft Sentinel",
		Login:          "the partner prompts from its own Security Copilot against any delegated Sentinel workspace",
		Embedded:       "supported through the unified SecOps platform (Defender XDR with Sentinel)",
		Prerequisites:  []string{"the partner has an Azure subscription", "the customer's subscription ids to onboard"},
		Steps: []Step{
			{"partner", "gather the partner tenant id, customer tenant id and the subscriptions to manage"},
			{"partner", "define authorizations: partner groups and Azure built-in roles, eligible ones for PIM"},
			{"partner", "create the ARM template with mspOfferName and mspOfferDescription"},
			{"customer", "deploy the template once per subscription (portal, PowerShell or Azure CLI)"},
			{"partner", "confirm the subscription is visible under My customers"},
			{"partner", "the app sees the delegation in Azure Resource Manager, starts the grant then, and deletes the delegation itself when the grant ends"},
		},
	},
}

// MethodFactsOf returns the guide's facts about a method.
func MethodFactsOf(m Method) (MethodFacts, bool) {
	for _, f := range Facts {
		if f.Method == m {
			return f, true
		}
	}
	return MethodFacts{}, false
}

// TenantSwitchLink is where a guest opens Security Copilot in the customer
// tenant.
func TenantSwitchLink(customerTenantID string) string {
	return "https://securitycopilot.microsoft.com/?tenantId=" + strings.ToLower(customerTenantID)
}

// LighthouseRemoval says, for the advisor, the mails and the portal, who
// ends an Azure Lighthouse delegation (DESIGN §15).
const LighthouseRemoval = "The app removes the Azure Lighthouse delegation itself when the grant ends (or is revoked); " +
	"if you take away its role to do so, you will be asked to remove it yourself."
