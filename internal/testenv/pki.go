package testenv

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/devpki"
)

// PartnerCenter stands in for Partner Center's signing: a root CA, a leaf
// certificate (O=Microsoft Corporation) served over HTTP as Partner Center
// serves its own, and the leaf's key to sign event bodies with.
type PartnerCenter struct {
	RootsFile string // PEM file of the root: PARTNER_CENTER_ROOTS_FILE
	Origin    string // scheme://host:port of the certificate server: PARTNER_CENTER_CERT_HOSTS
	CertURL   string // X-MS-Certificate-Url
	pki       *devpki.PKI
}

// NewPartnerCenter makes a fresh PKI and serves its leaf until the test ends.
func NewPartnerCenter(tb testing.TB) *PartnerCenter {
	tb.Helper()
	pki, err := devpki.New(24 * time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(pki.LeafDER)
	}))
	tb.Cleanup(srv.Close)
	roots := filepath.Join(tb.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pki.RootPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	return &PartnerCenter{RootsFile: roots, Origin: srv.URL, CertURL: srv.URL + "/cert/pcnotifications-dispatch.microsoft.com.cer", pki: pki}
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
