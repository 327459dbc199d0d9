// Package devpki makes a throw-away certificate authority and a Partner
// Center-like signing certificate (O=Microsoft Corporation), for tests and
// local runs: Partner Center signs its webhooks with RSA-SHA256 and a
// certificate it serves over HTTPS, which cannot be had offline.
package devpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// PKI is a root and a leaf signed by it.
type PKI struct {
	RootPEM []byte // the root, for PARTNER_CENTER_ROOTS_FILE
	LeafDER []byte // the certificate served at X-MS-Certificate-Url
	key     *rsa.PrivateKey
}

// New makes a PKI valid from an hour ago for the given time.
func New(valid time.Duration) (*PKI, error) {
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
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "pcnotifications-dispatch.microsoft.com", Organization: []string{"Microsoft Corporation"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(valid),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate: %w", err)
	}
	return &PKI{RootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), LeafDER: leafDER, key: leafKey}, nil
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
