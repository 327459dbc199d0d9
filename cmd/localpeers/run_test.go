package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/devpki"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func newPeers(t *testing.T, app string) (*peers, *httptest.Server) {
	t.Helper()
	p := &peers{dir: t.TempDir(), secret: []byte("peer-secret-0123456789abcdef-0123456"), app: app,
		log: slog.New(slog.NewJSONHandler(io.Discard, nil)), client: http.DefaultClient}
	srv := httptest.NewUnstartedServer(p.routes())
	pki, err := devpki.NewChain(time.Hour, "http://"+srv.Listener.Addr().String()+issuerPath)
	if err != nil {
		t.Fatal(err)
	}
	p.pki = pki
	srv.Start()
	t.Cleanup(srv.Close)
	p.certURL = srv.URL + "/cert/pc.cer"
	return p, srv
}

func TestTicketSinkChecksTheSignature(t *testing.T) {
	p, srv := newPeers(t, "")
	body := []byte(`{"ticket":{"system":"jira","id":"SEC-42"},"subject":"s"}`)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ticket", bytes.NewReader(body))
	webhook.SetTicketHeaders(req, []byte("wrong"), body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrongly signed comment: got %v %v, want 401", resp, err)
	}
	// Signed as an inbound command (the secret itself): not a comment.
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/ticket", bytes.NewReader(body))
	webhook.SetTicketHeaders(req, p.secret, body, time.Now())
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("comment signed as a command: got %v %v, want 401", resp, err)
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/ticket", bytes.NewReader(body))
	for k, v := range webhook.TicketCommentHeaders(p.secret, body, time.Now()) {
		req.Header[k] = v
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("signed comment: got %v %v, want 204", resp, err)
	}
	b, _ := os.ReadFile(filepath.Join(p.dir, "ticket.jsonl"))
	if strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), "SEC-42") {
		t.Errorf("ticket.jsonl: got %q, want the one signed comment", b)
	}
}

func TestTeamsSinkKeepsEachCard(t *testing.T) {
	p, srv := newPeers(t, "")
	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/teams", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("not json"); got != http.StatusBadRequest {
		t.Errorf("a body that is not JSON: got %d, want 400", got)
	}
	for _, title := range []string{"first", "second"} {
		if got := post(`{"type":"message","title":"` + title + `"}`); got != http.StatusAccepted {
			t.Errorf("card %s: got %d, want 202", title, got)
		}
	}
	b, _ := os.ReadFile(filepath.Join(p.dir, "teams.jsonl"))
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"card":{`) || !strings.Contains(lines[1], `"second"`) || !strings.Contains(lines[0], `"at":`) {
		t.Errorf("teams.jsonl: got %q, want the two cards in order, each with when it arrived", b)
	}
}

// TestPartnerCenterEventVerifies: an event localpeers sends verifies as the
// app verifies it on a local run: the certificate comes alone, and its
// issuer from the caIssuers URL on localpeers' own origin, allowed by
// PARTNER_CENTER_ISSUER_HOSTS.
func TestPartnerCenterEventVerifies(t *testing.T) {
	var verified, withoutIssuers error = context.Canceled, nil
	p, srv := newPeers(t, "")
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		roots := filepath.Join(t.TempDir(), "roots.pem")
		_ = os.WriteFile(roots, p.pki.RootPEM, 0o600)
		pool, _ := webhook.LoadRoots(roots)
		v, _ := webhook.NewPartnerCenterVerifier(webhook.PartnerCenterOptions{CertOrigins: []string{srv.URL}, IssuerOrigins: []string{srv.URL}, Roots: pool})
		verified = v.Verify(r.Context(), r.Header, body)
		v, _ = webhook.NewPartnerCenterVerifier(webhook.PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: pool})
		withoutIssuers = v.Verify(r.Context(), r.Header, body)
		if ev, err := webhook.ParseEvent(body); err != nil || ev.EventName != "granular-admin-relationship-approved" {
			t.Errorf("event: got %+v %v", ev, err)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer app.Close()
	p.app = app.URL
	rel := "2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	resp, err := http.Post(srv.URL+"/partner-center/approved/"+rel, "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("send event: got %v %v, want the app's 202 passed through", resp, err)
	}
	if verified != nil {
		t.Fatalf("the app could not verify the event: %v", verified)
	}
	if access.KindOf(withoutIssuers) != access.KindUnauthorized {
		t.Errorf("verified without localpeers as an issuer origin: %v, want unauthorized (the .cer must hold the leaf alone)", withoutIssuers)
	}
	resp, err = http.Get(p.certURL)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if leaf, err := x509.ParseCertificate(der); err != nil || len(leaf.IssuingCertificateURL) != 1 || leaf.IssuingCertificateURL[0] != srv.URL+issuerPath {
		t.Errorf("the .cer: %v, want the leaf alone naming %s", err, srv.URL+issuerPath)
	}
}

// TestRunServesTheChain: the command itself serves the leaf alone and its
// issuer at the leaf's caIssuers URL, and the root it wrote anchors them.
func TestRunServesTheChain(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-dir", dir}, func(string) string { return "" }, w, io.Discard)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, out)
		if err := <-done; err != nil {
			t.Errorf("run = %v", err)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	// "localpeers on http://127.0.0.1:port: teams …"
	f := strings.Fields(line)
	if len(f) < 3 {
		t.Fatalf("first line %q, want the listen address", line)
	}
	base := strings.TrimSuffix(f[2], ":")
	get := func(u string) []byte {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", u, resp.Status)
		}
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	leaf, err := x509.ParseCertificate(get(base + "/cert/pcnotifications-dispatch.microsoft.com.cer"))
	if err != nil {
		t.Fatalf("the .cer is not one DER certificate: %v", err)
	}
	if len(leaf.IssuingCertificateURL) != 1 || !strings.HasPrefix(leaf.IssuingCertificateURL[0], base+"/") {
		t.Fatalf("leaf caIssuers %v, want one URL on %s", leaf.IssuingCertificateURL, base)
	}
	inter, err := x509.ParseCertificate(get(leaf.IssuingCertificateURL[0]))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := webhook.LoadRoots(filepath.Join(dir, "roots.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: x509CertPool(inter), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("leaf with the served issuer does not verify to the root written: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Error("leaf verifies without its issuer: the root signed it directly")
	}
}

func x509CertPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}
