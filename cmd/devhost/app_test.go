package main

import (
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := parseOptions([]string{"devhost"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{o.root, o.handler, o.addr, o.addrSet, o.settings, o.maxDeliveryCount, o.retryDelay, o.startTimeout}
	want := []any{".", "", "127.0.0.1:7071", false, "", 10, time.Second, 30 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("root, handler, addr, addrSet, settings, maxDeliveryCount, retryDelay, startTimeout = %v, want %v", got, want)
	}
	o, err = parseOptions([]string{"devhost", "-max-delivery-count", "3", "-addr", ":0"}, io.Discard)
	if err != nil || o.maxDeliveryCount != 3 || !o.addrSet {
		t.Errorf("with flags: %+v, %v, want maxDeliveryCount 3 and addrSet", o, err)
	}
	for _, args := range [][]string{
		{"devhost", "-max-delivery-count", "0"},
		{"devhost", "-retry-delay", "-1s"},
		{"devhost", "extra"},
		{"devhost", "-nope"},
	} {
		if _, err := parseOptions(args, io.Discard); err == nil {
			t.Errorf("parseOptions(%q): nil error, want one", args)
		}
	}
}

// TestLoadRealApp reads the project's own host.json and function.json
// files: devhost must accept every function of the contract.
func TestLoadRealApp(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	a, err := loadApp(root, map[string]string{})
	if err != nil {
		t.Fatalf("loadApp(project): %v", err)
	}
	got := map[string]string{}
	for _, fn := range a.functions {
		desc := fn.kind.String() + " " + fn.binding
		switch fn.kind {
		case queueTrigger:
			desc += " " + fn.queue
		case timerTrigger:
			desc += " " + fn.scheduleText
		case httpTrigger:
			desc += " " + strings.Join(fn.methods, ",") + " " + fn.route.template + " " + fn.authLevel + " " + fn.output
		}
		got[fn.name] = desc
	}
	want := map[string]string{
		"invitation-sent":        "serviceBusTrigger msg invitation-sent",
		"gdap-approved":          "serviceBusTrigger msg gdap-approved",
		"grant-expiring":         "serviceBusTrigger msg grant-expiring",
		"expiry-sweep":           "timerTrigger timer 0 0 * * * *", // EXPIRY_SWEEP_SCHEDULE unset: the app's default
		"ticket-webhook":         "httpTrigger req POST webhooks/ticketing function res",
		"partner-center-webhook": "httpTrigger req POST webhooks/partner-center function res",
		"grants":                 "httpTrigger req GET grants/{customerTenantId?}/{grantId?} function res",
		"advisor":                "httpTrigger req POST advisor function res",
		"portal":                 "httpTrigger req GET,POST portal/{*path} anonymous res",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("functions:\ngot  %v\nwant %v", got, want)
	}
	if a.maxConcurrent != 16 || a.routePrefix != "api" || a.functionTimeout != 5*time.Minute || a.executable != filepath.Join(root, "handler") {
		t.Errorf("maxConcurrent, routePrefix, functionTimeout, executable = %d, %q, %s, %s", a.maxConcurrent, a.routePrefix, a.functionTimeout, a.executable)
	}

	a, err = loadApp(root, map[string]string{"EXPIRY_SWEEP_SCHEDULE": "*/5 * * * * *"})
	if err != nil {
		t.Fatal(err)
	}
	if fn := a.lookup("expiry-sweep"); fn.scheduleText != "*/5 * * * * *" {
		t.Errorf("schedule with EXPIRY_SWEEP_SCHEDULE set = %q, want the setting", fn.scheduleText)
	}
}

func TestLoadAppRefuses(t *testing.T) {
	okHost := testHostJSON(16)
	for _, tc := range []struct {
		name      string
		hostJSON  string
		functions map[string]string
		want      string
	}{
		{"dataType string", "", map[string]string{"q": `{"bindings":[{"name":"msg","type":"serviceBusTrigger","direction":"in","queueName":"abc","dataType":"string"}]}`}, `dataType "string": devhost supports "binary" only`},
		{"no dataType", "", map[string]string{"q": `{"bindings":[{"name":"msg","type":"serviceBusTrigger","direction":"in","queueName":"abc"}]}`}, `dataType "": devhost supports "binary" only`},
		{"topic", "", map[string]string{"q": `{"bindings":[{"name":"msg","type":"serviceBusTrigger","topicName":"t","subscriptionName":"s","dataType":"binary"}]}`}, "topic"},
		{"sessions", "", map[string]string{"q": `{"bindings":[{"name":"msg","type":"serviceBusTrigger","queueName":"abc","dataType":"binary","isSessionsEnabled":true}]}`}, "sessions"},
		{"blob trigger", "", map[string]string{"b": `{"bindings":[{"name":"b","type":"blobTrigger","direction":"in","path":"c/{name}"}]}`}, `trigger type "blobTrigger" is not supported`},
		{"queue output", "", map[string]string{"h": `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in"},{"name":"res","type":"http","direction":"out"},{"name":"o","type":"queue","direction":"out"}]}`}, `binding "o" of type "queue"`},
		{"two triggers", "", map[string]string{"x": `{"bindings":[{"name":"a","type":"timerTrigger","schedule":"* * * * * *"},{"name":"b","type":"timerTrigger","schedule":"* * * * * *"}]}`}, "more than one trigger"},
		{"no trigger", "", map[string]string{"x": `{"bindings":[]}`}, "no trigger binding"},
		{"http without output", "", map[string]string{"h": `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in"}]}`}, "exactly one http output"},
		{"timer TimeSpan", "", map[string]string{"t": timerFunction("01:00:00")}, "is a TimeSpan"},
		{"five-field cron", "", map[string]string{"t": timerFunction("0 * * * *")}, "has 5 fields, want the six"},
		{"bad cron", "", map[string]string{"t": timerFunction("0 0 25 * * *")}, `schedule: "0 0 25 * * *"`},
		{"unresolved setting", "", map[string]string{"t": timerFunction("%NO_SUCH_SETTING%")}, "%NO_SUCH_SETTING% does not resolve"},
		{"complex route segment", "", map[string]string{"h": httpFunction("function", "a/{x}-{y}", "get")}, "is not supported by devhost"},
		{"optional then required", "", map[string]string{"h": httpFunction("function", "a/{x?}/b", "get")}, `optional parameter "x" is followed by a required segment`},
		{"unknown constraint", "", map[string]string{"h": httpFunction("function", "a/{x:regex(a)}", "get")}, "is not supported"},
		{"bad method", "", map[string]string{"h": httpFunction("function", "a", "fetch")}, `method "FETCH"`},
		{"bad authLevel", "", map[string]string{"h": httpFunction("system", "a", "get")}, `authLevel "system"`},
		{"forwarding", strings.Replace(okHost, `"enableForwardingHttpRequest": false`, `"enableForwardingHttpRequest": true`, 1), map[string]string{"t": timerFunction("* * * * * *")}, "enableForwardingHttpRequest is true"},
		{"no custom handler", `{"version":"2.0"}`, map[string]string{"t": timerFunction("* * * * * *")}, "defaultExecutablePath is missing"},
		{"version 1", strings.Replace(okHost, `"2.0"`, `"1.0"`, 1), map[string]string{"t": timerFunction("* * * * * *")}, `version "1.0"`},
		{"maxConcurrentCalls 0", testHostJSON(0), map[string]string{"t": timerFunction("* * * * * *")}, "maxConcurrentCalls is 0"},
		{"bad functionTimeout", strings.Replace(okHost, `"00:01:00"`, `"5 minutes"`, 1), map[string]string{"t": timerFunction("* * * * * *")}, "functionTimeout"},
		{"no functions folder", "", map[string]string{}, "functions folder"},
		{"invalid function name", "", map[string]string{"1abc": timerFunction("* * * * * *")}, "not a valid function name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeApp(t, appSpec{hostJSON: tc.hostJSON, functions: tc.functions})
			_, err := loadApp(root, map[string]string{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("loadApp error = %v, want one containing %q", err, tc.want)
			}
		})
	}

	// Every problem is reported at once.
	root := writeApp(t, appSpec{functions: map[string]string{
		"a": timerFunction("nope"), "b": queueFunction("abc")[:20], "c": timerFunction("* * * * * *"),
	}})
	_, err := loadApp(root, map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "function a:") || !strings.Contains(err.Error(), "function b:") {
		t.Errorf("loadApp error = %v, want both function a and function b named", err)
	}
}

func TestLoadAppDisabled(t *testing.T) {
	root := writeApp(t, appSpec{functions: map[string]string{
		"on":       timerFunction("* * * * * *"),
		"off-json": `{"disabled": true, "bindings":[{"name":"b","type":"blobTrigger"}]}`,
		"off-env":  timerFunction("* * * * * *"),
	}})
	a, err := loadApp(root, map[string]string{"AzureWebJobs.off-env.Disabled": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if got := functionNames(a.functions); !reflect.DeepEqual(got, []string{"on"}) {
		t.Errorf("functions = %v, want [on]", got)
	}
	if !reflect.DeepEqual(a.disabled, []string{"off-env", "off-json"}) {
		t.Errorf("disabled = %v, want [off-env off-json]", a.disabled)
	}
}

func TestResolve(t *testing.T) {
	env := map[string]string{"A": "x", "EMPTY": ""}
	for in, want := range map[string]string{
		"plain":                   "plain",
		"%A%":                     "x",
		"pre-%A%-post":            "pre-x-post",
		"%EXPIRY_SWEEP_SCHEDULE%": "0 0 * * * *",
		"%ALLOWED_ROLES%":         "5d6b6bb7-de71-4623-b4af-96380a352509,5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
	} {
		if got, err := resolve(in, env); err != nil || got != want {
			t.Errorf("resolve(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"%EMPTY%", "%PARTNER_TENANT_ID%", "%B%"} {
		if got, err := resolve(in, env); err == nil {
			t.Errorf("resolve(%q) = %q, want an error: no value and no default", in, got)
		}
	}
}

func TestParseTimeSpan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:05:00":         5 * time.Minute,
		"01:02:03":         time.Hour + 2*time.Minute + 3*time.Second,
		"1.00:00:00":       24 * time.Hour,
		"00:00:01.5":       1500 * time.Millisecond,
		"00:00:00.0000001": 100 * time.Nanosecond,
		"-1":               0,
	} {
		if got, err := parseTimeSpan(in); err != nil || got != want {
			t.Errorf("parseTimeSpan(%q) = %s, %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5m", "24:00:00", "00:60:00", "1:2"} {
		if _, err := parseTimeSpan(in); err == nil {
			t.Errorf("parseTimeSpan(%q): nil error, want one", in)
		}
	}
}

// TestSchedule checks that the six fields are read in NCRONTAB's order,
// seconds first, and in UTC.
func TestSchedule(t *testing.T) {
	from := time.Date(2026, 11, 27, 7, 59, 59, 0, time.UTC)
	for _, tc := range []struct {
		spec string
		want time.Time
	}{
		{"0 0 * * * *", time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		{"*/5 * * * * *", time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		{"30 15 9 * * *", time.Date(2026, 11, 27, 9, 15, 30, 0, time.UTC)},
		{"0 0 9 * * 1-5", time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}, // a Friday
		{"0 0 9 * * 0", time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)},   // Sunday is 0
		{"0 0 0 1 1 *", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"0 0 0 1 Jan *", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		s, err := parseSchedule(tc.spec)
		if err != nil {
			t.Errorf("parseSchedule(%q): %v", tc.spec, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tc.want) {
			t.Errorf("%q: next after %s = %s, want %s", tc.spec, from, got, tc.want)
		}
	}
}

func TestHandlerEnv(t *testing.T) {
	t.Setenv("DEVHOST_TEST_PROCESS", "process")
	t.Setenv("DEVHOST_TEST_OVERRIDDEN", "process")
	t.Setenv("DEVHOST_TEST_CLEARED", "process")
	proc := map[string]string{
		"DEVHOST_TEST_PROCESS":         "via-getenv",
		"DEVHOST_TEST_OVERRIDDEN":      "via-getenv",
		"DEVHOST_TEST_CLEARED":         "via-getenv",
		"TABLES_CONNECTION_STRING":     "tables", // an app variable, not in the real environment
		"FUNCTIONS_CUSTOMHANDLER_PORT": "9999",
	}
	getenv := func(k string) string { return proc[k] }
	s := settings{values: map[string]string{
		"DEVHOST_TEST_OVERRIDDEN":      "settings",
		"DEVHOST_TEST_CLEARED":         "",
		"ONLY_IN_SETTINGS":             "settings",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "1234",
		"FUNCTIONS_WORKER_RUNTIME":     "node",
	}}
	env := handlerEnv(getenv, s)
	want := map[string]string{
		"DEVHOST_TEST_PROCESS":     "via-getenv",
		"DEVHOST_TEST_OVERRIDDEN":  "settings",
		"TABLES_CONNECTION_STRING": "tables",
		"ONLY_IN_SETTINGS":         "settings",
		"FUNCTIONS_WORKER_RUNTIME": "custom",
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("handlerEnv = %v\nwant %v", env, want)
	}
}

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "local.settings.json")
	write(t, p, `{"IsEncrypted": false, "Values": {"S": "text", "N": 90, "B": true, "Z": null}, "Host": {"LocalHttpPort": 7072}}`)
	s, err := loadSettings(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"S": "text", "N": "90", "B": "true", "Z": ""}; !reflect.DeepEqual(s.values, want) || s.port != 7072 {
		t.Errorf("values, port = %v, %d, want %v, 7072", s.values, s.port, want)
	}
	for content, want := range map[string]string{
		`{"IsEncrypted": true, "Values": {}}`: "IsEncrypted",
		`{"Values": {"O": {"a": 1}}}`:         "Values.O: want a string, got JSON object",
		`{"Values": `:                         "unexpected end",
	} {
		write(t, p, content)
		if _, err := loadSettings(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("loadSettings(%s) error = %v, want one containing %q", content, err, want)
		}
	}
	// The default file is optional; an explicit one is not.
	if s, err := findSettings("", t.TempDir()); err != nil || len(s.values) != 0 {
		t.Errorf("findSettings without a file = %v, %v, want empty settings", s, err)
	}
	if _, err := findSettings(filepath.Join(dir, "missing.json"), dir); err == nil {
		t.Error("findSettings(missing explicit file): nil error, want one")
	}
}
