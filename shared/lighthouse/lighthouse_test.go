package lighthouse

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Ids of a made-up partner and customer.
const (
	partnerTenant = "2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01"
	socGroup      = "6a1d2c3b-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
	leadsGroup    = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
	subscription  = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	appIdentity   = "7c6b5a49-3827-4165-9f0e-d1c2b3a49586"
)

func defaultOffer() Offer {
	return DefaultOffer(partnerTenant, socGroup, "Fabrikam SOC Analysts", subscription).WithApp(appIdentity)
}

// rgOffer delegates only the resource group of the Sentinel workspace, with
// an approver on the eligible role and roles given by name.
func rgOffer() Offer {
	return Offer{
		MSPOfferName:        "Fabrikam MDR for Sentinel",
		MSPOfferDescription: "Fabrikam SOC: Sentinel triage & response",
		ManagedByTenantID:   partnerTenant,
		Scope:               Scope{SubscriptionID: subscription, ResourceGroup: "rg-sentinel-prod"},
		Authorizations: []Authorization{
			{PrincipalID: socGroup, PrincipalDisplayName: "Fabrikam SOC Analysts", RoleDefinitionID: "Microsoft Sentinel Reader"},
			{PrincipalID: socGroup, PrincipalDisplayName: "Fabrikam SOC Analysts", RoleDefinitionID: LogAnalyticsReaderID},
			{PrincipalID: leadsGroup, PrincipalDisplayName: "Fabrikam SOC Leads", RoleDefinitionID: RegistrationAssignmentDeleteID},
		},
		EligibleAuthorizations: []EligibleAuthorization{
			{PrincipalID: socGroup, PrincipalDisplayName: "Fabrikam SOC Analysts", RoleDefinitionID: SentinelResponderID,
				MaximumActivation: "PT4H", RequireMFA: true, Approvers: []string{leadsGroup}},
		},
	}
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		file   string
		offer  Offer
		render func(Offer) ([]byte, error)
	}{
		{"subscription.json", defaultOffer(), Render},
		{"subscription.parameters.json", defaultOffer(), RenderParameters},
		{"rg.json", rgOffer(), Render},
		{"rg.parameters.json", rgOffer(), RenderParameters},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := tt.render(tt.offer)
			if err != nil {
				t.Fatalf("render = %v, want no error", err)
			}
			if !json.Valid(got) {
				t.Fatalf("render gave invalid JSON:\n%s", got)
			}
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("render differs from %s (go test -update rewrites it):\n%s", path, firstDiff(got, want))
			}
		})
	}
}

// firstDiff shows the first line where got and want differ, got first.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return "(same lines, different bytes)"
}

// decode parses rendered JSON into generic values, as ARM would read it.
func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b)
	}
	return v
}

// rendered renders o's template, failing the test on error, and returns it
// as written and decoded.
func rendered(t *testing.T, o Offer) ([]byte, any) {
	t.Helper()
	b, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	return b, decode(t, b)
}

// pathValue is a value a decoded document should hold at a path.
type pathValue struct {
	path []any
	want any
}

// wantValues fails the test for each value doc does not hold.
func wantValues(t *testing.T, doc any, values []pathValue) {
	t.Helper()
	for _, c := range values {
		if got := at(t, doc, c.path...); got != c.want {
			t.Errorf("%v = %v, want %v", c.path, got, c.want)
		}
	}
}

// at follows a path of object keys (string) and array indexes (int).
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for i, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %v", path, path[:i])
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%v: no key %q", path, k)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("%v: no element %d at %v", path, k, path[:i])
			}
			v = a[k]
		}
	}
	return v
}

func has(v any, key string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

func TestRenderShapeSubscription(t *testing.T) {
	b, tpl := rendered(t, defaultOffer())
	wantValues(t, tpl, []pathValue{
		{[]any{"$schema"}, "https://schema.management.azure.com/schemas/2019-08-01/subscriptionDeploymentTemplate.json#"},
		{[]any{"contentVersion"}, "1.0.0.0"},
		{[]any{"resources", 0, "type"}, "Microsoft.ManagedServices/registrationDefinitions"},
		{[]any{"resources", 0, "apiVersion"}, "2022-10-01"},
		{[]any{"resources", 0, "name"}, "[variables('mspRegistrationName')]"},
		{[]any{"resources", 0, "properties", "registrationDefinitionName"}, "[parameters('mspOfferName')]"},
		{[]any{"resources", 0, "properties", "description"}, "[parameters('mspOfferDescription')]"},
		{[]any{"resources", 0, "properties", "managedByTenantId"}, "[parameters('managedByTenantId')]"},
		{[]any{"resources", 0, "properties", "authorizations"}, "[parameters('authorizations')]"},
		{[]any{"resources", 0, "properties", "eligibleAuthorizations"}, "[parameters('eligibleAuthorizations')]"},
		{[]any{"resources", 1, "type"}, "Microsoft.ManagedServices/registrationAssignments"},
		{[]any{"resources", 1, "apiVersion"}, "2022-10-01"},
		{[]any{"resources", 1, "name"}, "[variables('mspAssignmentName')]"},
		{[]any{"resources", 1, "dependsOn", 0}, "[resourceId('Microsoft.ManagedServices/registrationDefinitions', variables('mspRegistrationName'))]"},
		{[]any{"resources", 1, "properties", "registrationDefinitionId"}, "[resourceId('Microsoft.ManagedServices/registrationDefinitions', variables('mspRegistrationName'))]"},
		{[]any{"variables", "mspRegistrationName"}, "[guid(parameters('managedByTenantId'), parameters('mspOfferName'))]"},
		{[]any{"variables", "mspAssignmentName"}, "[guid(parameters('managedByTenantId'), parameters('mspOfferName'))]"},
		{[]any{"parameters", "mspOfferName", "type"}, "string"},
		{[]any{"parameters", "mspOfferName", "defaultValue"}, "Security Copilot partner access"},
		{[]any{"parameters", "managedByTenantId", "defaultValue"}, partnerTenant},
		{[]any{"parameters", "authorizations", "type"}, "array"},
		{[]any{"parameters", "authorizations", "defaultValue", 0, "principalId"}, socGroup},
		{[]any{"parameters", "authorizations", "defaultValue", 0, "principalIdDisplayName"}, "Fabrikam SOC Analysts"},
		{[]any{"parameters", "authorizations", "defaultValue", 0, "roleDefinitionId"}, SentinelReaderID},
		{[]any{"parameters", "authorizations", "defaultValue", 1, "principalId"}, appIdentity},
		{[]any{"parameters", "authorizations", "defaultValue", 1, "roleDefinitionId"}, RegistrationAssignmentDeleteID},
		{[]any{"parameters", "eligibleAuthorizations", "type"}, "array"},
		{[]any{"parameters", "eligibleAuthorizations", "defaultValue", 0, "roleDefinitionId"}, SentinelResponderID},
		{[]any{"parameters", "eligibleAuthorizations", "defaultValue", 0, "justInTimeAccessPolicy", "multiFactorAuthProvider"}, "Azure"},
		{[]any{"parameters", "eligibleAuthorizations", "defaultValue", 0, "justInTimeAccessPolicy", "maximumActivationDuration"}, "PT8H"},
		{[]any{"outputs", "mspOfferName", "value"}, "[concat('Managed by', ' ', parameters('mspOfferName'))]"},
		{[]any{"outputs", "authorizations", "value"}, "[parameters('authorizations')]"},
		{[]any{"metadata", "subscriptionId"}, subscription},
	})
	if n := len(at(t, tpl, "resources").([]any)); n != 2 {
		t.Errorf("len(resources) = %d, want 2", n)
	}
	if has(at(t, tpl, "parameters"), "rgName") {
		t.Errorf("parameters has rgName, want none for a subscription")
	}
	// No authorization may carry delegatedRoleDefinitionIds: that is the
	// User Access Administrator escape hatch.
	if strings.Contains(string(b), "delegatedRoleDefinitionIds") {
		t.Errorf("template mentions delegatedRoleDefinitionIds, want never")
	}
	// The defaults the parameters file carries are those of the template.
	p, err := RenderParameters(defaultOffer())
	if err != nil {
		t.Fatal(err)
	}
	params := decode(t, p)
	if got, want := at(t, params, "$schema"), "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentParameters.json#"; got != want {
		t.Errorf("parameters $schema = %v, want %v", got, want)
	}
	for _, name := range []string{"mspOfferName", "mspOfferDescription", "managedByTenantId", "authorizations", "eligibleAuthorizations"} {
		got, want := at(t, params, "parameters", name, "value"), at(t, tpl, "parameters", name, "defaultValue")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parameters file %s = %v, want the template default %v", name, got, want)
		}
	}
}

func TestRenderShapeResourceGroup(t *testing.T) {
	b, tpl := rendered(t, rgOffer())
	wantValues(t, tpl, []pathValue{
		{[]any{"resources", 0, "type"}, "Microsoft.ManagedServices/registrationDefinitions"},
		{[]any{"resources", 0, "properties", "managedByTenantId"}, "[parameters('managedByTenantId')]"},
		{[]any{"resources", 1, "type"}, "Microsoft.Resources/deployments"},
		{[]any{"resources", 1, "resourceGroup"}, "[parameters('rgName')]"},
		{[]any{"resources", 1, "dependsOn", 0}, "[resourceId('Microsoft.ManagedServices/registrationDefinitions', variables('mspRegistrationName'))]"},
		{[]any{"resources", 1, "properties", "mode"}, "Incremental"},
		{[]any{"resources", 1, "properties", "template", "resources", 0, "type"}, "Microsoft.ManagedServices/registrationAssignments"},
		{[]any{"resources", 1, "properties", "template", "resources", 0, "name"}, "[variables('mspAssignmentName')]"},
		{[]any{"resources", 1, "properties", "template", "resources", 0, "properties", "registrationDefinitionId"}, "[resourceId('Microsoft.ManagedServices/registrationDefinitions', variables('mspRegistrationName'))]"},
		{[]any{"parameters", "rgName", "type"}, "string"},
		{[]any{"parameters", "rgName", "defaultValue"}, "rg-sentinel-prod"},
		// A role given by name is rendered by id.
		{[]any{"parameters", "authorizations", "defaultValue", 0, "roleDefinitionId"}, SentinelReaderID},
		{[]any{"parameters", "eligibleAuthorizations", "defaultValue", 0, "justInTimeAccessPolicy", "maximumActivationDuration"}, "PT4H"},
		{[]any{"parameters", "eligibleAuthorizations", "defaultValue", 0, "justInTimeAccessPolicy", "managedByTenantApprovers", 0, "principalId"}, leadsGroup},
		{[]any{"metadata", "resourceGroup"}, "rg-sentinel-prod"},
	})
	// The nested template is evaluated in the outer scope (the default),
	// which is what lets it use the outer variables.
	if has(at(t, tpl, "resources", 1, "properties"), "expressionEvaluationOptions") {
		t.Errorf("nested deployment sets expressionEvaluationOptions, want the default outer scope")
	}
	if !strings.Contains(string(b), "Sentinel triage & response") {
		t.Errorf("description was escaped, want & kept as is for the reader")
	}
}

func TestRenderWithoutEligible(t *testing.T) {
	o := defaultOffer()
	o.EligibleAuthorizations = nil
	_, tpl := rendered(t, o)
	for _, path := range [][]any{{"parameters"}, {"outputs"}, {"resources", 0, "properties"}} {
		if has(at(t, tpl, path...), "eligibleAuthorizations") {
			t.Errorf("%v has eligibleAuthorizations, want none for an offer without them", path)
		}
	}
	p, err := RenderParameters(o)
	if err != nil {
		t.Fatal(err)
	}
	if has(at(t, decode(t, p), "parameters"), "eligibleAuthorizations") {
		t.Errorf("parameters file has eligibleAuthorizations, want none")
	}
}

func TestRenderDeterministic(t *testing.T) {
	for _, o := range []Offer{defaultOffer(), rgOffer()} {
		a, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("two renders differ:\n%s", firstDiff(b, a))
		}
	}
	// The same offer written differently renders the same bytes: GUID case
	// and spacing, role by name or id, PT240M or PT4H.
	canonical, err := Render(rgOffer())
	if err != nil {
		t.Fatal(err)
	}
	o := rgOffer()
	o.ManagedByTenantID = " " + strings.ToUpper(partnerTenant)
	o.Authorizations[0].PrincipalID = strings.ToUpper(socGroup)
	o.Authorizations[1].RoleDefinitionID = "log analytics reader"
	o.EligibleAuthorizations[0].MaximumActivation = "PT240M"
	o.EligibleAuthorizations[0].Approvers = []string{strings.ToUpper(leadsGroup)}
	got, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, canonical) {
		t.Errorf("equivalent offer renders differently:\n%s", firstDiff(got, canonical))
	}
}

func TestRenderRefused(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Offer)
		field  string // field named in the refusal
		says   string // the refusal message mentions it
	}{
		{"owner", func(o *Offer) { o.Authorizations[0].RoleDefinitionID = OwnerID },
			"authorizations[0].roleDefinitionId", "Owner"},
		{"owner by name", func(o *Offer) { o.Authorizations[0].RoleDefinitionID = "owner" },
			"authorizations[0].roleDefinitionId", "Owner"},
		{"user access administrator", func(o *Offer) { o.Authorizations[1].RoleDefinitionID = UserAccessAdministratorID },
			"authorizations[1].roleDefinitionId", "User Access Administrator"},
		{"user access administrator, eligible", func(o *Offer) {
			o.EligibleAuthorizations[0].RoleDefinitionID = strings.ToUpper(UserAccessAdministratorID)
		}, "eligibleAuthorizations[0].roleDefinitionId", "User Access Administrator"},
		{"rbac administrator", func(o *Offer) { o.Authorizations[1].RoleDefinitionID = RBACAdministratorID },
			"authorizations[1].roleDefinitionId", "Role Based Access Control Administrator"},
		{"rbac administrator, eligible", func(o *Offer) { o.EligibleAuthorizations[0].RoleDefinitionID = RBACAdministratorID },
			"eligibleAuthorizations[0].roleDefinitionId", "Role Based Access Control Administrator"},
		{"reservations administrator", func(o *Offer) { o.Authorizations[1].RoleDefinitionID = ReservationsAdministratorID },
			"authorizations[1].roleDefinitionId", "Reservations Administrator"},
		{"role not offered", func(o *Offer) {
			o.EligibleAuthorizations[0].RoleDefinitionID = "b24988ac-6180-42a0-ab88-20f7382dd24c" // Contributor
		}, "eligibleAuthorizations[0].roleDefinitionId", "not one the product offers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOffer()
			tt.mutate(&o)
			for name, render := range map[string]func(Offer) ([]byte, error){"Render": Render, "RenderParameters": RenderParameters} {
				out, err := render(o)
				if got := access.KindOf(err); err == nil || got != access.KindRefused {
					t.Fatalf("%s: kind = %v (err %v), want refused", name, got, err)
				}
				if out != nil {
					t.Errorf("%s returned %d bytes with a refusal, want none", name, len(out))
				}
				if _, ok := access.FieldsOf(err)[tt.field]; !ok {
					t.Errorf("%s: fields = %v, want %s named", name, access.FieldsOf(err), tt.field)
				}
				if !strings.Contains(err.Error(), tt.says) {
					t.Errorf("%s: error = %q, want it to mention %q", name, err, tt.says)
				}
			}
		})
	}
}

func TestRenderRefusalListsEveryRole(t *testing.T) {
	o := defaultOffer()
	o.Authorizations[0].RoleDefinitionID = OwnerID
	o.Authorizations[1].RoleDefinitionID = UserAccessAdministratorID
	_, err := Render(o)
	got := access.FieldsOf(err)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"authorizations[0].roleDefinitionId", "authorizations[1].roleDefinitionId"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("refused fields = %v, want %v: a request is refused whole, naming every role", keys, want)
	}
}

func TestRenderInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Offer)
		fields []string // each must be named
	}{
		{"empty offer", func(o *Offer) { *o = Offer{} },
			[]string{"mspOfferName", "managedByTenantId", "scope.subscriptionId", "authorizations"}},
		{"blank offer name", func(o *Offer) { o.MSPOfferName = "  " }, []string{"mspOfferName"}},
		{"offer name is an expression", func(o *Offer) { o.MSPOfferName = "[subscription().id]" }, []string{"mspOfferName"}},
		{"tenant not a GUID", func(o *Offer) { o.ManagedByTenantID = "fabrikam.onmicrosoft.com" }, []string{"managedByTenantId"}},
		{"tenant is the nil GUID", func(o *Offer) { o.ManagedByTenantID = "00000000-0000-0000-0000-000000000000" }, []string{"managedByTenantId"}},
		{"subscription not a GUID", func(o *Offer) { o.Scope.SubscriptionID = "prod" }, []string{"scope.subscriptionId"}},
		{"resource group name", func(o *Offer) { o.Scope.ResourceGroup = "rg/sentinel" }, []string{"scope.resourceGroup"}},
		{"resource group ends with a period", func(o *Offer) { o.Scope.ResourceGroup = "rg." }, []string{"scope.resourceGroup"}},
		{"no authorizations", func(o *Offer) { o.Authorizations = nil; o.EligibleAuthorizations = nil }, []string{"authorizations"}},
		{"principal not a GUID", func(o *Offer) { o.Authorizations[1].PrincipalID = "soc@fabrikam.example" }, []string{"authorizations[1].principalId"}},
		{"principal missing", func(o *Offer) { o.Authorizations[0].PrincipalID = "" }, []string{"authorizations[0].principalId"}},
		{"unknown role name", func(o *Offer) { o.Authorizations[0].RoleDefinitionID = "Sentinel God" }, []string{"authorizations[0].roleDefinitionId"}},
		{"duplicate authorization", func(o *Offer) {
			o.Authorizations = append(o.Authorizations, o.Authorizations[0])
		}, []string{"authorizations[2]"}},
		{"eligible principal not a GUID", func(o *Offer) { o.EligibleAuthorizations[0].PrincipalID = "x" }, []string{"eligibleAuthorizations[0].principalId"}},
		{"eligible without display name", func(o *Offer) { o.EligibleAuthorizations[0].PrincipalDisplayName = "" }, []string{"eligibleAuthorizations[0].principalIdDisplayName"}},
		{"eligible without a permanent reader", func(o *Offer) { o.EligibleAuthorizations[0].PrincipalID = leadsGroup }, []string{"eligibleAuthorizations[0].principalId"}},
		{"activation too short", func(o *Offer) { o.EligibleAuthorizations[0].MaximumActivation = "PT29M" }, []string{"eligibleAuthorizations[0].maximumActivationDuration"}},
		{"activation too long", func(o *Offer) { o.EligibleAuthorizations[0].MaximumActivation = "PT8H1M" }, []string{"eligibleAuthorizations[0].maximumActivationDuration"}},
		{"activation a day", func(o *Offer) { o.EligibleAuthorizations[0].MaximumActivation = "P1D" }, []string{"eligibleAuthorizations[0].maximumActivationDuration"}},
		{"activation not ISO 8601", func(o *Offer) { o.EligibleAuthorizations[0].MaximumActivation = "8h" }, []string{"eligibleAuthorizations[0].maximumActivationDuration"}},
		{"approver not a GUID", func(o *Offer) { o.EligibleAuthorizations[0].Approvers = []string{leadsGroup, "lead@fabrikam.example"} },
			[]string{"eligibleAuthorizations[0].approvers[1]"}},
		{"too many approvers", func(o *Offer) {
			for i := 0; i < 11; i++ {
				o.EligibleAuthorizations[0].Approvers = append(o.EligibleAuthorizations[0].Approvers, fmt.Sprintf("1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0%02d", i))
			}
		}, []string{"eligibleAuthorizations[0].approvers"}},
		{"same role, different access policies", func(o *Offer) {
			o.Authorizations = append(o.Authorizations, Authorization{PrincipalID: leadsGroup, PrincipalDisplayName: "Leads", RoleDefinitionID: ReaderID})
			o.EligibleAuthorizations = append(o.EligibleAuthorizations, EligibleAuthorization{
				PrincipalID: leadsGroup, PrincipalDisplayName: "Leads", RoleDefinitionID: SentinelResponderID, MaximumActivation: "PT1H", RequireMFA: true})
		}, []string{"eligibleAuthorizations[1].justInTimeAccessPolicy"}},
		// Field problems win over refusals: the offer must be fixed first.
		{"invalid and refused", func(o *Offer) {
			o.ManagedByTenantID = "nope"
			o.Authorizations[0].RoleDefinitionID = OwnerID
		}, []string{"managedByTenantId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOffer()
			tt.mutate(&o)
			out, err := Render(o)
			if got := access.KindOf(err); err == nil || got != access.KindInvalid {
				t.Fatalf("kind = %v (err %v), want invalid", got, err)
			}
			if out != nil {
				t.Errorf("Render returned %d bytes with an error, want none", len(out))
			}
			for _, f := range tt.fields {
				if _, ok := access.FieldsOf(err)[f]; !ok {
					t.Errorf("fields = %v, want %s named", access.FieldsOf(err), f)
				}
			}
		})
	}
}

func TestRenderEligibleDefaults(t *testing.T) {
	o := defaultOffer()
	o.EligibleAuthorizations[0].MaximumActivation = ""
	o.EligibleAuthorizations[0].RequireMFA = false
	_, tpl := rendered(t, o)
	policy := at(t, tpl, "parameters", "eligibleAuthorizations", "defaultValue", 0, "justInTimeAccessPolicy")
	if got := at(t, policy, "maximumActivationDuration"); got != "PT8H" {
		t.Errorf("maximumActivationDuration = %v, want PT8H by default", got)
	}
	if got := at(t, policy, "multiFactorAuthProvider"); got != "None" {
		t.Errorf("multiFactorAuthProvider = %v, want None without RequireMFA", got)
	}
	if has(policy, "managedByTenantApprovers") {
		t.Errorf("policy has managedByTenantApprovers, want none without approvers")
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical form, "" for an error
	}{
		{"PT8H", "PT8H"},
		{"PT30M", "PT30M"},
		{"PT1H30M", "PT1H30M"},
		{"PT90M", "PT1H30M"},
		{"PT1800S", "PT30M"},
		{"PT2H0M5S", "PT2H5S"},
		{"P0DT4H", "PT4H"},
		{"P1D", "PT24H"},
		{"PT", ""},
		{"P", ""},
		{"PT8", ""},
		{"PTH", ""},
		{"PT8H8H", ""},
		{"PT30M1H", ""},
		{"PT1.5H", ""},
		{"P1W", ""},
		{"P1DT", ""},
		{"pt8h", ""},
		{"8h", ""},
		{"PT9999999H", ""},
	}
	for _, tt := range tests {
		d, err := parseDuration(tt.in)
		got := ""
		if err == nil {
			got = formatDuration(d)
		}
		if got != tt.want {
			t.Errorf("parseDuration(%q) = %q (err %v), want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDefaultOffer(t *testing.T) {
	o := defaultOffer()
	if o.ManagedByTenantID != partnerTenant || o.Scope != (Scope{SubscriptionID: subscription}) {
		t.Errorf("tenant, scope = %s, %+v, want %s, the whole subscription %s", o.ManagedByTenantID, o.Scope, partnerTenant, subscription)
	}
	var permanent []string
	for _, a := range o.Authorizations {
		permanent = append(permanent, a.PrincipalID+" "+a.RoleDefinitionID)
	}
	if want := []string{socGroup + " " + SentinelReaderID, appIdentity + " " + RegistrationAssignmentDeleteID}; !reflect.DeepEqual(permanent, want) {
		t.Errorf("permanent roles = %v, want %v", permanent, want)
	}
	if len(o.EligibleAuthorizations) != 1 {
		t.Fatalf("eligible authorizations = %d, want 1", len(o.EligibleAuthorizations))
	}
	e := o.EligibleAuthorizations[0]
	if e.PrincipalID != socGroup || e.RoleDefinitionID != SentinelResponderID || e.MaximumActivation != "PT8H" || !e.RequireMFA {
		t.Errorf("eligible = %+v, want the group, Microsoft Sentinel Responder, PT8H, MFA", e)
	}
	if _, err := Render(o); err != nil {
		t.Errorf("Render(DefaultOffer) = %v, want no error", err)
	}
	// An empty group name still gives a readable description.
	if d := DefaultOffer(partnerTenant, socGroup, "", subscription).MSPOfferDescription; strings.HasPrefix(d, " ") {
		t.Errorf("description = %q, want it to name someone", d)
	}
}

func TestCatalogue(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range Roles {
		if !access.IsGUID(r.ID) || r.ID != strings.ToLower(r.ID) {
			t.Errorf("role %s id %q, want a lower-case GUID", r.Name, r.ID)
		}
		if ids[r.ID] {
			t.Errorf("role id %s twice", r.ID)
		}
		ids[r.ID] = true
		if r.Refused && r.Reads {
			t.Errorf("role %s is refused and reads: a refused role never companions an eligible one", r.Name)
		}
		for _, s := range []string{r.ID, strings.ToUpper(r.ID), r.Name, strings.ToLower(strings.ReplaceAll(r.Name, " ", ""))} {
			if got, ok := LookupRole(s); !ok || got != r {
				t.Errorf("LookupRole(%q) = %+v, %v, want %+v", s, got, ok, r)
			}
		}
	}
	for _, id := range []string{OwnerID, UserAccessAdministratorID, RBACAdministratorID} {
		if r, ok := LookupRole(id); !ok || !r.Refused {
			t.Errorf("LookupRole(%s) = %+v, %v, want a refused role", id, r, ok)
		}
	}
	if _, ok := LookupRole("Contributor"); ok {
		t.Errorf("LookupRole(Contributor) found, want it outside the catalogue")
	}
}

func TestOnboardingNamesTheAppWithTheDeleteRoleAndNothingMore(t *testing.T) {
	tmpl, roles, err := Templates{GroupName: "SOC", AppPrincipalID: strings.ToUpper(appIdentity)}.Onboarding(partnerTenant, socGroup, subscription)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{SentinelReaderID, SentinelResponderID}; !reflect.DeepEqual(roles, want) {
		t.Errorf("partner roles = %v, want %v (the app's role is not the partner's access)", roles, want)
	}
	var doc struct {
		Parameters struct {
			Authorizations struct {
				DefaultValue []struct{ PrincipalID, RoleDefinitionID string }
			}
			EligibleAuthorizations struct {
				DefaultValue []struct{ PrincipalID, RoleDefinitionID string }
			}
		}
	}
	if err := json.Unmarshal(tmpl, &doc); err != nil {
		t.Fatal(err)
	}
	var app, groupDelete int
	for _, a := range doc.Parameters.Authorizations.DefaultValue {
		switch {
		case a.PrincipalID == appIdentity && a.RoleDefinitionID == RegistrationAssignmentDeleteID:
			app++
		case a.PrincipalID == appIdentity:
			t.Errorf("the app also gets %s", a.RoleDefinitionID)
		case a.RoleDefinitionID == RegistrationAssignmentDeleteID:
			groupDelete++
		}
	}
	for _, a := range doc.Parameters.EligibleAuthorizations.DefaultValue {
		if a.PrincipalID == appIdentity {
			t.Errorf("the app is eligible for %s", a.RoleDefinitionID)
		}
	}
	if app != 1 || groupDelete != 0 {
		t.Errorf("app Delete Role %d times, partner group %d times; want 1 and 0", app, groupDelete)
	}
	// Without an app identity nobody gets the Delete Role.
	tmpl, _, _ = Templates{GroupName: "SOC"}.Onboarding(partnerTenant, socGroup, subscription)
	if strings.Contains(string(tmpl), RegistrationAssignmentDeleteID) {
		t.Error("template without an app identity gives someone the Delete Role")
	}
	if o := defaultOffer(); !reflect.DeepEqual(o.WithApp(appIdentity), o) {
		t.Error("WithApp twice added a second authorization")
	}
}
