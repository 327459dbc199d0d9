package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
)

// The real handler's tests publish to the queues the contract names, so
// this test process gets an Azurite of its own.
func TestMain(m *testing.M) { testenv.MainPrivate(m) }

// logLine is one of devhost's slog JSON lines.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

func (l logLine) num(k string) int { n, _ := l[k].(float64); return int(n) }

// logs parses devhost's own lines out of stderr, skipping the handler's
// forwarded ones.
func logs(stderr *childproc.Log) []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// findLogs returns the lines with message msg whose string fields equal
// those given as key, value pairs.
func findLogs(stderr *childproc.Log, msg string, kv ...string) []logLine {
	var out []logLine
next:
	for _, l := range logs(stderr) {
		if l.str("msg") != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if l.str(kv[i]) != kv[i+1] {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s did not happen\n%s", timeout, what, diag())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// build compiles a Go main package into dir and returns the binary's path.
// pkgDir is where `go build` runs, pkg the package pattern.
func build(t *testing.T, dir, name, pkgDir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	if err := childproc.Build(t.Context(), pkgDir, out, pkg, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// appSpec describes an app folder for a test.
type appSpec struct {
	hostJSON  string            // "" means testHostJSON(16)
	functions map[string]string // function name -> function.json
}

func testHostJSON(maxConcurrent int) string {
	return fmt.Sprintf(`{
  "version": "2.0",
  "functionTimeout": "00:01:00",
  "customHandler": {"description": {"defaultExecutablePath": "handler", "workingDirectory": "", "arguments": []}, "enableForwardingHttpRequest": false},
  "extensions": {"serviceBus": {"maxConcurrentCalls": %d}, "http": {"routePrefix": "api"}}
}`, maxConcurrent)
}

// writeApp lays out an app folder and returns its path.
func writeApp(t *testing.T, spec appSpec) string {
	t.Helper()
	root := t.TempDir()
	h := spec.hostJSON
	if h == "" {
		h = testHostJSON(16)
	}
	write(t, filepath.Join(root, "host.json"), h)
	for name, fj := range spec.functions {
		write(t, filepath.Join(root, "functions", name, "function.json"), fj)
	}
	return root
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Function definitions used by the tests.
func queueFunction(queue string) string {
	return fmt.Sprintf(`{"bindings":[{"name":"msg","type":"serviceBusTrigger","direction":"in","queueName":%q,"connection":"SERVICEBUS","dataType":"binary"}]}`, queue)
}

func timerFunction(schedule string) string {
	return fmt.Sprintf(`{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":%q,"runOnStartup":false,"useMonitor":true}]}`, schedule)
}

func httpFunction(authLevel, route string, methods ...string) string {
	m, _ := json.Marshal(methods)
	return fmt.Sprintf(`{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","authLevel":%q,"methods":%s,"route":%q},{"name":"res","type":"http","direction":"out"}]}`, authLevel, m, route)
}

// devhost is one run of run() in the test process.
type devhost struct {
	t      *testing.T
	addr   string
	stdout *childproc.Log
	stderr *childproc.Log
	done   chan error
	cancel context.CancelFunc
	record string // the fake handler's record file
	err    error
	exited bool
}

// startDevhost runs devhost on the app in root with the handler binary
// bin, the settings values (FAKE_RECORD is added) and extra flags, and
// waits until it listens. getenv supplies NOTIFY_MAIL_FROM, an app
// variable that is not in the real environment, to show that it reaches
// the handler.
func startDevhost(t *testing.T, bin, root string, values map[string]string, flags ...string) *devhost {
	t.Helper()
	d := startDevhostNoWait(t, bin, root, values, flags...)
	deadline := time.Now().Add(30 * time.Second)
	for d.addr == "" {
		select {
		case err := <-d.done:
			d.exited, d.err = true, err
			t.Fatalf("devhost returned early: %v\nstderr:\n%s", err, d.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("devhost did not listen within 30s; stderr:\n%s", d.stderr)
		}
		if l := findLogs(d.stderr, "listening"); len(l) > 0 {
			d.addr = l[0].str("addr")
		}
	}
	return d
}

func startDevhostNoWait(t *testing.T, bin, root string, values map[string]string, flags ...string) *devhost {
	t.Helper()
	d := &devhost{t: t, stdout: &childproc.Log{}, stderr: &childproc.Log{}, done: make(chan error, 1),
		record: filepath.Join(t.TempDir(), "record.jsonl")}
	vals := map[string]any{"FAKE_RECORD": d.record, "FAKE_SETTING": "from-settings"}
	for k, v := range values {
		vals[k] = v
	}
	settings := filepath.Join(t.TempDir(), "local.settings.json")
	b, _ := json.Marshal(map[string]any{"IsEncrypted": false, "Values": vals})
	write(t, settings, string(b))

	args := append([]string{"devhost", "-root", root, "-handler", bin, "-addr", "127.0.0.1:0", "-settings", settings,
		"-stop-grace", "5s", "-shutdown-timeout", "10s"}, flags...)
	getenv := func(k string) string {
		if k == "NOTIFY_MAIL_FROM" {
			return "from-getenv@example.test"
		}
		return os.Getenv(k)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- run(ctx, args, getenv, d.stdout, d.stderr) }()
	t.Cleanup(func() {
		if !d.exited {
			d.stop()
		}
	})
	return d
}

// stop cancels run's context and returns what run returned.
func (d *devhost) stop() error {
	d.t.Helper()
	if d.exited {
		return d.err
	}
	d.cancel()
	select {
	case d.err = <-d.done:
		d.exited = true
	case <-time.After(30 * time.Second):
		d.t.Fatalf("devhost did not return within 30s of its context ending; stderr:\n%s", d.stderr)
	}
	return d.err
}

// wait returns run's result once it returns by itself.
func (d *devhost) wait(timeout time.Duration) error {
	d.t.Helper()
	select {
	case d.err = <-d.done:
		d.exited = true
		return d.err
	case <-time.After(timeout):
		d.t.Fatalf("devhost did not return within %s; stderr:\n%s", timeout, d.stderr)
		return nil
	}
}

func (d *devhost) url(path string) string { return "http://" + d.addr + path }

// record is one line the fake handler wrote.
type record struct {
	Event        string          `json:"event"`
	Pid          int             `json:"pid"`
	At           time.Time       `json:"at"`
	Port         string          `json:"port"`
	Runtime      string          `json:"runtime"`
	SettingValue string          `json:"settingValue"`
	ProcessValue string          `json:"processValue"`
	Function     string          `json:"function"`
	Path         string          `json:"path"`
	InvocationID string          `json:"invocationId"`
	ContentType  string          `json:"contentType"`
	MethodName   string          `json:"methodName"`
	Inflight     int             `json:"inflight"`
	Envelope     json.RawMessage `json:"envelope"`
	DecodeError  string          `json:"decodeError"`
	Queue        *struct {
		ID            string            `json:"id"`
		Body          string            `json:"body"`
		DeliveryCount int               `json:"deliveryCount"`
		EnqueuedTime  time.Time         `json:"enqueuedTime"`
		Properties    map[string]string `json:"properties"`
		ContentType   string            `json:"contentType"`
	} `json:"queue"`
	Timer *struct {
		IsPastDue bool `json:"isPastDue"`
		HasStatus bool `json:"hasStatus"`
	} `json:"timer"`
	HTTP *struct {
		Method string              `json:"method"`
		URL    string              `json:"url"`
		Params map[string]string   `json:"params"`
		Query  map[string][]string `json:"query"`
		Header map[string][]string `json:"header"`
		Body   string              `json:"body"`
	} `json:"http"`
}

// records reads what the fake handler recorded so far.
func (d *devhost) records() []record {
	d.t.Helper()
	b, err := os.ReadFile(d.record)
	if err != nil {
		return nil
	}
	var out []record
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			d.t.Fatalf("record line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// invocations returns the recorded invocations of function.
func (d *devhost) invocations(function string) []record {
	var out []record
	for _, r := range d.records() {
		if r.Event == "invoke" && r.Function == function {
			out = append(out, r)
		}
	}
	return out
}

func (d *devhost) diag() string {
	b, _ := os.ReadFile(d.record)
	return fmt.Sprintf("records:\n%s\nstderr:\n%s", b, d.stderr)
}
