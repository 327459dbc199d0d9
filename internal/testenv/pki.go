package testenv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PartnerCenter stands in for Partner Center's signing: a root CA, a leaf
// certificate (O=Microsoft Corporation) served over HTTP as Partner Center
// serves its own, and the leaf's key to sign event bodies with.
type PartnerCenter struct {
	RootsFile string // PEM file of the root: PARTNER_CENTER_ROOTS_FILE
	Origin    string // scheme://host:port of the certificate server: PARTNER_CENTER_CERT_HOSTS
	CertURL   string // X-MS-Certificate-Url
	key       *rsa.PrivateKey
}

// NewPartnerCenter makes a fresh PKI and serves its leaf until the test ends.
func NewPartnerCenter(tb testing.TB) *PartnerCenter {
	tb.Helper()
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Partner Center Root", Organization: []string{"Test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		tb.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "pcnotifications-dispatch.microsoft.com", Organization: []string{"Microsoft Corporation"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(leafDER)
	}))
	tb.Cleanup(srv.Close)
	roots := filepath.Join(tb.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return &PartnerCenter{RootsFile: roots, Origin: srv.URL, CertURL: srv.URL + "/cert/pcnotifications-dispatch.microsoft.com.cer", key: leafKey}
}

// Headers returns the headers Partner Center sends with body.
func (p *PartnerCenter) Headers(tb testing.TB, body []byte) http.Header {
	tb.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Signature "+base64.StdEncoding.EncodeToString(sig))
	h.Set("X-MS-Certificate-Url", p.CertURL)
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	h.Set("Content-Type", "application/json")
	return h
}
