package webhook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Header names of a Partner Center delivery.
const (
	HeaderAuthorization   = "Authorization"
	HeaderMSSignature     = "X-Ms-Signature"
	HeaderCertificateURL  = "X-Ms-Certificate-Url"
	HeaderSignatureAlgo   = "X-Ms-Signature-Algorithm"
	PartnerCenterAlgo     = "rsa-sha256"
	MicrosoftOrganization = "Microsoft Corporation"
)

// DefaultCertOrigin is the only origin Partner Center serves its signing
// certificate from.
const DefaultCertOrigin = "https://3psostorageacct.blob.core.windows.net"

// Defaults of PartnerCenterOptions.
const (
	DefaultCertTimeout  = 10 * time.Second
	DefaultCertCacheTTL = time.Hour
	MaxCertSize         = 64 << 10
)

// errRedirectNotAllowed is what the fetching client's redirect check
// returns, so that fetch can tell a hostile redirect from an outage.
var errRedirectNotAllowed = errors.New("redirect to a certificate origin that is not allowed")

// maxCachedCerts bounds the cache: the path part of the certificate URL is
// the caller's choice, so the cache must not grow with it.
const maxCachedCerts = 32

// PartnerCenterOptions configures a PartnerCenterVerifier. The zero value is
// the production setting: Partner Center's storage origin, the system roots
// and a leaf issued to Microsoft Corporation.
type PartnerCenterOptions struct {
	// CertOrigins lists the allowed certificate origins, each
	// "scheme://host[:port]". A certificate URL must match one exactly in
	// scheme, host and port. Empty means DefaultCertOrigin.
	CertOrigins []string
	// Roots, when set, replaces the system roots (tests and local runs,
	// PARTNER_CENTER_ROOTS_FILE).
	Roots *x509.CertPool
	// Intermediates helps build the chain when the published certificate
	// comes without its issuing CA; intermediates in a PEM certificate file
	// are used as well.
	Intermediates *x509.CertPool
	// Organization is the subject organization (O=) the leaf must carry.
	// Empty means MicrosoftOrganization with the system roots and no check
	// with caller-given Roots, whose CA is trusted for this purpose only.
	Organization string
	// HTTPClient fetches certificates. Nil means a client with
	// DefaultCertTimeout. Its redirects are limited to the allowed origins.
	HTTPClient *http.Client
	// CacheTTL is how long a fetched certificate is reused; never past the
	// leaf's NotAfter. Zero means DefaultCertCacheTTL.
	CacheTTL time.Duration
	// Clock gives the current time; nil means time.Now.
	Clock func() time.Time
}

// PartnerCenterVerifier checks the RSA-SHA256 signature of Partner Center
// webhook deliveries. It is safe for concurrent use.
type PartnerCenterVerifier struct {
	origins       []origin
	roots         *x509.CertPool
	intermediates *x509.CertPool
	org           string
	client        *http.Client
	ttl           time.Duration
	now           func() time.Time

	mu    sync.Mutex
	cache map[string]cachedCert
}

type cachedCert struct {
	certs   []*x509.Certificate // leaf first
	expires time.Time
}

// origin is a parsed "scheme://host:port", with the port made explicit so
// that https://h and https://h:443 compare equal.
type origin struct{ scheme, host, port string }

// NewPartnerCenterVerifier builds a verifier. It returns an error if an
// origin is not a bare "scheme://host[:port]".
func NewPartnerCenterVerifier(o PartnerCenterOptions) (*PartnerCenterVerifier, error) {
	if len(o.CertOrigins) == 0 {
		o.CertOrigins = []string{DefaultCertOrigin}
	}
	v := &PartnerCenterVerifier{
		roots:         o.Roots,
		intermediates: o.Intermediates,
		org:           o.Organization,
		ttl:           o.CacheTTL,
		now:           o.Clock,
		cache:         make(map[string]cachedCert),
	}
	for _, s := range o.CertOrigins {
		or, err := parseOrigin(s)
		if err != nil {
			return nil, err
		}
		v.origins = append(v.origins, or)
	}
	if v.org == "" && v.roots == nil {
		// With the whole system pool trusted, any public CA's customer could
		// present a valid chain; only Microsoft's subject narrows it down.
		v.org = MicrosoftOrganization
	}
	if v.ttl <= 0 {
		v.ttl = DefaultCertCacheTTL
	}
	if v.now == nil {
		v.now = time.Now
	}
	var c http.Client
	if o.HTTPClient != nil {
		c = *o.HTTPClient // a copy: the caller's client keeps its own redirect policy
	} else {
		c.Timeout = DefaultCertTimeout
	}
	// A redirect from an allowed host to any other would defeat the
	// allow-list, so every hop is checked like the first URL.
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		if !v.allowed(req.URL) {
			return errRedirectNotAllowed
		}
		return nil
	}
	v.client = &c
	return v, nil
}

// LoadRoots reads a PEM file of trusted root certificates
// (PARTNER_CENTER_ROOTS_FILE) into a pool for PartnerCenterOptions.Roots.
func LoadRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read partner center roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("read partner center roots: no PEM certificate in %s", path)
	}
	return pool, nil
}

// Verify checks a Partner Center delivery: the algorithm header is
// rsa-sha256, the certificate URL is on an allowed origin (checked before any
// network call), the certificate chains to a trusted root at the current
// time, is issued to the expected organization, and its RSA key verifies the
// PKCS #1 v1.5 SHA-256 signature over the raw body. Every failure is
// KindUnauthorized, except a certificate that cannot be fetched for now
// (network error, 429, 5xx), which is KindTransient.
func (v *PartnerCenterVerifier) Verify(ctx context.Context, header http.Header, body []byte) error {
	sig, err := partnerCenterSignature(header)
	if err != nil {
		return err
	}
	algo, err := single(header, HeaderSignatureAlgo)
	if err != nil {
		return err
	}
	if !strings.EqualFold(algo, PartnerCenterAlgo) {
		return refuse("partner center signature: algorithm must be " + PartnerCenterAlgo)
	}
	rawURL, err := single(header, HeaderCertificateURL)
	if err != nil {
		return err
	}
	u, err := url.Parse(rawURL)
	if err != nil || !v.allowed(u) {
		return refuse("partner center signature: certificate url is not on an allowed origin")
	}
	certs, err := v.certificate(ctx, u)
	if err != nil {
		return err
	}
	leaf := certs[0]
	now := v.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return refuse("partner center signature: certificate is expired or not yet valid")
	}
	inter := x509.NewCertPool()
	if v.intermediates != nil {
		inter = v.intermediates.Clone()
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots, // nil: the system roots
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return refuse("partner center signature: certificate does not chain to a trusted root")
	}
	if v.org != "" && !slices.Contains(leaf.Subject.Organization, v.org) {
		return refuse("partner center signature: certificate is not issued to " + v.org)
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return refuse("partner center signature: certificate key is not RSA")
	}
	sum := sha256.Sum256(body)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return refuse("partner center signature: signature does not match")
	}
	return nil
}

// partnerCenterSignature reads the signature from "Authorization: Signature
// <base64>", or from x-ms-signature when the registration asked for that.
func partnerCenterSignature(h http.Header) ([]byte, error) {
	var b64 string
	if v, err := single(h, HeaderAuthorization); err == nil {
		if scheme, rest, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Signature") {
			b64 = strings.TrimSpace(rest)
		}
	}
	if b64 == "" {
		// Authorization may be absent or carry a front end's own scheme;
		// then the signature must be in x-ms-signature.
		v, err := single(h, HeaderMSSignature)
		if err != nil {
			return nil, refuse("partner center signature: missing Authorization: Signature or x-ms-signature header")
		}
		b64 = v
	}
	// 8192-bit RSA signatures are 1 KiB; anything much longer is noise.
	if b64 == "" || len(b64) > 2048 {
		return nil, refuse("partner center signature: signature is not base64")
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		sig, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(sig) == 0 {
		return nil, refuse("partner center signature: signature is not base64")
	}
	return sig, nil
}

// certificate returns the certificates at u, leaf first, from the cache or
// fetched and parsed.
func (v *PartnerCenterVerifier) certificate(ctx context.Context, u *url.URL) ([]*x509.Certificate, error) {
	key := u.String()
	now := v.now()
	v.mu.Lock()
	e, ok := v.cache[key]
	v.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.certs, nil
	}
	certs, err := v.fetch(ctx, u)
	if err != nil {
		return nil, err
	}
	exp := now.Add(v.ttl)
	if certs[0].NotAfter.Before(exp) {
		exp = certs[0].NotAfter
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= maxCachedCerts {
		for k, c := range v.cache {
			if !now.Before(c.expires) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= maxCachedCerts {
			clear(v.cache)
		}
	}
	v.cache[key] = cachedCert{certs: certs, expires: exp}
	return certs, nil
}

func (v *PartnerCenterVerifier) fetch(ctx context.Context, u *url.URL) ([]*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, refuse("partner center signature: certificate url is not valid")
	}
	resp, err := v.client.Do(req)
	if err != nil {
		// A refused redirect is the sender's doing, not an outage.
		if errors.Is(err, errRedirectNotAllowed) {
			return nil, refuse("partner center signature: certificate url redirects off the allowed origins")
		}
		return nil, &access.Error{Kind: access.KindTransient, Msg: "partner center signature: fetch certificate from " + u.Host, Err: netCause(err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, access.Errorf(access.KindTransient, "partner center signature: fetch certificate from %s: status %d", u.Host, resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, refuse(fmt.Sprintf("partner center signature: fetch certificate: status %d", resp.StatusCode))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxCertSize+1))
	if err != nil {
		return nil, &access.Error{Kind: access.KindTransient, Msg: "partner center signature: read certificate from " + u.Host, Err: netCause(err)}
	}
	if len(b) > MaxCertSize {
		return nil, refuse("partner center signature: certificate is larger than 64 KiB")
	}
	certs, err := parseCertificates(b)
	if err != nil {
		return nil, refuse("partner center signature: " + err.Error())
	}
	return certs, nil
}

// parseCertificates accepts one DER certificate (the usual .cer), the same
// in bare base64 (how some tools save .cer files), or PEM holding the leaf
// first and then any intermediates.
func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, errors.New("certificate is not valid PEM or DER")
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		der, b64err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
		if b64err != nil {
			return nil, errors.New("certificate is not valid PEM or DER")
		}
		if c, err = x509.ParseCertificate(der); err != nil {
			return nil, errors.New("certificate is not valid PEM or DER")
		}
	}
	return []*x509.Certificate{c}, nil
}

// netCause keeps the reason of a failed fetch without the *url.Error
// wrapper, whose text repeats the whole URL chosen by the sender.
func netCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (v *PartnerCenterVerifier) allowed(u *url.URL) bool {
	got, ok := urlOrigin(u)
	if !ok {
		return false
	}
	return slices.Contains(v.origins, got)
}

// parseOrigin reads an allowed origin; a path, query or userinfo makes it
// ambiguous and is refused.
func parseOrigin(s string) (origin, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil {
		return origin{}, fmt.Errorf("partner center certificate origin %q: %w", s, err)
	}
	o, ok := urlOrigin(u)
	if !ok || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return origin{}, fmt.Errorf("partner center certificate origin %q is not scheme://host[:port]", s)
	}
	return o, nil
}

// urlOrigin returns the origin of an absolute http(s) URL. It compares the
// parsed host, not the text: "https://allowed.example.evil.example" and
// "https://allowed.example@evil.example" name other hosts, and a URL with
// userinfo is refused outright because no certificate URL needs one.
func urlOrigin(u *url.URL) (origin, bool) {
	if u == nil || u.User != nil || u.Opaque != "" {
		return origin{}, false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || (scheme != "https" && scheme != "http") {
		return origin{}, false
	}
	port := u.Port() // url.Parse lets only digits through
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[scheme]
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return origin{}, false
	}
	return origin{scheme: scheme, host: host, port: strconv.Itoa(n)}, true
}
