package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

const (
	demoPartner  = "11112222-3333-4444-5555-666677778888"
	demoCustomer = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
)

// serve runs the command on a free port and returns its base URL, its
// stderr and a function that stops it and returns run's error.
func serve(t *testing.T, args ...string) (string, *childproc.Log, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	stderr := &childproc.Log{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"graphsim", "-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, outW, stderr)
		outW.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, outR)
	}()
	select {
	case base, ok := <-lines:
		if !ok {
			cancel()
			t.Fatalf("graphsim stopped before listening: %v\n%s", <-done, stderr)
		}
		stop := func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(10 * time.Second):
				t.Fatal("graphsim did not stop")
				return nil
			}
		}
		return base, stderr, stop
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("graphsim did not start")
	}
	return "", nil, nil
}

func get(t *testing.T, url, tenant string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if tenant != "" {
		req.Header.Set("Authorization", "Bearer "+graphsim.UnsignedToken(tenant))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestDemoSeed(t *testing.T) {
	base, stderr, stop := serve(t)
	if !strings.HasSuffix(base, "/v1.0") {
		t.Fatalf("stdout: got %q, want the Graph base URL", base)
	}
	status, rel := get(t, base+"/tenantRelationships/delegatedAdminRelationships/f2000000-0000-4000-8000-000000000001-aaaabbbb-0000-cccc-1111-dddd2222eeee", demoPartner)
	if status != 200 || rel["status"] != "active" {
		t.Errorf("demo relationship: got %d %v, want 200 active", status, rel)
	}
	status, guest := get(t, base+"/users/c0000000-0000-4000-8000-000000000002", demoCustomer)
	if status != 200 || guest["userType"] != "Guest" {
		t.Errorf("demo guest: got %d %v, want 200 Guest", status, guest)
	}
	status, state := get(t, strings.TrimSuffix(base, "/v1.0")+"/_sim/state", "")
	if status != 200 || state["partnerTenantId"] != demoPartner {
		t.Errorf("state: got %d %v, want the demo partner", status, state["partnerTenantId"])
	}
	if err := stop(); err != nil {
		t.Errorf("stop: got %v, want a clean shutdown", err)
	}
	// Every log line is JSON.
	logs := strings.TrimSpace(stderr.String())
	for _, line := range strings.Split(logs, "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("log line %q is not JSON", line)
		}
	}
	if !strings.Contains(logs, `"msg":"listening"`) || !strings.Contains(logs, `"msg":"shutting down"`) {
		t.Errorf("logs: got %s, want listening and shutting down", logs)
	}
}

func TestSeedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.json")
	seed := `{"partner":{"id":"p1","displayName":"P"},"customers":[{"id":"c1","users":[{"id":"u1","displayName":"U"}]}]}`
	if err := os.WriteFile(path, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, stop := serve(t, "-seed", path)
	defer stop()
	if status, u := get(t, base+"/users/u1", "c1"); status != 200 || u["displayName"] != "U" {
		t.Errorf("seeded user: got %d %v, want 200 U", status, u)
	}
}

func TestBadArguments(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"partner":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := [][]string{
		{"-nope"},
		{"-seed", filepath.Join(t.TempDir(), "missing.json")},
		{"-seed", bad},
		{"extra"},
		{"-addr", "256.0.0.1:99999"},
	}
	for _, args := range tests {
		err := run(context.Background(), append([]string{"graphsim"}, args...), func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v: got nil, want an error", args)
		}
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	env := map[string]string{"GRAPHSIM_ADDR": "127.0.0.1:0", "GRAPHSIM_SEED": filepath.Join(t.TempDir(), "missing.json")}
	err := run(context.Background(), []string{"graphsim"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("got %v, want the seed from GRAPHSIM_SEED to be read", err)
	}
}

func TestDelayFlagsAndDemoDomains(t *testing.T) {
	base, stderr, stop := serve(t, "-activation-delay", "20s", "-replication-delay", "10s")
	defer stop()
	root := strings.TrimSuffix(base, "/v1.0")
	status, d := get(t, root+"/_sim/delays", "")
	if status != 200 || d["activation"] != "20s" || d["replication"] != "10s" || d["autoExtend"] != "0s" {
		t.Errorf("delays: got %d %v, want activation 20s, replication 10s", status, d)
	}
	status, doms := get(t, base+"/domains", demoPartner)
	verified := map[string]bool{}
	if v, ok := doms["value"].([]any); ok {
		for _, x := range v {
			m := x.(map[string]any)
			verified[m["id"].(string)] = m["isVerified"] == true
		}
	}
	if status != 200 || !verified["fabrikam.example"] {
		t.Errorf("demo partner domains: got %d %v, want fabrikam.example verified", status, doms)
	}
	if !strings.Contains(stderr.String(), `"activationDelay":"20s"`) {
		t.Errorf("logs: got %s, want the delays logged", stderr)
	}
	err := run(context.Background(), []string{"graphsim", "-addr", "127.0.0.1:0", "-replication-delay", "-1s"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil {
		t.Error("negative delay: got nil, want an error")
	}
}
