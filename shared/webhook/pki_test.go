package webhook

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
	"math/big"
	"os"
	"sync"
	"testing"
	"time"
)

// testPKI is a throw-away certificate hierarchy shaped like Partner Center's:
// a root, an intermediate, and RSA leaves issued to Microsoft Corporation.
type testPKI struct {
	roots        *x509.CertPool // trusts root only
	root         *x509.Certificate
	inter        *x509.Certificate
	leafKey      *rsa.PrivateKey
	otherKey     *rsa.PrivateKey
	leaf         []byte // DER, issued by root directly
	leafViaInter []byte // DER, issued by inter
	expired      []byte
	notYetValid  []byte
	untrusted    []byte // issued by a root nobody trusts
	noOrg        []byte // issued by root to another organization
	ecdsaLeaf    []byte // the right issuer and subject, but not an RSA key
}

var (
	pkiOnce sync.Once
	pki     *testPKI
)

// thePKI builds the hierarchy once per test binary: RSA key generation is
// the slowest thing these tests do.
func thePKI(tb testing.TB) *testPKI {
	tb.Helper()
	pkiOnce.Do(func() { pki = newTestPKI(tb) })
	if pki == nil {
		tb.Fatal("test PKI could not be built")
	}
	return pki
}

func newTestPKI(tb testing.TB) *testPKI {
	now := time.Now()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	strangerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)

	serial := int64(1)
	ca := func(cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
		serial++
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"Test PKI"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		must(err)
		c, err := x509.ParseCertificate(der)
		must(err)
		return c
	}
	root := ca("Test Root", rootKey, nil, nil)
	stranger := ca("Stranger Root", strangerKey, nil, nil)
	inter := ca("Test Issuing CA", interKey, root, rootKey)

	leaf := func(org string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, from, to time.Time) []byte {
		serial++
		var orgs []string
		if org != "" {
			orgs = []string{org}
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "pcnotifications-dispatch.microsoft.com", Organization: orgs},
			NotBefore:    from,
			NotAfter:     to,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
		must(err)
		return der
	}
	valid := [2]time.Time{now.Add(-time.Hour), now.Add(12 * time.Hour)}
	p := &testPKI{
		roots:        x509.NewCertPool(),
		root:         root,
		inter:        inter,
		leafKey:      leafKey,
		otherKey:     otherKey,
		leaf:         leaf(MicrosoftOrganization, leafKey.Public(), root, rootKey, valid[0], valid[1]),
		leafViaInter: leaf(MicrosoftOrganization, leafKey.Public(), inter, interKey, valid[0], valid[1]),
		expired:      leaf(MicrosoftOrganization, leafKey.Public(), root, rootKey, now.Add(-48*time.Hour), now.Add(-24*time.Hour)),
		notYetValid:  leaf(MicrosoftOrganization, leafKey.Public(), root, rootKey, now.Add(time.Hour), now.Add(12*time.Hour)),
		untrusted:    leaf(MicrosoftOrganization, leafKey.Public(), stranger, strangerKey, valid[0], valid[1]),
		noOrg:        leaf("Contoso Ltd", leafKey.Public(), root, rootKey, valid[0], valid[1]),
		ecdsaLeaf:    leaf(MicrosoftOrganization, ecKey.Public(), root, rootKey, valid[0], valid[1]),
	}
	p.roots.AddCert(root)
	return p
}

// sign returns the base64 RSA-SHA256 PKCS #1 v1.5 signature of body, as
// Partner Center sends it.
func sign(tb testing.TB, key *rsa.PrivateKey, body []byte) string {
	tb.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func pemOf(ders ...[]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	return out
}

func x509CertPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
