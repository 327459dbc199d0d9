package main

import (
	"bytes"
	"context"
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
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func newPeers(t *testing.T, app string) (*peers, *httptest.Server) {
	t.Helper()
	pki, err := devpki.New(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &peers{dir: t.TempDir(), secret: []byte("peer-secret"), pki: pki, app: app,
		log: slog.New(slog.NewJSONHandler(io.Discard, nil)), client: http.DefaultClient}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /teams", p.teams)
	mux.HandleFunc("POST /ticket", p.ticket)
	mux.HandleFunc("GET /cert/{name}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(pki.LeafDER) })
	mux.HandleFunc("POST /partner-center/{event}/{relationship}", p.partnerCenter)
	srv := httptest.NewServer(mux)
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
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/ticket", bytes.NewReader(body))
	webhook.SetTicketHeaders(req, p.secret, body, time.Now())
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("signed comment: got %v %v, want 204", resp, err)
	}
	b, _ := os.ReadFile(filepath.Join(p.dir, "ticket.jsonl"))
	if strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), "SEC-42") {
		t.Errorf("ticket.jsonl: got %q, want the one signed comment", b)
	}
}

func TestPartnerCenterEventVerifies(t *testing.T) {
	var verified error = context.Canceled
	p, srv := newPeers(t, "")
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		roots := filepath.Join(t.TempDir(), "roots.pem")
		_ = os.WriteFile(roots, p.pki.RootPEM, 0o600)
		pool, _ := webhook.LoadRoots(roots)
		v, _ := webhook.NewPartnerCenterVerifier(webhook.PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: pool})
		verified = v.Verify(r.Context(), r.Header, body)
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
}
