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
	"sync/atomic"
	"testing"
	"time"
)

// testPKI is a throw-away certificate hierarchy shaped like Partner Center's:
// a root, an intermediate, and RSA leaves issued to Microsoft Corporation.
type testPKI struct {
	roots        *x509.CertPool // trusts root only
	root         *x509.Certificate
	rootKey      crypto.Signer
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
		return signCA(tb, serial, now, cn, key, parent, parentKey)
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
		rootKey:      rootKey,
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

var aiaSerial atomic.Int64

// issueCA makes an issuing CA under parent for one test, naming its own
// issuer by the caIssuers URLs aia (none: a CA whose issuer must be known
// otherwise). A P-256 key keeps it quick.
func issueCA(tb testing.TB, cn string, parent *x509.Certificate, parentKey crypto.Signer, aia ...string) (*x509.Certificate, crypto.Signer) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return signCA(tb, 1000+aiaSerial.Add(1), time.Now(), cn, key, parent, parentKey, aia...), key
}

// signCA makes a CA certificate of the Test PKI for cn and key, valid from
// an hour before now for a day, signed by parent (nil: self-signed) and
// naming its issuer by the caIssuers URLs aia.
func signCA(tb testing.TB, serial int64, now time.Time, cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer, aia ...string) *x509.Certificate {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Test PKI"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		IssuingCertificateURL: aia,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// issueLeaf makes a Partner Center-like leaf for the PKI's leaf key under
// parent, naming its issuer only by the caIssuers URLs aia: the leaf-only
// .cer that Partner Center serves.
func (p *testPKI) issueLeaf(tb testing.TB, org string, parent *x509.Certificate, parentKey crypto.Signer, aia ...string) []byte {
	tb.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1000 + aiaSerial.Add(1)),
		Subject:               pkix.Name{CommonName: "pcnotifications-dispatch.microsoft.com", Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(12 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IssuingCertificateURL: aia,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, p.leafKey.Public(), parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	return der
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
