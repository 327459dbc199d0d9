package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func TestParseOffset(t *testing.T) {
	cases := map[string]time.Duration{"+90d": 90 * 24 * time.Hour, "-1h": -time.Hour, "12h30m": 12*time.Hour + 30*time.Minute, "1d": 24 * time.Hour}
	for in, want := range cases {
		if got, err := parseOffset(in); err != nil || got != want {
			t.Errorf("parseOffset(%q): got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "+xd", "", "1y"} {
		if _, err := parseOffset(bad); err == nil {
			t.Errorf("parseOffset(%q): got no error", bad)
		}
	}
}

func TestLocalOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:7071", "http://localhost:8090", "http://[::1]:1"} {
		if err := localOnly(ok); err != nil {
			t.Errorf("localOnly(%s): got %v", ok, err)
		}
	}
	for _, bad := range []string{"https://contoso-mssp-func.azurewebsites.net", "http://10.0.0.4:7071"} {
		if err := localOnly(bad); err == nil {
			t.Errorf("localOnly(%s): got nil, want a refusal", bad)
		}
	}
}

// TestRequestIsSigned checks that a command reaches the app signed as the
// ticket webhook requires, with the flags in the body.
func TestRequestIsSigned(t *testing.T) {
	const secret = "cli-test-secret-0123456789abcdef-0123"
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/api/webhooks/ticketing" {
			t.Errorf("path: got %s", r.URL.Path)
		}
		if err := webhook.VerifyTicket([]byte(secret), r.Header, body, time.Now()); err != nil {
			t.Errorf("signature: %v", err)
		}
		_ = json.Unmarshal(body, &got)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"grantId":"b2b:x","status":"requested"}`))
	}))
	defer srv.Close()
	var out bytes.Buffer
	env := map[string]string{"TICKET_WEBHOOK_SECRET": secret, "ACCESSCTL_API": srv.URL}
	err := run(context.Background(), []string{"request", "b2b", "-email", "a@fabrikam.example", "-roles", "Security Reader, Security Operator", "-days", "30", "-ticket", "SEC-1"},
		func(k string) string { return env[k] }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got["action"] != "request-access" || got["method"] != "b2b" || got["customerTenantId"] != defaultCustomer || len(got["roles"].([]any)) != 2 ||
		!strings.HasPrefix(got["deliveryId"].(string), "cli-") {
		t.Errorf("command: got %v", got)
	}
	if !strings.Contains(out.String(), "202 Accepted") {
		t.Errorf("output: got %q", out.String())
	}
	// Without a secret nothing is sent.
	if err := run(context.Background(), []string{"request", "b2b"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("no secret: got %v", err)
	}
}

func TestTimeMovesTheClockFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clock")
	env := map[string]string{"LOCAL_CLOCK_FILE": file}
	do := func(args ...string) {
		t.Helper()
		if err := run(context.Background(), append([]string{"time"}, args...), func(k string) string { return env[k] }, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	do("+2d")
	do("+1h")
	b, _ := os.ReadFile(file)
	if strings.TrimSpace(string(b)) != (49 * time.Hour).String() {
		t.Errorf("clock file: got %q, want %s", b, 49*time.Hour)
	}
	do("reset")
	b, _ = os.ReadFile(file)
	if strings.TrimSpace(string(b)) != "0s" {
		t.Errorf("after reset: got %q", b)
	}
	env["ACCESSCTL_API"] = "https://contoso-mssp-func.azurewebsites.net"
	if err := run(context.Background(), []string{"time", "+1d"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Error("moving the clock of a deployment: got nil, want a refusal")
	}
}

func TestGrantsPages(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Query().Get("continuationToken") == "" {
			_, _ = w.Write([]byte(`{"grants":[{"grantId":"b2b:1","status":"active","roles":["r"]}],"continuationToken":"next"}`))
			return
		}
		_, _ = w.Write([]byte(`{"grants":[{"grantId":"gdap:2","status":"pending","roles":[]}]}`))
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-api", srv.URL, "grants", "-status", "active"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || !strings.Contains(out.String(), "b2b:1") || !strings.Contains(out.String(), "gdap:2") {
		t.Errorf("got %d calls, output %q; want both pages", calls, out.String())
	}
}
