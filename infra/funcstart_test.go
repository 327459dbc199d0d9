package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFuncStartLayout runs scripts/func-start.sh into a temporary folder
// twice and reads the folder as Azure Functions Core Tools do: host.json at
// the root, <function>/function.json for every function, the executable
// host.json's customHandler.description.defaultExecutablePath names, built
// for this machine and executable, and a local.settings.json that is JSON
// with IsEncrypted false and Values. The second run keeps the
// local.settings.json edited in the folder. It compiles the handler, so
// -short skips it.
func TestFuncStartLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler; skipped with -short")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	dir := filepath.Join(t.TempDir(), "func")
	out := runFuncStart(t, dir)
	if !bytes.Contains(out, []byte("func start")) {
		t.Errorf("scripts/func-start.sh does not say how to run Core Tools:\n%s", out)
	}

	hostJSON := readFile(t, filepath.Join(repoRoot, "host.json"))
	if got := readFile(t, filepath.Join(dir, "host.json")); !bytes.Equal(got, hostJSON) {
		t.Errorf("staged host.json differs from the repository's")
	}
	exe := handlerPath(t, hostJSON)
	if exe == "" {
		t.Fatalf("host.json names no customHandler.description.defaultExecutablePath")
	}
	info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(exe)))
	if err != nil {
		t.Fatalf("the executable host.json names (%s) is not staged: %v", exe, err)
	}
	if !info.Mode().IsRegular() || (runtime.GOOS != "windows" && info.Mode().Perm()&0o111 != 0o111) {
		t.Errorf("staged %s has mode %v, want an executable regular file", exe, info.Mode())
	}
	if runtime.GOOS != "windows" {
		// Built for this machine: it starts here and, with no settings at
		// all, stops on the missing required ones (an exit status, not an
		// exec format error).
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, filepath.FromSlash(exe)))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) || ctx.Err() != nil {
				t.Errorf("staged %s does not run on this machine: %v", exe, err)
			}
		}
	}

	fns := loadFunctions(t)
	want := map[string]bool{"host.json": true, exe: true, "local.settings.json": true, ".func-start": true}
	for _, fn := range fns {
		want[fn.Name+"/function.json"] = true
		got, err := os.ReadFile(filepath.Join(dir, fn.Name, "function.json"))
		if err != nil {
			t.Errorf("function %s: %v", fn.Name, err)
			continue
		}
		if !bytes.Equal(got, fn.raw) {
			t.Errorf("staged %s/function.json differs from functions/%s/function.json", fn.Name, fn.Name)
		}
	}
	// Every folder Core Tools would take for a function holds a function.json,
	// and nothing else is staged.
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && !strings.Contains(rel, "/") && !strings.HasPrefix(exe, rel+"/") {
				if _, err := os.Stat(filepath.Join(path, "function.json")); err != nil {
					t.Errorf("staged folder %s has no function.json", rel)
				}
			}
			return nil
		}
		if !want[rel] {
			t.Errorf("staged %s, which the layout does not expect", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	settingsPath := filepath.Join(dir, "local.settings.json")
	settings := readLocalSettings(t, settingsPath)
	sample := readLocalSettings(t, filepath.Join(repoRoot, "local.settings.sample.json"))
	if !maps.Equal(settings, sample) {
		t.Errorf("the first staging did not copy local.settings.sample.json")
	}

	// Staged again: the folder's own settings, as edited, are kept.
	edited := []byte(`{"IsEncrypted": false, "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom", "EDITED": "yes"}}`)
	if err := os.WriteFile(settingsPath, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	runFuncStart(t, dir)
	if got := readLocalSettings(t, settingsPath); got["EDITED"] != "yes" {
		t.Errorf("staging again replaced the edited local.settings.json: %v", got)
	}
}

// TestFuncStartRefusesForeignFolder: the script empties its folder, so it
// must not take one it did not make.
func TestFuncStartRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join("scripts", "func-start.sh"))
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "FUNC_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("scripts/func-start.sh staged into a folder it did not make:\n%s", out)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("scripts/func-start.sh removed a file it did not stage: %v", err)
	}
}

// TestLocalSettingsSamples: local.settings.sample.json is one mode, the
// real services by identity as in Azure (a Service Bus trigger connection
// by namespace, the handler publishing to the same namespace, tables by
// URL), and local.settings.local.sample.json the other, Azurite and the
// Graph simulator for cmd/devhost. Each names only settings that the app or
// the Functions host reads.
func TestLocalSettingsSamples(t *testing.T) {
	identity := readLocalSettings(t, filepath.Join(repoRoot, "local.settings.sample.json"))
	local := readLocalSettings(t, filepath.Join(repoRoot, "local.settings.local.sample.json"))

	known := map[string]bool{"FUNCTIONS_WORKER_RUNTIME": true}
	for _, v := range configVariables(t) {
		known[v.Name] = true
	}
	var connections []string
	for _, fn := range loadFunctions(t) {
		for _, b := range fn.Bindings {
			if c := b.str("connection"); c != "" && !slices.Contains(connections, c) {
				connections = append(connections, c)
			}
		}
	}
	if len(connections) == 0 {
		t.Fatalf("no function.json names a connection; has the Service Bus trigger gone?")
	}
	hostSetting := func(key string) bool {
		if key == "AzureWebJobsStorage" || strings.HasPrefix(key, "AzureWebJobsStorage__") {
			return true
		}
		return slices.ContainsFunc(connections, func(c string) bool { return key == c || strings.HasPrefix(key, c+"__") })
	}
	for name, values := range map[string]map[string]string{"local.settings.sample.json": identity, "local.settings.local.sample.json": local} {
		if values["FUNCTIONS_WORKER_RUNTIME"] != "custom" {
			t.Errorf("%s: FUNCTIONS_WORKER_RUNTIME = %q, want custom", name, values["FUNCTIONS_WORKER_RUNTIME"])
		}
		for key := range values {
			if !known[key] && !hostSetting(key) {
				t.Errorf("%s sets %s, which neither shared/config nor the Functions host reads", name, key)
			}
		}
	}

	// The identity mode.
	const sample = "local.settings.sample.json"
	for _, c := range connections {
		ns := identity[c+"__fullyQualifiedNamespace"]
		if ns == "" {
			t.Errorf("%s: %s__fullyQualifiedNamespace is not set: the triggers' connection %q (functions/*/function.json) has no namespace", sample, c, c)
		}
		if _, ok := identity[c]; ok {
			t.Errorf("%s: %s is set, a connection string; the identity mode uses %s__fullyQualifiedNamespace", sample, c, c)
		}
		if got := identity["SERVICEBUS_NAMESPACE"]; got != ns {
			t.Errorf("%s: SERVICEBUS_NAMESPACE = %q, but the triggers listen on %s__fullyQualifiedNamespace = %q", sample, got, c, ns)
		}
	}
	if identity["TABLES_SERVICE_URL"] == "" {
		t.Errorf("%s: TABLES_SERVICE_URL is not set", sample)
	}
	if identity["AzureWebJobsStorage__accountName"] == "" && identity["AzureWebJobsStorage__blobServiceUri"] == "" {
		t.Errorf("%s: the host's storage is not set by identity (AzureWebJobsStorage__accountName or __blobServiceUri)", sample)
	}
	for _, key := range []string{
		"AzureWebJobsStorage", "TABLES_CONNECTION_STRING", "SERVICEBUS_CONNECTION_STRING", "LOCAL_QUEUES_CONNECTION_STRING",
		"GRAPH_BASE_URL", "LOCAL_CLOCK_FILE", "PARTNER_CENTER_ROOTS_FILE", "PARTNER_CENTER_CERT_HOSTS", "PARTNER_CENTER_ISSUER_HOSTS",
	} {
		if _, ok := identity[key]; ok {
			t.Errorf("%s sets %s, a setting of the local mode (local.settings.local.sample.json)", sample, key)
		}
	}
	if identity["GRAPH_AUTH"] == "none" {
		t.Errorf("%s: GRAPH_AUTH = none is the simulator's, not the identity mode's", sample)
	}
	keyLike := regexp.MustCompile(`(?i)AccountKey=|SharedAccessKey=|UseDevelopmentStorage`)
	for key, v := range identity {
		if keyLike.MatchString(v) {
			t.Errorf("%s: %s holds a key or Azurite: the identity mode needs none", sample, key)
		}
	}

	// The local mode: Azurite for tables and queues, the Graph simulator.
	const localSample = "local.settings.local.sample.json"
	for _, key := range []string{"TABLES_CONNECTION_STRING", "LOCAL_QUEUES_CONNECTION_STRING", "GRAPH_BASE_URL"} {
		if local[key] == "" {
			t.Errorf("%s: %s is not set", localSample, key)
		}
	}
	if local["GRAPH_AUTH"] != "none" {
		t.Errorf("%s: GRAPH_AUTH = %q, want none (the simulator)", localSample, local["GRAPH_AUTH"])
	}
	for _, key := range []string{"SERVICEBUS_NAMESPACE", "SERVICEBUS_CONNECTION_STRING", "TABLES_SERVICE_URL"} {
		if _, ok := local[key]; ok {
			t.Errorf("%s sets %s, a setting of the identity mode", localSample, key)
		}
	}
	for key := range local {
		if slices.ContainsFunc(connections, func(c string) bool { return key == c || strings.HasPrefix(key, c+"__") }) {
			t.Errorf("%s sets %s: the local mode has no Service Bus (cmd/devhost feeds the queue functions from Azurite)", localSample, key)
		}
	}
}

// TestRolesAndScaleInBicep: the role assignments infra/README.md lists, on
// the scopes it names, and an instance cap that accepts 1.
func TestRolesAndScaleInBicep(t *testing.T) {
	b := loadBicep(t)
	const (
		serviceBusDataOwner = "090c5cfd-751d-490a-894a-3ce6f1109419"
		storageBlobOwner    = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
	)
	sb := b.files["modules/servicebus.bicep"]
	if !strings.Contains(sb, "'"+serviceBusDataOwner+"'") {
		t.Errorf("modules/servicebus.bicep: Azure Service Bus Data Owner (%s) is not assigned: the scale controller cannot read the queues' metrics", serviceBusDataOwner)
	}
	if !regexp.MustCompile(`(?s)for i in range\(0, length\(queueNames\)\): \{\s*name: [^\n]*\n\s*scope: queues\[i\]`).MatchString(sb) {
		t.Errorf("modules/servicebus.bicep: the Data Owner assignment is not made on each queue (scope: queues[i])")
	}
	st := b.files["modules/storage.bicep"]
	if !strings.Contains(st, "'"+storageBlobOwner+"'") ||
		!regexp.MustCompile(`resource blobOwner '[^']+' = \{\s*name: guid\(account\.id[^}]*scope: account\b`).MatchString(st) {
		t.Errorf("modules/storage.bicep: Storage Blob Data Owner is not assigned at the account scope (resource blobOwner … scope: account)")
	}
	for _, path := range []string{"main.bicep", "modules/functionapp.bicep"} {
		m := regexp.MustCompile(`@minValue\((\d+)\)\s*\n(?:@\w+\([^)]*\)\s*\n)*param maximumInstanceCount int`).FindStringSubmatch(b.files[path])
		if m == nil {
			t.Errorf("%s: param maximumInstanceCount has no @minValue", path)
			continue
		}
		if m[1] != "1" {
			t.Errorf("%s: maximumInstanceCount @minValue(%s), want 1 (Flex Consumption accepts 1 and up)", path, m[1])
		}
	}
	readme := string(readFile(t, "README.md"))
	for _, want := range []string{"Azure Service Bus Data Owner", "Storage Blob Data Owner | storage account", "**Owner**", "**Contributor** plus **User Access Administrator**"} {
		if !strings.Contains(readme, want) {
			t.Errorf("infra/README.md lacks %q", want)
		}
	}
}

func runFuncStart(t *testing.T, dir string) []byte {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join("scripts", "func-start.sh"))
	cmd.Dir = repoRoot
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "LOCAL_SETTINGS=") || strings.HasPrefix(kv, "FUNC_DIR=")
	})
	cmd.Env = append(env, "FUNC_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/func-start.sh: %v\n%s", err, out)
	}
	return out
}

// readLocalSettings reads a local.settings.json as Core Tools require it:
// JSON, IsEncrypted false, Values an object of strings.
func readLocalSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	var doc struct {
		IsEncrypted *bool             `json:"IsEncrypted"`
		Values      map[string]string `json:"Values"`
	}
	if err := json.Unmarshal(readFile(t, path), &doc); err != nil {
		t.Fatalf("%s is not a valid local.settings.json: %v", path, err)
	}
	if doc.IsEncrypted == nil || *doc.IsEncrypted {
		t.Errorf("%s: IsEncrypted must be false", path)
	}
	if doc.Values == nil {
		t.Fatalf("%s: no Values", path)
	}
	return doc.Values
}
