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
	setEnv(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &childproc.Log{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, os.Getenv, io.Discard, stderr) }()

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
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"required variable missing", map[string]string{"GRAPH_AUTH": "none"}, []string{"PARTNER_TENANT_ID"}},
		{"several problems", map[string]string{"GRAPH_AUTH": "none", "PARTNER_TENANT_ID": partnerTenant},
			[]string{"TABLES_CONNECTION_STRING", "SERVICEBUS_NAMESPACE", "GRAPH_AUTH"}},
		{"short ticket secret", map[string]string{"GRAPH_AUTH": "none", "GRAPH_BASE_URL": "http://127.0.0.1:1/v1.0", "PARTNER_TENANT_ID": partnerTenant,
			"TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true", "LOCAL_QUEUES_CONNECTION_STRING": "UseDevelopmentStorage=true",
			"TICKET_WEBHOOK_SECRET": "a"}, []string{"TICKET_WEBHOOK_SECRET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			var stderr bytes.Buffer
			err := run(context.Background(), nil, os.Getenv, io.Discard, &stderr)
			if err == nil {
				t.Fatal("run: got nil error, want a configuration error")
			}
			msg := err.Error()
			for _, v := range tc.want {
				if !strings.Contains(msg, v) {
					t.Errorf("error %q: want it to name %s", msg, v)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line", msg)
			}
		})
	}
}

// TestRunRefusesAnotherEnvironment: the configuration is read from the
// process environment (envconfig.Process); a getenv that says otherwise is
// refused naming the variable, rather than silently ignored.
func TestRunRefusesAnotherEnvironment(t *testing.T) {
	env, _ := testEnv(t)
	setEnv(t, env)
	other := map[string]string{}
	for k, v := range env {
		other[k] = v
	}
	other["TICKET_WEBHOOK_SECRET"] = "another-secret-0123456789abcdef-0123"
	err := run(context.Background(), nil, func(k string) string { return other[k] }, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "config: TICKET_WEBHOOK_SECRET: ") || strings.Contains(err.Error(), other["TICKET_WEBHOOK_SECRET"]) {
		t.Fatalf("got %v, want one line naming TICKET_WEBHOOK_SECRET without its value", err)
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
