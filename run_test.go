package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/functions"
	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
)

// startRun calls run with env on port 0 and returns the address it listens
// on, once GET / answers.
func startRun(t *testing.T, env map[string]string) (addr string, stderr *childproc.Log, stop func() error) {
	t.Helper()
	env["FUNCTIONS_CUSTOMHANDLER_PORT"] = "0"
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &childproc.Log{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, stderr) }()

	deadline := time.Now().Add(20 * time.Second)
	for addr == "" {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("run did not log its address; stderr:\n%s", stderr)
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run returned early: %v; stderr:\n%s", err, stderr)
		case <-time.After(10 * time.Millisecond):
		}
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr = line.Addr
			}
		}
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET /: got %v %v, want 200", resp, err)
	}
	resp.Body.Close()
	return addr, stderr, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("run did not return after its context ended")
			return nil
		}
	}
}

func invoke(t *testing.T, addr, function, fixture string) (int, map[string]any) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/"+function, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", "11111111-2222-3333-4444-555555555555")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /%s: %v", function, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST /%s: response is not JSON: %v", function, err)
	}
	return resp.StatusCode, out
}

func TestRunRefusesBadConfig(t *testing.T) {
	var stderr bytes.Buffer
	env := map[string]string{"GRAPH_AUTH": "none"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, &stderr)
	if err == nil {
		t.Fatal("run: got nil error, want a configuration error")
	}
	msg := err.Error()
	for _, v := range []string{"TABLES_CONNECTION_STRING", "PARTNER_TENANT_ID", "GRAPH_AUTH"} {
		if !strings.Contains(msg, v) {
			t.Errorf("error %q: want it to name %s", msg, v)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line", msg)
	}
}

func TestRunServesAndStops(t *testing.T) {
	env, _ := testEnv(t)
	addr, stderr, stop := startRun(t, env)

	// Every function of the contract has a route; the host's shapes decode.
	for _, tc := range []struct{ function, fixture string }{
		{functions.FnAdvisor, "http-ticket-webhook.json"},
		{functions.FnExpirySweep, "timer-expiry-sweep.json"},
		{functions.FnExpirySweep, "timer-expiry-sweep-first-run.json"},
	} {
		status, out := invoke(t, addr, tc.function, tc.fixture)
		if status == http.StatusNotFound || out == nil {
			t.Errorf("%s: got status %d body %v, want a routed answer", tc.function, status, out)
		}
		if _, ok := out["Logs"].([]any); !ok {
			t.Errorf("%s: got %v, want a Logs array", tc.function, out)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("run after cancel: got %v, want nil", err)
	}
	if !strings.Contains(stderr.String(), `"msg":"shutting down"`) {
		t.Errorf("stderr: want a shutting down line, got:\n%s", stderr)
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("GET / after stop: got an answer, want the listener closed")
	}
}
