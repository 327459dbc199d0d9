package infra

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/functions"
)

// The portal's sign-in is App Service Authentication (DESIGN.md section 12):
// these checks keep the template's configuration of it to what the app's
// trust rules assume.

// repoText reads a file of the repository as text.
func repoText(t *testing.T, path ...string) string {
	t.Helper()
	return string(readFile(t, filepath.Join(append([]string{repoRoot}, path...)...)))
}

// authBlock returns the authsettingsV2 resource of the function app module.
func authBlock(t *testing.T) string {
	t.Helper()
	src := repoText(t, "infra", "modules", "functionapp.bicep")
	start := strings.Index(src, "name: 'authsettingsV2'")
	if start < 0 {
		t.Fatal("modules/functionapp.bicep has no authsettingsV2 configuration")
	}
	return src[start:]
}

func TestPortalSignInLetsUnauthenticatedRequestsThrough(t *testing.T) {
	auth := authBlock(t)
	for _, want := range []string{
		// The webhooks, the grants view and the advisor have their own checks
		// and must stay reachable without a session.
		"requireAuthentication: false",
		"unauthenticatedClientAction: 'AllowAnonymous'",
		// Entra ID, any organisation: operators and customer admins sign in
		// from different tenants.
		"openIdIssuer: 'https://login.microsoftonline.com/common/v2.0'",
		"requireHttps: true",
		"enabled: true",
	} {
		if !strings.Contains(auth, want) {
			t.Errorf("authsettingsV2 lacks %q", want)
		}
	}
	if !regexp.MustCompile(`resource auth 'config' = if \(!empty\(portalClientId\)\)`).MatchString(repoText(t, "infra", "modules", "functionapp.bicep")) {
		t.Error("authsettingsV2 must be deployed only when portalClientId names a registration")
	}
}

func TestPortalSignsInWithTheIdentityNotASecret(t *testing.T) {
	auth := authBlock(t)
	if !strings.Contains(auth, "clientSecretSettingName: portalCredentialSettingName") {
		t.Fatal("authsettingsV2 must take its client credential from portalCredentialSettingName")
	}
	mod := repoText(t, "infra", "modules", "functionapp.bicep")
	m := regexp.MustCompile(`param portalCredentialSettingName string = '([A-Z_]+)'`).FindStringSubmatch(mod)
	if m == nil {
		t.Fatal("modules/functionapp.bicep: no default for portalCredentialSettingName")
	}
	settings := loadBicep(t).appSettings(t)
	value, ok := settings[m[1]]
	if !ok {
		t.Fatalf("main.bicep does not set %s, the setting App Service Authentication signs in with", m[1])
	}
	if value != "identity.properties.clientId" {
		t.Errorf("%s = %s, want the managed identity's client id", m[1], value)
	}
	if strings.Contains(strings.ToUpper(mod), "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET") {
		t.Error("the portal's sign-in must not use a client secret setting")
	}
}

func TestPortalAppRolesAreTheOnesTheAppChecks(t *testing.T) {
	var roles []struct {
		ID                 string   `json:"id"`
		Value              string   `json:"value"`
		AllowedMemberTypes []string `json:"allowedMemberTypes"`
		IsEnabled          bool     `json:"isEnabled"`
	}
	if err := json.Unmarshal([]byte(repoText(t, "infra", "portal-app-roles.json")), &roles); err != nil {
		t.Fatal(err)
	}
	var values []string
	ids := map[string]bool{}
	for _, r := range roles {
		values = append(values, r.Value)
		if !guidPattern.MatchString(r.ID) || ids[r.ID] {
			t.Errorf("role %s: id %q is not a unique GUID", r.Value, r.ID)
		}
		ids[r.ID] = true
		if !r.IsEnabled || !slices.Equal(r.AllowedMemberTypes, []string{"User"}) {
			t.Errorf("role %s: want enabled and assignable to users only, got %v %v", r.Value, r.IsEnabled, r.AllowedMemberTypes)
		}
	}
	slices.Sort(values)
	// The roles the portal checks (functions/portal_identity.go).
	want := []string{functions.RoleOperator, functions.RoleReader}
	slices.Sort(want)
	if !slices.Equal(values, want) || !slices.Equal(want, []string{"Access.Operator", "Access.Reader"}) {
		t.Errorf("portal app roles %v, the portal checks %v, DESIGN.md section 12 names Access.Operator and Access.Reader", values, want)
	}
	readme := repoText(t, "infra", "README.md")
	for _, want := range []string{"groupMembershipClaims=DirectoryRole", "wids", "portal-app-roles.json", "authsettingsV2"} {
		if !strings.Contains(readme, want) {
			t.Errorf("infra/README.md does not mention %s", want)
		}
	}
}

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
