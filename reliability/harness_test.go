package reliability

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// The harness's own parts, without Azurite: a proof is only as good as
// the instruments it reads.

func TestInjectorDrawsTheSeedsSequence(t *testing.T) {
	draw := func(seed uint64) []string {
		in := newInjector(seed, 0)
		in.setRate(0.5)
		var out []string
		for range 1000 {
			k, ra := in.draw("x")
			out = append(out, k+":"+string(rune('0'+ra)))
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed drew two different sequences")
	}
	if slices.Equal(a, c) {
		t.Error("two seeds drew the same sequence")
	}
	in := newInjector(7, 0)
	in.setRate(0.5)
	for range 1000 {
		in.draw("x")
	}
	f := in.figures()
	for _, k := range faultKinds {
		if f.ByKind[k] == 0 {
			t.Errorf("no %s among %d faults: %v", k, f.Injected, f.ByKind)
		}
	}
	if f.Requests != 1000 || f.Injected == 0 || f.Injected == 1000 {
		t.Errorf("figures: got %d requests, %d faults; want 1000 requests, some but not all faulted", f.Requests, f.Injected)
	}
}

// proxyWith serves a proxy to an upstream answering "ok", injecting only
// kind on every request.
func proxyWith(t *testing.T, kind string) (*proxy, *credentials) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	in := newInjector(1, 10*time.Millisecond)
	if kind != FaultNone {
		in.kinds = []string{kind}
		in.setRate(1)
	}
	creds := newCredentials()
	p, err := newProxy("test", up.URL, styleGraph, in, creds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p, creds
}

func TestProxyInjectsEachFault(t *testing.T) {
	for _, c := range []struct {
		kind   string
		status int // 0: the connection breaks
	}{
		{FaultNone, http.StatusOK},
		{Fault503, http.StatusServiceUnavailable},
		{Fault429, http.StatusTooManyRequests},
		{FaultReset, 0},
		{FaultLatency, http.StatusOK},
	} {
		p, _ := proxyWith(t, c.kind)
		resp, err := http.Get(p.URL() + "/v1.0/users/x")
		if c.status == 0 {
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s: got %d, want a broken connection", c.kind, resp.StatusCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.kind, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: got %d %s, want %d", c.kind, resp.StatusCode, b, c.status)
		}
		if c.kind == Fault429 {
			if ra := resp.Header.Get("Retry-After"); ra != "0" && ra != "1" {
				t.Errorf("429: Retry-After %q, want 0 or 1", ra)
			}
		}
		if c.status == http.StatusOK && string(b) != "ok" {
			t.Errorf("%s: got body %q, want the upstream's", c.kind, b)
		}
	}
}

func TestScanFindsEveryLeak(t *testing.T) {
	token := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ0aWQiOiJhYmMiLCJhdWQiOiJodHRwcyJ9."
	p, creds := proxyWith(t, FaultNone)
	req, _ := http.NewRequest(http.MethodGet, p.URL()+"/x", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	s := &stack{
		secrets: map[string]string{"TICKET_WEBHOOK_SECRET": "hmac-secret-1234567890-abcdefghijklmnop", "Teams webhook sig": "sig/with+chars=="},
		creds:   creds, outputs: map[string]*childproc.Log{}, sim: graphsim.New(graphsim.Seed{}),
		teams: newSink(http.StatusAccepted), ticket: newSink(http.StatusOK),
	}
	defer s.teams.close()
	defer s.ticket.close()
	clean := s.output("clean")
	_, _ = io.WriteString(clean, `{"msg":"invocation done","outcome":"processed"}`+"\n")
	if got := scanSecrets(s); len(got.Leaks) != 0 || got.Credentials != 1 {
		t.Fatalf("clean outputs: got leaks %v and %d credentials, want none and 1", got.Leaks, got.Credentials)
	}

	leaky := s.output("handler")
	_, _ = io.WriteString(leaky, `{"msg":"verify","secret":"hmac-secret-1234567890-abcdefghijklmnop"}`+"\n")
	if _, err := http.Post(s.teams.srv.URL, "application/json", strings.NewReader(`{"url":"https://x/?sig=`+url.QueryEscape("sig/with+chars==")+`"}`)); err != nil {
		t.Fatal(err)
	}
	s.keep("answer", []byte(`{"detail":"token `+token+` refused"}`))
	got := scanSecrets(s)
	if len(got.Leaks) != 3 {
		t.Fatalf("got %d leaks, want 3 (log line, Teams card, answer): %v", len(got.Leaks), got.Leaks)
	}
	for _, l := range got.Leaks {
		if strings.Contains(l, "hmac-secret-1234567890-abcdefghijklmnop") || strings.Contains(l, token) {
			t.Errorf("a leak report repeats the secret: %s", l)
		}
	}
}
