package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/devpki"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("localpeers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8091", "listen address")
	dir := fs.String("dir", ".local/peers", "where to write roots.pem, teams.jsonl and ticket.jsonl")
	app := fs.String("app", "http://127.0.0.1:7071", "the app's base URL, for Partner Center events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := getenv("TICKET_WEBHOOK_SECRET")
	logger := slog.New(slog.NewJSONHandler(stderr, nil))

	// The leaf names its issuer by a URL on this listener, as Partner
	// Center's names Microsoft's store: listen first.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	pki, err := devpki.NewChain(30*24*time.Hour, base+issuerPath)
	if err != nil {
		ln.Close()
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		ln.Close()
		return err
	}
	// Written whole or not at all: the local run waits for the file.
	roots := filepath.Join(*dir, "roots.pem")
	if err := os.WriteFile(roots+".tmp", pki.RootPEM, 0o644); err != nil {
		ln.Close()
		return err
	}
	if err := os.Rename(roots+".tmp", roots); err != nil {
		ln.Close()
		return err
	}
	p := &peers{dir: *dir, secret: []byte(secret), pki: pki, certURL: base + "/cert/pcnotifications-dispatch.microsoft.com.cer",
		app: *app, log: logger, client: &http.Client{Timeout: 30 * time.Second}}
	srv := &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "localpeers on %s: teams %s/teams, ticket %s/ticket, partner center certificates (PARTNER_CENTER_CERT_HOSTS) and their issuer (PARTNER_CENTER_ISSUER_HOSTS) from %s\n", base, base, base, base)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// issuerPath is where the Partner Center leaf's issuing CA is served, named
// by the leaf's caIssuers URL: the .cer holds the leaf alone, as Partner
// Center's does, so the app must complete the chain as it does in Azure.
const issuerPath = "/pkiops/certs/local-partner-center-issuing-ca.crt"

// routes lists every endpoint of the local peers.
func (p *peers) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /teams", p.teams)
	mux.HandleFunc("POST /ticket", p.ticket)
	mux.HandleFunc("GET /cert/{name}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(p.pki.LeafDER)
	})
	mux.HandleFunc("GET "+issuerPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(p.pki.IntermediateDER)
	})
	mux.HandleFunc("POST /partner-center/{event}/{relationship}", p.partnerCenter)
	return mux
}

type peers struct {
	dir     string
	secret  []byte
	pki     *devpki.PKI
	certURL string
	app     string
	log     *slog.Logger
	client  *http.Client
	mu      sync.Mutex
}

// keep records what arrived as the field `what` of one line of file,
// beside when, logs it, and answers status; a line it cannot write is a
// 500, so that the sender retries.
func (p *peers) keep(w http.ResponseWriter, file, what string, v any, status int) {
	if err := p.record(file, map[string]any{"at": time.Now().UTC(), what: v}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.log.Info("received", "what", what, "file", file)
	w.WriteHeader(status)
}

// record appends one received message to a JSON-lines file.
func (p *peers) record(file string, v any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(p.dir, file), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	line, _ := json.Marshal(v)
	_, err = f.Write(append(line, '\n'))
	return err
}

func (p *peers) teams(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var card any
	if err := json.Unmarshal(body, &card); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	p.keep(w, "teams.jsonl", "card", card, http.StatusAccepted)
}

// ticket checks the comment's signature as a ticketing system would: with
// the key derived from TICKET_WEBHOOK_SECRET for comments
// (webhook.TicketCommentKey), so that a signed command is no comment.
func (p *peers) ticket(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := webhook.VerifyTicketComment(p.secret, r.Header, body, time.Now()); err != nil {
		p.log.Warn("ticket comment refused", "err", err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var comment any
	_ = json.Unmarshal(body, &comment)
	p.keep(w, "ticket.jsonl", "comment", comment, http.StatusNoContent)
}

// partnerCenter sends the app a signed Partner Center event, as Partner
// Center does when a customer approves (or a relationship ends).
func (p *peers) partnerCenter(w http.ResponseWriter, r *http.Request) {
	name := "granular-admin-relationship-" + r.PathValue("event")
	event := devpki.Event(name, r.PathValue("relationship"), time.Now())
	h, err := p.pki.Headers(event, p.certURL)
	if err == nil {
		var req *http.Request
		req, err = http.NewRequestWithContext(r.Context(), http.MethodPost, p.app+"/api/webhooks/partner-center", bytes.NewReader(event))
		if err == nil {
			req.Header = h
			var resp *http.Response
			if resp, err = p.client.Do(req); err == nil {
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				p.log.Info("partner center event sent", "event", name, "status", resp.StatusCode)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(resp.StatusCode)
				_, _ = w.Write(b)
				return
			}
		}
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	http.Error(w, err.Error(), http.StatusBadGateway)
}
