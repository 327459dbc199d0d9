// Package devpki makes a throw-away certificate authority and a Partner
// Center-like signing certificate (O=Microsoft Corporation), for tests and
// local runs: Partner Center signs its webhooks with RSA-SHA256 and a
// certificate it serves over HTTPS, which cannot be had offline.
package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// PKI is a root and a leaf signed by it, or by an intermediate the root
// signed (NewChain).
type PKI struct {
	RootPEM []byte // the root, for PARTNER_CENTER_ROOTS_FILE
	LeafDER []byte // the certificate served at X-MS-Certificate-Url: the leaf alone
	// IntermediateDER is the issuing CA of a NewChain leaf, to be served at
	// the leaf's caIssuers URL; nil for New.
	IntermediateDER []byte
	key             *rsa.PrivateKey
}

// New makes a PKI valid from an hour ago for the given time, whose leaf is
// issued by the root directly.
func New(valid time.Duration) (*PKI, error) {
	return newPKI(valid, "")
}

// NewChain makes a PKI shaped like Partner Center's: root, issuing CA and
// leaf, where the leaf names its issuer only by the Authority Information
// Access caIssuers URL issuerURL, as Partner Center's leaf-only .cer does.
// Whoever serves LeafDER must serve IntermediateDER at issuerURL.
func NewChain(valid time.Duration, issuerURL string) (*PKI, error) {
	if issuerURL == "" {
		return nil, errors.New("devpki: NewChain needs the issuer URL")
	}
	return newPKI(valid, issuerURL)
}

func newPKI(valid time.Duration, issuerURL string) (*PKI, error) {
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Local Partner Center Root", Organization: []string{"Local"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	p := &PKI{RootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), key: leafKey}
	issuer, issuerKey := root, crypto.Signer(rootKey)
	if issuerURL != "" {
		// A P-256 issuing CA: the verifier does not care, and it is quicker
		// to make than another RSA key.
		interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		interTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Local Partner Center Issuing CA", Organization: []string{"Local"}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid),
			IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign,
		}
		if p.IntermediateDER, err = x509.CreateCertificate(rand.Reader, interTmpl, root, &interKey.PublicKey, rootKey); err != nil {
			return nil, fmt.Errorf("intermediate certificate: %w", err)
		}
		if issuer, err = x509.ParseCertificate(p.IntermediateDER); err != nil {
			return nil, err
		}
		issuerKey = interKey
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "pcnotifications-dispatch.microsoft.com", Organization: []string{"Microsoft Corporation"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(valid),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if issuerURL != "" {
		leafTmpl.IssuingCertificateURL = []string{issuerURL}
	}
	if p.LeafDER, err = x509.CreateCertificate(rand.Reader, leafTmpl, issuer, &leafKey.PublicKey, issuerKey); err != nil {
		return nil, fmt.Errorf("leaf certificate: %w", err)
	}
	return p, nil
}

// Headers returns the headers Partner Center sends with body, naming the
// certificate at certURL.
func (p *PKI) Headers(body []byte, certURL string) (http.Header, error) {
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Signature "+base64.StdEncoding.EncodeToString(sig))
	h.Set("X-MS-Certificate-Url", certURL)
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	h.Set("Content-Type", "application/json")
	return h, nil
}

// Event is a Partner Center event about a GDAP relationship, as Partner
// Center words it.
func Event(name, relationshipID string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"EventName":%q,"ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/%s","ResourceName":"GranularAdminRelationship","AuditUri":null,"ResourceChangeUtcDate":%q}`,
		name, relationshipID, at.UTC().Format("2006-01-02T15:04:05.0000000+00:00")))
}
