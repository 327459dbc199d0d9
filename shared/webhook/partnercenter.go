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

// DefaultIssuerOrigins returns the origins a missing issuing CA may be
// fetched from when PartnerCenterOptions.IssuerOrigins is empty: where
// Microsoft's and DigiCert's CAs publish their certificates, the caIssuers
// URLs of Partner Center's chain.
func DefaultIssuerOrigins() []string {
	return []string{"http://www.microsoft.com", "https://www.microsoft.com", "http://cacerts.digicert.com", "https://cacerts.digicert.com"}
}

// Defaults of PartnerCenterOptions.
const (
	DefaultCertTimeout  = 10 * time.Second
	DefaultCertCacheTTL = time.Hour
	MaxCertSize         = 64 << 10
)

// errRedirectNotAllowed is what the fetching client's redirect check
// returns, so that fetch can tell a hostile redirect from an outage.
var errRedirectNotAllowed = errors.New("redirect to an origin that is not allowed")

// maxCachedCerts bounds the cache: the path part of the certificate URL is
// the caller's choice, so the cache must not grow with it.
const maxCachedCerts = 32

// Bounds of the chain completion from caIssuers URLs: how many issuers up
// from the leaf, how many URLs of one certificate, how many fetches (or
// cache hits) for one delivery, and how many issuers are cached. A chain of
// Microsoft's needs one or two levels. Each fetch has the client's timeout
// and the whole completion issuerBudget, so a slow store cannot hold a
// delivery for maxIssuerFetches timeouts.
const (
	maxIssuerDepth   = 4
	maxIssuerURLs    = 4
	maxIssuerFetches = 8
	maxCachedIssuers = 16
	issuerBudget     = 2 * DefaultCertTimeout
)

// PartnerCenterOptions configures a PartnerCenterVerifier. The zero value is
// the production setting: Partner Center's storage origin, issuers from
// Microsoft's and DigiCert's certificate stores, the system roots and a leaf
// issued to Microsoft Corporation.
type PartnerCenterOptions struct {
	// CertOrigins lists the allowed certificate origins, each
	// "scheme://host[:port]". A certificate URL must match one exactly in
	// scheme, host and port. Empty means DefaultCertOrigin.
	CertOrigins []string
	// IssuerOrigins lists the origins, same syntax, that a missing issuing
	// CA may be fetched from: Partner Center's .cer holds the leaf alone,
	// and Go does not fetch intermediates, so the verifier follows the
	// caIssuers URLs of the leaf's Authority Information Access (and of each
	// issuer fetched) on these origins only. Empty means
	// DefaultIssuerOrigins() (PARTNER_CENTER_ISSUER_HOSTS overrides it in
	// tests and local runs).
	IssuerOrigins []string
	// Roots, when set, replaces the system roots (tests and local runs,
	// PARTNER_CENTER_ROOTS_FILE).
	Roots *x509.CertPool
	// Intermediates helps build the chain when the published certificate
	// comes without its issuing CA; intermediates in a PEM certificate file
	// and those fetched from caIssuers URLs are used as well.
	Intermediates *x509.CertPool
	// Organization is the subject organization (O=) the leaf must carry.
	// Empty means MicrosoftOrganization, whatever the roots: the check is
	// never off, so a roots file cannot drop it by accident, and test PKIs
	// issue their leaves to Microsoft Corporation as Partner Center's is.
	Organization string
	// HTTPClient fetches certificates and issuers. Nil means a client with
	// DefaultCertTimeout. Its redirects are limited to the allowed origins
	// (certificate or issuer origins, as for the first URL).
	HTTPClient *http.Client
	// CacheTTL is how long a fetched certificate or issuer is reused; never
	// past its NotAfter. Zero means DefaultCertCacheTTL.
	CacheTTL time.Duration
	// Clock gives the current time; nil means time.Now.
	Clock func() time.Time
}

// PartnerCenterVerifier checks the RSA-SHA256 signature of Partner Center
// webhook deliveries. It is safe for concurrent use.
type PartnerCenterVerifier struct {
	origins       []origin
	issuerOrigins []origin
	roots         *x509.CertPool
	intermediates *x509.CertPool
	org           string
	client        *http.Client // certificate URLs: redirects stay on origins
	issuerClient  *http.Client // caIssuers URLs: redirects stay on issuerOrigins
	ttl           time.Duration
	now           func() time.Time

	certs   *certCache // by certificate URL, leaf first
	issuers *certCache // by caIssuers URL
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
	if len(o.IssuerOrigins) == 0 {
		o.IssuerOrigins = DefaultIssuerOrigins()
	}
	v := &PartnerCenterVerifier{
		roots:         o.Roots,
		intermediates: o.Intermediates,
		org:           o.Organization,
		ttl:           o.CacheTTL,
		now:           o.Clock,
		certs:         &certCache{max: maxCachedCerts},
		issuers:       &certCache{max: maxCachedIssuers},
	}
	var err error
	if v.origins, err = parseOrigins(o.CertOrigins); err != nil {
		return nil, err
	}
	if v.issuerOrigins, err = parseOrigins(o.IssuerOrigins); err != nil {
		return nil, err
	}
	if v.org == "" {
		// With a public CA's chain (the system roots), any of its customers
		// could present a valid certificate; only Microsoft's subject narrows
		// it down. Test roots keep the check too, so that what tests pass is
		// what production accepts.
		v.org = MicrosoftOrganization
	}
	if v.ttl <= 0 {
		v.ttl = DefaultCertCacheTTL
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.client = confined(o.HTTPClient, v.origins)
	v.issuerClient = confined(o.HTTPClient, v.issuerOrigins)
	return v, nil
}

// confined returns a copy of base (nil: a client with DefaultCertTimeout)
// whose redirects stay on origins: a redirect from an allowed host to any
// other would defeat the allow-list, so every hop is checked like the first
// URL. The caller's client keeps its own redirect policy.
func confined(base *http.Client, origins []origin) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	} else {
		c.Timeout = DefaultCertTimeout
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		if !allowedIn(origins, req.URL) {
			return errRedirectNotAllowed
		}
		return nil
	}
	return &c
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
// time (through issuers fetched from its caIssuers URLs on the allowed
// issuer origins when the certificate comes alone), is issued to the
// expected organization, and its RSA key verifies the PKCS #1 v1.5 SHA-256
// signature over the raw body. Every failure is KindUnauthorized, except a
// certificate or issuer that cannot be fetched for now (network error, 429,
// 5xx), which is KindTransient.
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
	opts := x509.VerifyOptions{
		Roots:         v.roots, // nil: the system roots
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	if _, err := leaf.Verify(opts); err != nil {
		// Only a missing issuer is worth a fetch; an expired or misused
		// certificate in the chain would not be mended by one.
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			return refuse("partner center signature: certificate does not chain to a trusted root")
		}
		if err := v.completeChain(ctx, leaf, opts); err != nil {
			return err
		}
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

// completeChain fetches the issuers named by the caIssuers URLs of leaf, and
// of each issuer found, level by level, until leaf verifies with opts: at
// most maxIssuerDepth levels and maxIssuerFetches URLs, each on an allowed
// issuer origin (checked before any network call). A fetched certificate is
// kept only if it signed the certificate that named it, so a URL cannot
// stuff the pool. The chain must still end at one of opts.Roots. It returns
// KindTransient if an issuer could not be fetched for now and the chain is
// not complete without it, KindUnauthorized otherwise.
func (v *PartnerCenterVerifier) completeChain(ctx context.Context, leaf *x509.Certificate, opts x509.VerifyOptions) error {
	const incomplete = "partner center signature: certificate does not chain to a trusted root"
	ctx, cancel := context.WithTimeout(ctx, issuerBudget)
	defer cancel()
	var (
		reason    string // the last refusal, for the log
		transient error
		fetches   int
		seen      = map[string]bool{}
		frontier  = []*x509.Certificate{leaf}
	)
	depth := 0
	for ; depth < maxIssuerDepth && len(frontier) > 0; depth++ {
		var next []*x509.Certificate
		for _, c := range frontier {
			for _, raw := range c.IssuingCertificateURL[:min(len(c.IssuingCertificateURL), maxIssuerURLs)] {
				if seen[raw] || fetches >= maxIssuerFetches {
					continue
				}
				seen[raw] = true
				u, err := url.Parse(raw)
				if err != nil || !allowedIn(v.issuerOrigins, u) {
					reason = "issuer url is not on an allowed issuer origin"
					continue
				}
				fetches++
				issuers, err := v.issuer(ctx, u)
				if err != nil {
					if access.KindOf(err) == access.KindTransient {
						transient = err
					} else {
						reason = strings.TrimPrefix(err.Error(), "partner center signature: ")
					}
					continue
				}
				for _, ic := range issuers {
					if c.CheckSignatureFrom(ic) != nil {
						reason = "issuer at " + u.Scheme + "://" + u.Host + " did not sign the certificate"
						continue
					}
					opts.Intermediates.AddCert(ic)
					next = append(next, ic)
				}
			}
		}
		if len(next) == 0 {
			break
		}
		if _, err := leaf.Verify(opts); err == nil {
			return nil
		}
		reason = "the issuers fetched do not reach a trusted root"
		frontier = next
	}
	if depth == maxIssuerDepth && len(frontier) > 0 {
		reason = fmt.Sprintf("no trusted root within %d issuers above the leaf", maxIssuerDepth)
	}
	if transient != nil {
		return transient
	}
	if len(leaf.IssuingCertificateURL) == 0 {
		reason = "no issuer and no caIssuers url"
	}
	if reason == "" {
		return refuse(incomplete)
	}
	return refuse(incomplete + ": " + reason)
}

// certificate returns the certificates at u, leaf first, from the cache or
// fetched and parsed.
func (v *PartnerCenterVerifier) certificate(ctx context.Context, u *url.URL) ([]*x509.Certificate, error) {
	return v.cached(ctx, v.certs, v.client, u, "certificate")
}

// issuer returns the certificates at a caIssuers URL, from the cache or
// fetched and parsed.
func (v *PartnerCenterVerifier) issuer(ctx context.Context, u *url.URL) ([]*x509.Certificate, error) {
	return v.cached(ctx, v.issuers, v.issuerClient, u, "issuer certificate")
}

// cached looks u up in cache, or fetches it with client and keeps it for
// the TTL, never past the NotAfter of any certificate in it. A failed
// fetch is not kept: the next delivery tries again.
func (v *PartnerCenterVerifier) cached(ctx context.Context, cache *certCache, client *http.Client, u *url.URL, what string) ([]*x509.Certificate, error) {
	key := u.String()
	now := v.now()
	if certs, ok := cache.get(key, now); ok {
		return certs, nil
	}
	certs, err := fetch(ctx, client, u, what)
	if err != nil {
		return nil, err
	}
	exp := now.Add(v.ttl)
	for _, c := range certs {
		if c.NotAfter.Before(exp) {
			exp = c.NotAfter
		}
	}
	cache.put(key, certs, exp, now)
	return certs, nil
}

// fetch GETs the certificates at u; what names them in errors.
func fetch(ctx context.Context, client *http.Client, u *url.URL, what string) ([]*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, refuse("partner center signature: " + what + " url is not valid")
	}
	resp, err := client.Do(req)
	if err != nil {
		// A refused redirect is the sender's doing, not an outage.
		if errors.Is(err, errRedirectNotAllowed) {
			return nil, refuse("partner center signature: " + what + " url redirects off the allowed origins")
		}
		return nil, &access.Error{Kind: access.KindTransient, Msg: "partner center signature: fetch " + what + " from " + u.Host, Err: netCause(err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, access.Errorf(access.KindTransient, "partner center signature: fetch %s from %s: status %d", what, u.Host, resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, refuse(fmt.Sprintf("partner center signature: fetch %s from %s: status %d", what, u.Host, resp.StatusCode))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxCertSize+1))
	if err != nil {
		return nil, &access.Error{Kind: access.KindTransient, Msg: "partner center signature: read " + what + " from " + u.Host, Err: netCause(err)}
	}
	if len(b) > MaxCertSize {
		return nil, refuse("partner center signature: " + what + " is larger than 64 KiB")
	}
	certs, err := parseCertificates(b)
	if err != nil {
		return nil, refuse("partner center signature: " + what + ": " + err.Error())
	}
	return certs, nil
}

// certCache keeps fetched certificates by URL, at most max entries: when
// full, expired entries go first, then the one closest to expiring. It is
// safe for concurrent use.
type certCache struct {
	max int
	mu  sync.Mutex
	m   map[string]cacheEntry
}

type cacheEntry struct {
	certs   []*x509.Certificate
	expires time.Time
}

func (c *certCache) get(key string, now time.Time) ([]*x509.Certificate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e.certs, true
}

func (c *certCache) put(key string, certs []*x509.Certificate, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cacheEntry)
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		for len(c.m) >= c.max {
			var soonest string
			for k, e := range c.m {
				if soonest == "" || e.expires.Before(c.m[soonest].expires) {
					soonest = k
				}
			}
			delete(c.m, soonest)
		}
	}
	c.m[key] = cacheEntry{certs: certs, expires: expires}
}

func (c *certCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
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

func (v *PartnerCenterVerifier) allowed(u *url.URL) bool { return allowedIn(v.origins, u) }

// allowedIn reports whether u is an absolute http(s) URL on one of origins.
func allowedIn(origins []origin, u *url.URL) bool {
	got, ok := urlOrigin(u)
	if !ok {
		return false
	}
	return slices.Contains(origins, got)
}

func parseOrigins(ss []string) ([]origin, error) {
	out := make([]origin, 0, len(ss))
	for _, s := range ss {
		o, err := parseOrigin(s)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// parseOrigin reads an allowed origin; a path, query or userinfo makes it
// ambiguous and is refused.
func parseOrigin(s string) (origin, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil {
		return origin{}, fmt.Errorf("partner center origin %q: %w", s, err)
	}
	o, ok := urlOrigin(u)
	if !ok || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return origin{}, fmt.Errorf("partner center origin %q is not scheme://host[:port]", s)
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
