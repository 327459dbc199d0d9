package testenv

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/devpki"
)

// PartnerCenter stands in for Partner Center's signing: a root CA, an
// issuing CA, and a leaf certificate (O=Microsoft Corporation) served alone
// over HTTP as Partner Center serves its own, whose issuer is reachable only
// through the leaf's caIssuers URL on another origin (a CA's store), and the
// leaf's key to sign event bodies with.
type PartnerCenter struct {
	RootsFile    string // PEM file of the root: PARTNER_CENTER_ROOTS_FILE
	Origin       string // scheme://host:port of the certificate server: PARTNER_CENTER_CERT_HOSTS
	IssuerOrigin string // scheme://host:port of the issuer's store: PARTNER_CENTER_ISSUER_HOSTS
	CertURL      string // X-MS-Certificate-Url
	pki          *devpki.PKI
}

// NewPartnerCenter makes a fresh PKI and serves its leaf and its issuer
// until the test ends.
func NewPartnerCenter(tb testing.TB) *PartnerCenter {
	tb.Helper()
	// The issuer's URL is in the leaf, so its store listens first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	issuerOrigin := "http://" + ln.Addr().String()
	pki, err := devpki.NewChain(24*time.Hour, issuerOrigin+"/pkiops/certs/local-partner-center-issuing-ca.crt")
	if err != nil {
		ln.Close()
		tb.Fatal(err)
	}
	issuers := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pkiops/certs/local-partner-center-issuing-ca.crt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(pki.IntermediateDER)
	})}}
	issuers.Start()
	tb.Cleanup(issuers.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(pki.LeafDER)
	}))
	tb.Cleanup(srv.Close)
	roots := filepath.Join(tb.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pki.RootPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	return &PartnerCenter{RootsFile: roots, Origin: srv.URL, IssuerOrigin: issuerOrigin,
		CertURL: srv.URL + "/cert/pcnotifications-dispatch.microsoft.com.cer", pki: pki}
}

// Headers returns the headers Partner Center sends with body.
func (p *PartnerCenter) Headers(tb testing.TB, body []byte) http.Header {
	tb.Helper()
	h, err := p.pki.Headers(body, p.CertURL)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}
