package infra

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
)

// The tests run in infra/; the repository root is one level up.
const repoRoot = ".."

// optionalInAzure lists the variables shared/config reads that the Bicep
// deliberately leaves unset, each with the reason. A variable the config reads
// must be set by infra/main.bicep or be listed here.
var optionalInAzure = map[string]string{
	"FUNCTIONS_CUSTOMHANDLER_PORT":   "set by the Functions host when it starts the handler",
	"TABLES_CONNECTION_STRING":       "local runs (Azurite); Azure uses TABLES_SERVICE_URL with the managed identity",
	"SERVICEBUS_CONNECTION_STRING":   "key-based alternative; Azure uses SERVICEBUS_NAMESPACE with the managed identity",
	"LOCAL_QUEUES_CONNECTION_STRING": "local runs and tests publish to Azurite storage queues instead of Service Bus",
	"GRAPH_BASE_URL":                 "the default is the real Graph root; only simulator runs change it",
	"APP_CERTIFICATE_PATH":           "GRAPH_AUTH=certificate needs a key file on disk, which the Flex package does not carry; the template offers managedidentity or clientsecret",
	"CUSTOMER_APP_CERTIFICATE_PATH":  "the customer app's certificate, for the same reason as APP_CERTIFICATE_PATH",
	"PARTNER_CENTER_ROOTS_FILE":      "tests only: production trusts the system roots",
	"PARTNER_CENTER_CERT_HOSTS":      "tests only: the default allows only Partner Center's own certificate origin",
	"PARTNER_CENTER_ISSUER_HOSTS":    "tests only: the default allows only Microsoft's and DigiCert's certificate stores",
	"LOCAL_CLOCK_FILE":               "local runs only: moving the clock is refused unless Graph is the simulator",
	"ARM_BASE_URL":                   "the default is Azure Resource Manager itself; only simulator runs change it",
	"WEBSITE_AUTH_ENABLED":           "set by App Service itself, to True, when App Service Authentication (authsettingsV2) is on",
	"WEBSITE_HOSTNAME":               "set by App Service itself to the app's default host name; PORTAL_URL falls back to https://<it>",
	"PORTAL_URL":                     "empty: https://<WEBSITE_HOSTNAME>; a custom domain sets it",
	"PORTAL_TOKEN_KEY":               "empty: the portal's form-token key is derived from TICKET_WEBHOOK_SECRET, a Key Vault reference, so every instance shares it",
}

// platformSettings lists app settings that the platform reads, not the app
// nor the Functions host, each with the reader.
var platformSettings = map[string]string{
	"OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID": "App Service Authentication: the managed identity it signs in with instead of a client secret",
}

// keyVaultOnly lists settings that carry a secret and so must be Key Vault
// references, besides every setting whose name contains SECRET.
var keyVaultOnly = []string{
	"NOTIFY_TEAMS_WEBHOOK_URL", // a Workflows URL carries its own signature
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

func TestQueuesOfFunctionsExistInBicep(t *testing.T) {
	fns := loadFunctions(t)
	queues := loadBicep(t).stringList(t, "serviceBusQueueNames")
	used := map[string]bool{}
	for _, fn := range fns {
		for _, b := range fn.Bindings {
			if !strings.HasPrefix(b.str("type"), "serviceBus") {
				continue
			}
			if topic := b.str("topicName"); topic != "" {
				t.Errorf("functions/%s/function.json: topic %q: the Bicep creates queues only; add the topic and teach this test", fn.Name, topic)
				continue
			}
			q := b.str("queueName")
			used[q] = true
			if !slices.Contains(queues, q) {
				t.Errorf("functions/%s/function.json: queue %q is not created by infra/main.bicep (serviceBusQueueNames %q)", fn.Name, q, queues)
			}
		}
	}
	for _, q := range queues {
		if !used[q] {
			t.Errorf("infra/main.bicep creates queue %q but no functions/*/function.json binds to it", q)
		}
	}
}

func TestConnectionsOfFunctionsAreConfigured(t *testing.T) {
	settings := loadBicep(t).appSettings(t)
	for _, fn := range loadFunctions(t) {
		for _, b := range fn.Bindings {
			conn := b.str("connection")
			if conn == "" {
				continue
			}
			where := "functions/" + fn.Name + "/function.json: connection " + conn
			if !strings.HasPrefix(b.str("type"), "serviceBus") {
				t.Errorf("%s: binding type %q: only Service Bus connections are known to this test", where, b.str("type"))
				continue
			}
			if _, ok := settings[conn]; ok {
				t.Errorf("%s: app setting %s would be a connection string; use %s__fullyQualifiedNamespace with the managed identity", where, conn, conn)
			}
			for _, suffix := range []string{"__fullyQualifiedNamespace", "__credential", "__clientId"} {
				if _, ok := settings[conn+suffix]; !ok {
					t.Errorf("%s: app setting %s%s is not set by infra/main.bicep", where, conn, suffix)
				}
			}
			if got := settings[conn+"__credential"]; got != "'managedidentity'" {
				t.Errorf("%s: %s__credential = %s, want 'managedidentity'", where, conn, got)
			}
			// The app publishes where the triggers listen, as the identity the
			// host uses.
			for app, host := range map[string]string{"SERVICEBUS_NAMESPACE": conn + "__fullyQualifiedNamespace", "AZURE_CLIENT_ID": conn + "__clientId"} {
				got, ok1 := settings[app]
				want, ok2 := settings[host]
				if ok1 && ok2 && got != want {
					t.Errorf("%s: %s = %s, but %s = %s", where, app, got, host, want)
				}
			}
		}
	}
	for _, key := range []string{"AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId"} {
		if _, ok := settings[key]; !ok {
			t.Errorf("app setting %s is not set: the host's storage must use the managed identity", key)
		}
	}
	_, byURI := settings["AzureWebJobsStorage__blobServiceUri"]
	_, byName := settings["AzureWebJobsStorage__accountName"]
	if !byURI && !byName {
		t.Errorf("neither AzureWebJobsStorage__blobServiceUri nor AzureWebJobsStorage__accountName is set")
	}
}

func TestBindingExpressionsAreSet(t *testing.T) {
	settings := loadBicep(t).appSettings(t)
	expr := regexp.MustCompile(`%([A-Za-z0-9_]+)%`)
	for _, fn := range loadFunctions(t) {
		for _, b := range fn.Bindings {
			for field, v := range b {
				s, ok := v.(string)
				if !ok {
					continue
				}
				for _, m := range expr.FindAllStringSubmatch(s, -1) {
					if _, ok := settings[m[1]]; !ok {
						t.Errorf("functions/%s/function.json: %s uses %%%s%%, which infra/main.bicep does not set", fn.Name, field, m[1])
					}
				}
			}
		}
	}
}

func TestConfigVariablesAreSet(t *testing.T) {
	settings := loadBicep(t).appSettings(t)
	vars := configVariables(t)
	read := map[string]bool{}
	for _, v := range vars {
		read[v.Name] = true
		_, set := settings[v.Name]
		reason, optional := optionalInAzure[v.Name]
		switch {
		case set:
		case optional && v.Required:
			t.Errorf("%s (config.Config.%s) is required by the config but listed as optional in Azure (%s)", v.Name, v.Field, reason)
		case !optional:
			t.Errorf("%s (config.Config.%s) is read by shared/config but not set by infra/main.bicep: set it, or list it in optionalInAzure with the reason", v.Name, v.Field)
		}
	}
	for name := range optionalInAzure {
		if !read[name] {
			t.Errorf("optionalInAzure lists %s, which shared/config no longer reads", name)
		}
	}
}

func TestAppSettingsAreUsed(t *testing.T) {
	settings := loadBicep(t).appSettings(t)
	read := map[string]bool{}
	for _, v := range configVariables(t) {
		read[v.Name] = true
	}
	hostPrefixes := []string{"AzureWebJobsStorage__", "APPLICATIONINSIGHTS_"}
	for _, fn := range loadFunctions(t) {
		for _, b := range fn.Bindings {
			if c := b.str("connection"); c != "" {
				hostPrefixes = append(hostPrefixes, c+"__")
			}
		}
	}
	expr := regexp.MustCompile(`%([A-Za-z0-9_]+)%`)
	expressions := map[string]bool{}
	for _, fn := range loadFunctions(t) {
		for _, b := range fn.Bindings {
			for _, v := range b {
				if s, ok := v.(string); ok {
					for _, m := range expr.FindAllStringSubmatch(s, -1) {
						expressions[m[1]] = true
					}
				}
			}
		}
	}
	for key := range settings {
		if _, platform := platformSettings[key]; platform {
			continue
		}
		if read[key] || expressions[key] || slices.ContainsFunc(hostPrefixes, func(p string) bool { return strings.HasPrefix(key, p) }) {
			continue
		}
		t.Errorf("infra/main.bicep sets %s, which neither shared/config nor the Functions host reads: a typo?", key)
	}
}

func TestBicepDefaultsMatchConfigDefaults(t *testing.T) {
	b := loadBicep(t)
	params := map[string]string{ // variable → parameter of main.bicep
		"GRAPH_AUTH":                  "graphAuth",
		"NOTICE_DAYS":                 "noticeDays",
		"B2B_DEFAULT_DAYS":            "b2bDefaultDays",
		"B2B_MAX_DAYS":                "b2bMaxDays",
		"EXPIRY_SWEEP_SCHEDULE":       "expirySweepSchedule",
		"ALLOWED_ROLES":               "allowedRoles",
		"REVIEW_EVERY_DAYS":           "reviewEveryDays",
		"B2B_GUEST_AFTER_END":         "b2bGuestAfterEnd",
		"B2B_GUEST_DELETE_AFTER_DAYS": "b2bGuestDeleteAfterDays",
		"IDLE_REVOKE_DAYS":            "idleRevokeDays",
		"B2B_ASSIGNMENT":              "b2bAssignment",
		"REVIEW_DEADLINE_DAYS":        "reviewDeadlineDays",
		"REVIEW_DEFAULT":              "reviewDefault",
	}
	defaults := map[string]string{}
	for _, v := range configVariables(t) {
		defaults[v.Name] = v.Default
	}
	for variable, param := range params {
		want, ok := defaults[variable]
		if !ok {
			t.Errorf("shared/config no longer reads %s", variable)
			continue
		}
		var got string
		if variable == "ALLOWED_ROLES" {
			got = strings.Join(b.stringList(t, param), ",")
		} else {
			got = b.paramDefault(t, param)
		}
		if got != want {
			t.Errorf("main.bicep param %s defaults to %q, shared/config's %s to %q", param, got, variable, want)
		}
	}
}

func TestGlobalAdministratorIsRefused(t *testing.T) {
	b := loadBicep(t)
	ga := strings.ToLower(access.GlobalAdministratorID)
	for _, r := range b.stringList(t, "allowedRoles") {
		if strings.ToLower(r) == ga {
			t.Errorf("main.bicep allowedRoles default includes Global Administrator")
		}
	}
	// The guard: a fail() on Global Administrator, wired into ALLOWED_ROLES.
	for _, want := range []string{
		"var globalAdministratorRoleId = '" + access.GlobalAdministratorID + "'",
		"contains(normalizedAllowedRoles, globalAdministratorRoleId)",
		"? fail('allowedRoles contains Global Administrator",
	} {
		if !strings.Contains(b.main, want) {
			t.Errorf("main.bicep lost its Global Administrator guard: %q not found", want)
		}
	}
	if got := b.appSettings(t)["ALLOWED_ROLES"]; got != "allowedRolesSetting" {
		t.Errorf("ALLOWED_ROLES = %s, want allowedRolesSetting (the value checked against Global Administrator)", got)
	}
	if list := strings.Join(b.stringList(t, "allowedRoles"), ","); list != strings.Join(access.DefaultAllowedRoles, ",") {
		t.Errorf("main.bicep allowedRoles default %s differs from access.DefaultAllowedRoles %s", list, strings.Join(access.DefaultAllowedRoles, ","))
	}
}

func TestTablesOfStoreExistInBicep(t *testing.T) {
	tables := loadBicep(t).stringList(t, "tableNames")
	for _, name := range tablestore.Tables {
		if !slices.Contains(tables, name) {
			t.Errorf("shared/tablestore uses table %q, which infra/main.bicep (tableNames %q) does not create", name, tables)
		}
	}
	for _, name := range tables {
		if !slices.Contains(tablestore.Tables, name) {
			t.Errorf("infra/main.bicep creates table %q, which shared/tablestore does not use", name)
		}
	}
}

func TestTemplatesHoldNoKeys(t *testing.T) {
	b := loadBicep(t)
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`(?i)\blist(Keys|AccountSas|ServiceSas|ConnectionStrings|Secrets)\(`),
		regexp.MustCompile(`(?i)AccountKey\s*=`),
		regexp.MustCompile(`(?i)SharedAccessKey`),
		regexp.MustCompile(`(?i)DefaultEndpointsProtocol`),
		regexp.MustCompile(`(?i)InstrumentationKey\s*=`),
	}
	for path, text := range b.files {
		for _, re := range forbidden {
			if loc := re.FindStringIndex(text); loc != nil {
				t.Errorf("%s:%d: %q: templates must not read or hold keys", path, lineOf(text, loc[0]), text[loc[0]:loc[1]])
			}
		}
	}
	for path, want := range map[string]string{
		"modules/storage.bicep":    "allowSharedKeyAccess: false",
		"modules/servicebus.bicep": "disableLocalAuth: true",
		"modules/monitoring.bicep": "DisableLocalAuth: true",
		"modules/keyvault.bicep":   "enableRbacAuthorization: true",
	} {
		if !strings.Contains(b.files[path], want) {
			t.Errorf("%s: %q not found", path, want)
		}
	}
	for key, value := range b.appSettings(t) {
		if strings.Contains(key, "SECRET") || slices.Contains(keyVaultOnly, key) {
			if !strings.HasPrefix(value, "'@Microsoft.KeyVault(SecretUri=") {
				t.Errorf("app setting %s = %s: a secret must be a Key Vault reference", key, value)
			}
		}
	}
	// Secure parameters get their value from the environment, never from
	// the parameters file.
	secure := regexp.MustCompile(`@secure\(\)\s*\n\s*param (\w+)`).FindAllStringSubmatch(b.main, -1)
	if len(secure) == 0 {
		t.Fatalf("main.bicep: no @secure() parameter found; has the parser gone stale?")
	}
	for _, m := range secure {
		v, ok := b.paramValue(m[1])
		if ok && v != "''" && !strings.HasPrefix(v, "readEnvironmentVariable(") {
			t.Errorf("main.bicepparam: secure parameter %s = %s: read it from the environment instead", m[1], v)
		}
	}
}

// TestPackageLayout builds the deployable zip with scripts/package.sh, once,
// into a temporary directory, and checks it is what the Functions host
// expects: host.json, the handler named by host.json (an executable static
// linux/amd64 ELF) and one folder per function with its function.json,
// nothing else. It compiles the handler, so -short skips it.
func TestPackageLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler; skipped with -short")
	}
	mainPkg := os.Getenv("MAIN_PKG")
	if mainPkg == "" {
		mainPkg = "."
	}
	list := exec.Command("go", "list", "-f", "{{.Name}}", mainPkg)
	list.Dir = repoRoot
	if out, err := list.CombinedOutput(); err != nil && bytes.Contains(out, []byte("no Go files")) {
		t.Skipf("no handler main package at %s yet: %s", mainPkg, bytes.TrimSpace(out))
	}

	dist := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("scripts", "package.sh"))
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "DIST_DIR="+dist, "MAIN_PKG="+mainPkg)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, out)
	}
	t.Logf("scripts/package.sh took %s", time.Since(start).Round(100*time.Millisecond))

	hostJSON := readFile(t, filepath.Join(repoRoot, "host.json"))
	handler := handlerPath(t, hostJSON)
	if handler != "handler" {
		t.Errorf("host.json customHandler.description.defaultExecutablePath = %q, but scripts/package.sh names the binary handler", handler)
	}

	want := map[string][]byte{"host.json": hostJSON, "handler": nil}
	for _, fn := range loadFunctions(t) {
		want[fn.Name+"/function.json"] = fn.raw
	}
	zr, err := zip.OpenReader(filepath.Join(dist, "app.zip"))
	if err != nil {
		t.Fatalf("open the package: %v", err)
	}
	defer zr.Close()
	seen := map[string]bool{}
	for _, f := range zr.File {
		seen[f.Name] = true
		content, ok := want[f.Name]
		if !ok {
			t.Errorf("app.zip holds %s, which the host does not expect", f.Name)
			continue
		}
		data := readZipEntry(t, f)
		if f.Name == "handler" {
			checkHandler(t, f, data)
			continue
		}
		if !bytes.Equal(data, content) {
			t.Errorf("app.zip %s differs from the source file", f.Name)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("app.zip lacks %s", name)
		}
	}
}

func checkHandler(t *testing.T, f *zip.File, data []byte) {
	t.Helper()
	if mode := f.Mode(); !mode.IsRegular() || mode.Perm()&0o111 != 0o111 {
		t.Errorf("app.zip handler has mode %v, want an executable regular file (0755)", mode)
	}
	exe, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("app.zip handler is not an ELF binary: %v", err)
	}
	defer exe.Close()
	if exe.Class != elf.ELFCLASS64 || exe.Machine != elf.EM_X86_64 {
		t.Errorf("app.zip handler is %v %v, want ELFCLASS64 EM_X86_64 (linux/amd64)", exe.Class, exe.Machine)
	}
	for _, p := range exe.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("app.zip handler is dynamically linked (has PT_INTERP); build it with CGO_ENABLED=0")
		}
	}
}

// ---------------------------------------------------------------------------
// functions/*/function.json
// ---------------------------------------------------------------------------

type function struct {
	Name     string
	Bindings []binding
	raw      []byte
}

type binding map[string]any

func (b binding) str(key string) string {
	s, _ := b[key].(string)
	return s
}

func loadFunctions(t *testing.T) []function {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no functions/*/function.json found")
	}
	var fns []function
	for _, p := range paths {
		raw := readFile(t, p)
		var doc struct {
			Bindings []binding `json:"bindings"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fns = append(fns, function{Name: filepath.Base(filepath.Dir(p)), Bindings: doc.Bindings, raw: raw})
	}
	return fns
}

// ---------------------------------------------------------------------------
// Bicep, read as text
//
// There is no Bicep parser in Go, and the CLI is not available everywhere the
// tests run, so the tests read the few constructs they need by convention:
// one quoted string per line in the named lists, and one `NAME: value` per
// line between the drift markers of main.bicep.
// ---------------------------------------------------------------------------

type bicepFiles struct {
	main  string            // main.bicep
	param string            // main.bicepparam
	files map[string]string // every .bicep and .bicepparam, by path under infra/
}

func loadBicep(t *testing.T) bicepFiles {
	t.Helper()
	b := bicepFiles{files: map[string]string{}}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".bicep") || strings.HasSuffix(path, ".bicepparam")) {
			b.files[filepath.ToSlash(path)] = string(readFile(t, path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b.main = b.files["main.bicep"]
	b.param = b.files["main.bicepparam"]
	if b.main == "" || b.param == "" {
		t.Fatalf("infra/main.bicep or infra/main.bicepparam is missing")
	}
	return b
}

var quoted = regexp.MustCompile(`^'((?:[^'\\]|\\.)*)'$`)

// stringList reads `var name = [` or `param name <type> = [` of main.bicep up
// to the closing `]`, one quoted string per line; comments are ignored.
func (b bicepFiles) stringList(t *testing.T, name string) []string {
	t.Helper()
	start := regexp.MustCompile(`(?m)^(?:var|param) ` + regexp.QuoteMeta(name) + `(?: [\w\[\]]+)? = \[[ \t]*$`).FindStringIndex(b.main)
	if start == nil {
		t.Fatalf("main.bicep: list %s not found (want `var %s = [` on a line of its own)", name, name)
	}
	var out []string
	for _, line := range strings.Split(b.main[start[1]:], "\n")[1:] {
		line = strings.TrimSpace(stripComment(line))
		if line == "]" {
			return out
		}
		if line == "" {
			continue
		}
		m := quoted.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("main.bicep: list %s: %q is not one quoted string", name, line)
		}
		out = append(out, m[1])
	}
	t.Fatalf("main.bicep: list %s is not closed", name)
	return nil
}

// appSettings reads the app settings of main.bicep, between the drift
// markers: setting name → value expression as written.
func (b bicepFiles) appSettings(t *testing.T) map[string]string {
	t.Helper()
	const begin, end = "// drift:appsettings:begin", "// drift:appsettings:end"
	i, j := strings.Index(b.main, begin), strings.Index(b.main, end)
	if i < 0 || j < i {
		t.Fatalf("main.bicep: markers %q and %q not found", begin, end)
	}
	key := regexp.MustCompile(`^\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*:\s*(\S.*)$`)
	settings := map[string]string{}
	for _, line := range strings.Split(b.main[i+len(begin):j], "\n") {
		m := key.FindStringSubmatch(stripComment(line))
		if m == nil {
			continue
		}
		if _, dup := settings[m[1]]; dup {
			t.Errorf("main.bicep: app setting %s is set twice", m[1])
		}
		settings[m[1]] = strings.TrimSpace(m[2])
	}
	if len(settings) == 0 {
		t.Fatalf("main.bicep: no app settings between the drift markers")
	}
	return settings
}

// paramDefault reads the default of a one-line `param name type = value` of
// main.bicep, unquoted.
func (b bicepFiles) paramDefault(t *testing.T, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^param ` + regexp.QuoteMeta(name) + ` \w+ = (.+)$`).FindStringSubmatch(b.main)
	if m == nil {
		t.Fatalf("main.bicep: param %s with a one-line default not found", name)
	}
	v := strings.TrimSpace(stripComment(m[1]))
	if q := quoted.FindStringSubmatch(v); q != nil {
		return strings.ReplaceAll(q[1], `\'`, `'`)
	}
	return v
}

// paramValue reads `param name = value` of main.bicepparam, as written.
func (b bicepFiles) paramValue(name string) (string, bool) {
	m := regexp.MustCompile(`(?m)^param ` + regexp.QuoteMeta(name) + ` = (.+)$`).FindStringSubmatch(b.param)
	if m == nil {
		return "", false
	}
	return strings.TrimSpace(stripComment(m[1])), true
}

// stripComment drops a // comment that is not inside a quoted string.
func stripComment(line string) string {
	in := false
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && in:
			i++
		case line[i] == '\'':
			in = !in
		case !in && strings.HasPrefix(line[i:], "//"):
			return line[:i]
		}
	}
	return line
}

// ---------------------------------------------------------------------------
// shared/config, by reflection over its struct tags
// ---------------------------------------------------------------------------

type envVar struct {
	Name     string
	Field    string
	Default  string
	Required bool
}

func configVariables(t *testing.T) []envVar {
	t.Helper()
	vars := envVars(reflect.TypeOf(config.Config{}), "", "")
	if len(vars) == 0 {
		t.Fatalf("config.Config has no envconfig-tagged fields; has its tag key changed?")
	}
	return vars
}

// envVars lists the variables of a struct tagged the
// kelseyhightower/envconfig way, `envconfig:"NAME" default:"…"
// required:"true"`, following nested structs as envconfig.Process does
// (a nested struct's variables are prefixed with its own name and "_").
// Unexported fields and `ignored:"true"` ones are not read.
func envVars(typ reflect.Type, prefix, path string) []envVar {
	var out []envVar
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() || f.Tag.Get("ignored") == "true" {
			continue
		}
		name := f.Tag.Get("envconfig")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !decodesItself(ft) {
			p := prefix
			if name != "" {
				p += name + "_"
			}
			out = append(out, envVars(ft, p, path+f.Name+".")...)
			continue
		}
		if name == "" {
			name = strings.ToUpper(f.Name) // what envconfig reads for an untagged field
		}
		out = append(out, envVar{Name: prefix + name, Field: path + f.Name, Default: f.Tag.Get("default"), Required: f.Tag.Get("required") == "true"})
	}
	return out
}

func decodesItself(typ reflect.Type) bool {
	p := reflect.PointerTo(typ)
	_, decoder := p.MethodByName("Decode")
	_, setter := p.MethodByName("Set")
	return decoder || setter ||
		p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) ||
		p.Implements(reflect.TypeFor[encoding.BinaryUnmarshaler]()) ||
		p.Implements(reflect.TypeFor[json.Unmarshaler]())
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readZipEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatalf("app.zip %s: %v", f.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("app.zip %s: %v", f.Name, err)
	}
	return data
}

func lineOf(text string, offset int) int {
	return strings.Count(text[:offset], "\n") + 1
}

// handlerPath is the executable host.json's
// customHandler.description.defaultExecutablePath names.
func handlerPath(t *testing.T, hostJSON []byte) string {
	t.Helper()
	var host struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	if err := json.Unmarshal(hostJSON, &host); err != nil {
		t.Fatalf("host.json: %v", err)
	}
	return host.CustomHandler.Description.DefaultExecutablePath
}
