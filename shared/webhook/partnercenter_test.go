package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

var pcBody = []byte(`{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0","ResourceName":"GranularAdminRelationship","AuditUri":null,"ResourceChangeUtcDate":"2026-11-27T08:00:00.5485487+00:00"}`)

// pathHits counts a test server's requests per path.
type pathHits struct {
	mu   sync.Mutex
	hits map[string]int
}

func (h *pathHits) hit(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hits == nil {
		h.hits = map[string]int{}
	}
	h.hits[path]++
}

func (h *pathHits) hitsOf(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[path]
}

func (h *pathHits) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, k := range h.hits {
		n += k
	}
	return n
}

// certServer serves the test certificates the way Partner Center's storage
// account does, and counts requests per path.
type certServer struct {
	*httptest.Server
	pathHits
}

func newCertServer(t *testing.T, redirectTo func() string) *certServer {
	t.Helper()
	p := thePKI(t)
	s := &certServer{}
	files := map[string][]byte{
		"/cert/leaf.cer":      p.leaf,
		"/cert/leaf.pem":      pemOf(p.leaf),
		"/cert/leaf.b64":      []byte(base64.StdEncoding.EncodeToString(p.leaf) + "\r\n"),
		"/cert/chain.pem":     pemOf(p.leafViaInter, p.inter.Raw),
		"/cert/via-inter.cer": p.leafViaInter,
		"/cert/expired.cer":   p.expired,
		"/cert/notyet.cer":    p.notYetValid,
		"/cert/untrusted.cer": p.untrusted,
		"/cert/noorg.cer":     p.noOrg,
		"/cert/ecdsa.cer":     p.ecdsaLeaf,
		"/cert/garbage.cer":   []byte("this is not a certificate"),
		"/cert/big.cer":       append(pemOf(p.leaf), bytes.Repeat([]byte("A"), MaxCertSize)...),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hit(r.URL.Path)
		switch r.URL.Path {
		case "/cert/503.cer":
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		case "/cert/429.cer":
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		case "/cert/redirect-out.cer":
			http.Redirect(w, r, redirectTo()+"/cert/leaf.cer", http.StatusFound)
			return
		case "/cert/redirect-in.cer":
			http.Redirect(w, r, "/cert/leaf.cer", http.StatusFound)
			return
		}
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

// mustVerifier is NewPartnerCenterVerifier for options that are valid.
func mustVerifier(t *testing.T, o PartnerCenterOptions) *PartnerCenterVerifier {
	t.Helper()
	v, err := NewPartnerCenterVerifier(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func pcHeader(certURL, sig string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Signature "+sig)
	h.Set("X-MS-Certificate-Url", certURL)
	h.Set("X-MS-Signature-Algorithm", "rsa-sha256")
	return h
}

func TestPartnerCenterVerify(t *testing.T) {
	p := thePKI(t)
	evil := newCertServer(t, nil)
	srv := newCertServer(t, func() string { return evil.URL })
	v := mustVerifier(t, PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: p.roots})
	good := sign(t, p.leafKey, pcBody)
	other := sign(t, p.otherKey, pcBody)
	url := func(path string) string { return srv.URL + path }

	tests := []struct {
		name   string
		header http.Header
		body   []byte
		want   access.Kind // KindInternal: no error expected
	}{
		{"good DER certificate", pcHeader(url("/cert/leaf.cer"), good), pcBody, access.KindInternal},
		{"good PEM certificate", pcHeader(url("/cert/leaf.pem"), good), pcBody, access.KindInternal},
		{"good base64 DER certificate", pcHeader(url("/cert/leaf.b64"), good), pcBody, access.KindInternal},
		{"good PEM chain with intermediate", pcHeader(url("/cert/chain.pem"), good), pcBody, access.KindInternal},
		{"redirect within the allowed origin", pcHeader(url("/cert/redirect-in.cer"), good), pcBody, access.KindInternal},
		{"x-ms-signature header", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), "")
			h.Del("Authorization")
			h.Set("x-ms-signature", good)
			return h
		}(), pcBody, access.KindInternal},
		{"x-ms-signature beside another Authorization scheme", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), "")
			h.Set("Authorization", "Bearer something")
			h.Set("x-ms-signature", good)
			return h
		}(), pcBody, access.KindInternal},
		{"algorithm in upper case", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), good)
			h.Set("X-MS-Signature-Algorithm", "RSA-SHA256")
			return h
		}(), pcBody, access.KindInternal},

		{"altered body", pcHeader(url("/cert/leaf.cer"), good), append(bytes.Clone(pcBody), '\n'), access.KindUnauthorized},
		{"empty body", pcHeader(url("/cert/leaf.cer"), good), nil, access.KindUnauthorized},
		{"re-signed with another key", pcHeader(url("/cert/leaf.cer"), other), pcBody, access.KindUnauthorized},
		{"leaf from an untrusted CA", pcHeader(url("/cert/untrusted.cer"), good), pcBody, access.KindUnauthorized},
		{"intermediate missing", pcHeader(url("/cert/via-inter.cer"), good), pcBody, access.KindUnauthorized},
		{"expired leaf", pcHeader(url("/cert/expired.cer"), good), pcBody, access.KindUnauthorized},
		{"leaf not yet valid", pcHeader(url("/cert/notyet.cer"), good), pcBody, access.KindUnauthorized},
		{"leaf without an RSA key", pcHeader(url("/cert/ecdsa.cer"), good), pcBody, access.KindUnauthorized},
		{"not a certificate", pcHeader(url("/cert/garbage.cer"), good), pcBody, access.KindUnauthorized},
		{"certificate over 64 KiB", pcHeader(url("/cert/big.cer"), good), pcBody, access.KindUnauthorized},
		{"certificate not found", pcHeader(url("/cert/missing.cer"), good), pcBody, access.KindUnauthorized},
		{"certificate store busy", pcHeader(url("/cert/503.cer"), good), pcBody, access.KindTransient},
		{"certificate store throttling", pcHeader(url("/cert/429.cer"), good), pcBody, access.KindTransient},
		{"redirect to another origin", pcHeader(url("/cert/redirect-out.cer"), good), pcBody, access.KindUnauthorized},
		{"disallowed host", pcHeader(evil.URL+"/cert/leaf.cer", good), pcBody, access.KindUnauthorized},
		{"https instead of http", pcHeader(strings.Replace(url("/cert/leaf.cer"), "http:", "https:", 1), good), pcBody, access.KindUnauthorized},
		{"port suffix trick", pcHeader(srv.URL+".evil.example/cert/leaf.cer", good), pcBody, access.KindUnauthorized},
		{"userinfo trick", pcHeader(strings.Replace(evil.URL, "http://", "http://"+strings.TrimPrefix(srv.URL, "http://")+"@", 1)+"/cert/leaf.cer", good), pcBody, access.KindUnauthorized},
		{"relative certificate url", pcHeader("/cert/leaf.cer", good), pcBody, access.KindUnauthorized},
		{"missing certificate url", func() http.Header {
			h := pcHeader("", good)
			h.Del("X-MS-Certificate-Url")
			return h
		}(), pcBody, access.KindUnauthorized},
		{"missing signature", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), good)
			h.Del("Authorization")
			return h
		}(), pcBody, access.KindUnauthorized},
		{"Authorization with another scheme only", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), good)
			h.Set("Authorization", "Bearer "+good)
			return h
		}(), pcBody, access.KindUnauthorized},
		{"signature not base64", pcHeader(url("/cert/leaf.cer"), "!!!not base64!!!"), pcBody, access.KindUnauthorized},
		{"signature too long", pcHeader(url("/cert/leaf.cer"), strings.Repeat("QUFB", 1000)), pcBody, access.KindUnauthorized},
		{"missing algorithm", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), good)
			h.Del("X-MS-Signature-Algorithm")
			return h
		}(), pcBody, access.KindUnauthorized},
		{"wrong algorithm", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), good)
			h.Set("X-MS-Signature-Algorithm", "rsa-sha1")
			return h
		}(), pcBody, access.KindUnauthorized},
		{"two certificate urls", func() http.Header {
			h := pcHeader(url("/cert/leaf.cer"), good)
			h.Add("X-MS-Certificate-Url", evil.URL+"/cert/leaf.cer")
			return h
		}(), pcBody, access.KindUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(context.Background(), tt.header, tt.body)
			if tt.want == access.KindInternal {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify = nil, want a %v error", tt.want)
			}
			if got := access.KindOf(err); got != tt.want {
				t.Errorf("Verify = %v (kind %v), want kind %v", err, got, tt.want)
			}
		})
	}
	if n := evil.total(); n != 0 {
		t.Errorf("the disallowed server got %d requests, want 0", n)
	}
}

// failTransport fails the test on any request: an allow-list refusal must
// come before the network.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request to %s", r.URL.Redacted())
	return nil, http.ErrHandlerTimeout
}

func TestPartnerCenterDefaultOrigin(t *testing.T) {
	v := mustVerifier(t, PartnerCenterOptions{HTTPClient: &http.Client{Transport: failTransport{t}}})
	for _, u := range []string{
		"https://3psostorageacct.blob.core.windows.net.evil.example/cert/pcnotifications-dispatch.microsoft.com.cer",
		"https://3psostorageacct.blob.core.windows.net@evil.example/cert/pcnotifications-dispatch.microsoft.com.cer",
		"https://user:pw@3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer",
		"https://evil.example/https://3psostorageacct.blob.core.windows.net/cert/x.cer",
		"https://evil.example/?u=https://3psostorageacct.blob.core.windows.net",
		"http://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer",
		"https://3psostorageacct.blob.core.windows.net:8443/cert/pcnotifications-dispatch.microsoft.com.cer",
		"https://x3psostorageacct.blob.core.windows.net/cert/x.cer",
		"https://3psostorageacct.blob.core.windows.net%2eevil.example/cert/x.cer",
		"https://3psostorageacct.blob.core.windows.net\\@evil.example/cert/x.cer",
		"file:///etc/passwd",
		"//3psostorageacct.blob.core.windows.net/cert/x.cer",
		"https:3psostorageacct.blob.core.windows.net/cert/x.cer",
		"",
	} {
		h := pcHeader(u, sign(t, thePKI(t).leafKey, pcBody))
		err := v.Verify(context.Background(), h, pcBody)
		if access.KindOf(err) != access.KindUnauthorized {
			t.Errorf("Verify with certificate url %q = %v, want unauthorized", u, err)
		}
	}
	// The real origin passes the allow-list; the failing transport then
	// makes it a transient failure, proving the request was attempted.
	for _, u := range []string{
		"https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer",
		"HTTPS://3PSOSTORAGEACCT.blob.core.windows.net:443/cert/pcnotifications-dispatch.microsoft.com.cer",
	} {
		v.client.Transport = roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, context.DeadlineExceeded })
		err := v.Verify(context.Background(), pcHeader(u, sign(t, thePKI(t).leafKey, pcBody)), pcBody)
		if access.KindOf(err) != access.KindTransient {
			t.Errorf("Verify with certificate url %q = %v, want transient (fetch attempted)", u, err)
		}
	}
	if v.org != MicrosoftOrganization {
		t.Errorf("organization with system roots = %q, want %q", v.org, MicrosoftOrganization)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestParseOrigin(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"https://3psostorageacct.blob.core.windows.net", true},
		{"https://3psostorageacct.blob.core.windows.net/", true},
		{"http://127.0.0.1:8123", true},
		{"http://[::1]:8123", true},
		{"https://host/cert", false},
		{"https://host?x=1", false},
		{"https://user@host", false},
		{"ftp://host", false},
		{"host:443", false},
		{"https://", false},
		{"", false},
	} {
		_, err := parseOrigin(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseOrigin(%q) error = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
	a, _ := parseOrigin("https://Host.Example")
	b, _ := parseOrigin("https://host.example:443")
	if a != b {
		t.Errorf("parseOrigin: %v != %v, want the default port and case folded", a, b)
	}
	if _, err := NewPartnerCenterVerifier(PartnerCenterOptions{CertOrigins: []string{"https://host/path"}}); err == nil {
		t.Error("NewPartnerCenterVerifier with an origin holding a path = nil error, want one")
	}
}

func TestPartnerCenterOrganization(t *testing.T) {
	p := thePKI(t)
	srv := newCertServer(t, nil)
	good := sign(t, p.leafKey, pcBody)

	// A roots file does not drop the subject check (DESIGN.md section 11):
	// what tests pass is what production accepts.
	v := mustVerifier(t, PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: p.roots})
	if v.org != MicrosoftOrganization {
		t.Errorf("organization with test roots = %q, want %q", v.org, MicrosoftOrganization)
	}
	if err := v.Verify(context.Background(), pcHeader(srv.URL+"/cert/noorg.cer", good), pcBody); access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("Verify of another organization's leaf with test roots = %v, want unauthorized", err)
	}

	v, err := NewPartnerCenterVerifier(PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: p.roots, Organization: MicrosoftOrganization})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), pcHeader(srv.URL+"/cert/noorg.cer", good), pcBody); access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("Verify of another organization's leaf = %v, want unauthorized", err)
	}
	if err := v.Verify(context.Background(), pcHeader(srv.URL+"/cert/leaf.cer", good), pcBody); err != nil {
		t.Errorf("Verify of Microsoft Corporation's leaf = %v, want nil", err)
	}

	// With the system roots, the test CA is not trusted at all.
	v, err = NewPartnerCenterVerifier(PartnerCenterOptions{CertOrigins: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), pcHeader(srv.URL+"/cert/leaf.cer", good), pcBody); access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("Verify of a test leaf against the system roots = %v, want unauthorized", err)
	}
}

func TestPartnerCenterIntermediatesOption(t *testing.T) {
	p := thePKI(t)
	srv := newCertServer(t, nil)
	inter := x509CertPool(p.inter)
	v := mustVerifier(t, PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: p.roots, Intermediates: inter})
	if err := v.Verify(context.Background(), pcHeader(srv.URL+"/cert/via-inter.cer", sign(t, p.leafKey, pcBody)), pcBody); err != nil {
		t.Errorf("Verify of a leaf whose intermediate is configured = %v, want nil", err)
	}
}

func TestPartnerCenterCache(t *testing.T) {
	p := thePKI(t)
	srv := newCertServer(t, nil)
	clock := testenv.NewClock(time.Now())
	v := mustVerifier(t, PartnerCenterOptions{
		CertOrigins: []string{srv.URL}, Roots: p.roots, CacheTTL: 10 * time.Minute, Clock: clock.Now,
	})
	h := pcHeader(srv.URL+"/cert/leaf.cer", sign(t, p.leafKey, pcBody))
	for i := 0; i < 3; i++ {
		if err := v.Verify(context.Background(), h, pcBody); err != nil {
			t.Fatalf("Verify #%d = %v, want nil", i, err)
		}
	}
	if n := srv.hitsOf("/cert/leaf.cer"); n != 1 {
		t.Errorf("certificate fetched %d times within the cache TTL, want 1", n)
	}
	clock.Advance(11 * time.Minute)
	if err := v.Verify(context.Background(), h, pcBody); err != nil {
		t.Fatalf("Verify after the TTL = %v, want nil", err)
	}
	if n := srv.hitsOf("/cert/leaf.cer"); n != 2 {
		t.Errorf("certificate fetched %d times after the TTL, want 2", n)
	}
	// A failed fetch is not cached: the next delivery tries again.
	h503 := pcHeader(srv.URL+"/cert/503.cer", sign(t, p.leafKey, pcBody))
	for i := 0; i < 2; i++ {
		if err := v.Verify(context.Background(), h503, pcBody); access.KindOf(err) != access.KindTransient {
			t.Fatalf("Verify #%d of a busy store = %v, want transient", i, err)
		}
	}
	if n := srv.hitsOf("/cert/503.cer"); n != 2 {
		t.Errorf("busy store asked %d times, want 2", n)
	}
	// The cache never outlives the certificate: past NotAfter it is refused
	// even though the TTL has not run out.
	v2 := mustVerifier(t, PartnerCenterOptions{
		CertOrigins: []string{srv.URL}, Roots: p.roots, CacheTTL: 1000 * time.Hour, Clock: clock.Now,
	})
	if err := v2.Verify(context.Background(), h, pcBody); err != nil {
		t.Fatalf("Verify = %v, want nil", err)
	}
	clock.Advance(24 * time.Hour)
	if err := v2.Verify(context.Background(), h, pcBody); access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("Verify a day later, past the leaf's NotAfter = %v, want unauthorized", err)
	}
}

func TestPartnerCenterCacheBounded(t *testing.T) {
	p := thePKI(t)
	srv := newCertServer(t, nil)
	v := mustVerifier(t, PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: p.roots})
	sig := sign(t, p.leafKey, pcBody)
	for i := 0; i < 3*maxCachedCerts; i++ {
		u := srv.URL + "/cert/leaf.cer?n=" + strings.Repeat("x", i)
		if err := v.Verify(context.Background(), pcHeader(u, sig), pcBody); err != nil {
			t.Fatalf("Verify = %v, want nil", err)
		}
	}
	if n := v.certs.len(); n > maxCachedCerts {
		t.Errorf("cache holds %d certificates, want at most %d", n, maxCachedCerts)
	}
}

func TestPartnerCenterUnreachable(t *testing.T) {
	p := thePKI(t)
	srv := newCertServer(t, nil)
	origin := srv.URL
	srv.Close()
	v := mustVerifier(t, PartnerCenterOptions{CertOrigins: []string{origin}, Roots: p.roots})
	err := v.Verify(context.Background(), pcHeader(origin+"/cert/leaf.cer?token=abc", sign(t, p.leafKey, pcBody)), pcBody)
	if access.KindOf(err) != access.KindTransient {
		t.Fatalf("Verify with the certificate store down = %v, want transient", err)
	}
	if strings.Contains(err.Error(), "token=abc") {
		t.Errorf("error %q repeats the certificate url's query", err)
	}
}

func TestPartnerCenterConcurrent(t *testing.T) {
	p := thePKI(t)
	srv := newCertServer(t, nil)
	v := mustVerifier(t, PartnerCenterOptions{CertOrigins: []string{srv.URL}, Roots: p.roots})
	good := pcHeader(srv.URL+"/cert/leaf.cer", sign(t, p.leafKey, pcBody))
	bad := pcHeader(srv.URL+"/cert/leaf.cer", sign(t, p.otherKey, pcBody))
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := 0; i < 16; i++ {
		wg.Go(func() {
			h := good
			if i%2 == 1 {
				h = bad
			}
			err := v.Verify(context.Background(), h, pcBody)
			if (err == nil) != (i%2 == 0) {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d concurrent verifications gave the wrong answer", n)
	}
}

func TestLoadRoots(t *testing.T) {
	p := thePKI(t)
	dir := t.TempDir()
	path := dir + "/roots.pem"
	if err := writeFile(path, pemOf(p.root.Raw)); err != nil {
		t.Fatal(err)
	}
	pool, err := LoadRoots(path)
	if err != nil {
		t.Fatalf("LoadRoots = %v", err)
	}
	if !pool.Equal(p.roots) {
		t.Error("LoadRoots pool differs from the root written")
	}
	empty := dir + "/empty.pem"
	if err := writeFile(empty, []byte("no certificates here")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRoots(empty); err == nil {
		t.Error("LoadRoots of a file without certificates = nil error, want one")
	}
	if _, err := LoadRoots(dir + "/absent.pem"); err == nil {
		t.Error("LoadRoots of a missing file = nil error, want one")
	}
}

// fileServer serves fixed bodies by path, and counts requests per path:
// a certificate store or a CA's caIssuers store.
type fileServer struct {
	*httptest.Server
	pathHits
	mu        sync.Mutex
	files     map[string][]byte
	redirects map[string]string
}

func newFileServer(t *testing.T) *fileServer {
	t.Helper()
	s := &fileServer{files: map[string][]byte{}, redirects: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hit(r.URL.Path)
		s.mu.Lock()
		b, ok := s.files[r.URL.Path]
		to, moved := s.redirects[r.URL.Path]
		s.mu.Unlock()
		switch {
		case moved:
			http.Redirect(w, r, to, http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/503.crt"):
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case !ok:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/pkix-cert")
			w.Write(b)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) put(path string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = b
}

func (s *fileServer) redirect(path, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirects[path] = to
}

// aiaWorld is Partner Center's shape: the certificate store serves leaves
// alone, and their issuing CAs are reachable only through the caIssuers
// URLs in them, on a CA's own store (another origin).
type aiaWorld struct {
	certs, issuers, elsewhere *fileServer
}

func newAIAWorld(t *testing.T) *aiaWorld {
	t.Helper()
	p := thePKI(t)
	w := &aiaWorld{certs: newFileServer(t), issuers: newFileServer(t), elsewhere: newFileServer(t)}
	at := func(path string) string { return w.issuers.URL + path }

	inter, interKey := issueCA(t, "Test AIA Issuing CA", p.root, p.rootKey)
	w.issuers.put("/pki/inter.crt", inter.Raw)
	w.issuers.put("/pki/inter.pem", pemOf(inter.Raw))
	w.elsewhere.put("/pki/inter.crt", inter.Raw)
	w.certs.put("/cert/aia.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/inter.crt")))
	w.certs.put("/cert/aia-pem.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/inter.pem")))
	w.certs.put("/cert/aia-second-url.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/missing.crt"), at("/pki/inter.crt")))
	w.certs.put("/cert/aia-404.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/missing.crt")))
	w.certs.put("/cert/aia-503.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/503.crt")))
	w.certs.put("/cert/aia-elsewhere.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, w.elsewhere.URL+"/pki/inter.crt"))
	w.certs.put("/cert/aia-userinfo.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey,
		strings.Replace(w.elsewhere.URL, "http://", "http://"+strings.TrimPrefix(w.issuers.URL, "http://")+"@", 1)+"/pki/inter.crt"))
	w.issuers.redirect("/pki/redirect-out.crt", w.elsewhere.URL+"/pki/inter.crt")
	w.certs.put("/cert/aia-redirect-out.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/redirect-out.crt")))
	w.issuers.redirect("/pki/redirect-in.crt", "/pki/inter.crt")
	w.certs.put("/cert/aia-redirect-in.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/redirect-in.crt")))
	w.issuers.put("/pki/garbage.crt", []byte("not a certificate"))
	w.certs.put("/cert/aia-garbage.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/garbage.crt")))
	w.certs.put("/cert/aia-noorg.cer", p.issueLeaf(t, "Contoso Ltd", inter, interKey, at("/pki/inter.crt")))
	w.certs.put("/cert/no-aia.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey))

	// The URL serves a real CA, but not the one that signed the leaf.
	other, _ := issueCA(t, "Test Other CA", p.root, p.rootKey)
	w.issuers.put("/pki/other.crt", other.Raw)
	w.certs.put("/cert/aia-wrong-issuer.cer", p.issueLeaf(t, MicrosoftOrganization, inter, interKey, at("/pki/other.crt")))

	// An issuer that chains to a root nobody trusts, and names itself.
	stranger, strangerKey := issueCA(t, "Stranger Root", nil, nil)
	loop, loopKey := issueCA(t, "Stranger Issuing CA", stranger, strangerKey, at("/pki/loop.crt"), at("/pki/stranger.crt"))
	w.issuers.put("/pki/loop.crt", loop.Raw)
	w.issuers.put("/pki/stranger.crt", stranger.Raw)
	w.certs.put("/cert/aia-untrusted.cer", p.issueLeaf(t, MicrosoftOrganization, loop, loopKey, at("/pki/loop.crt")))

	// Chains of n intermediates under the root, each naming its issuer by
	// caIssuers: maxIssuerDepth levels complete, one more does not.
	for _, n := range []int{2, maxIssuerDepth, maxIssuerDepth + 1} {
		parent, parentKey := p.root, p.rootKey
		var parentURL []string
		for i := range n {
			c, k := issueCA(t, fmt.Sprintf("Test CA %d of %d", i+1, n), parent, parentKey, parentURL...)
			path := fmt.Sprintf("/pki/chain%d-%d.crt", n, i+1)
			w.issuers.put(path, c.Raw)
			parent, parentKey, parentURL = c, k, []string{at(path)}
		}
		w.certs.put(fmt.Sprintf("/cert/chain%d.cer", n), p.issueLeaf(t, MicrosoftOrganization, parent, parentKey, parentURL...))
	}
	return w
}

func (w *aiaWorld) verifier(t *testing.T, o PartnerCenterOptions) *PartnerCenterVerifier {
	t.Helper()
	o.CertOrigins = []string{w.certs.URL}
	if o.Roots == nil {
		o.Roots = thePKI(t).roots
	}
	v := mustVerifier(t, o)
	return v
}

// TestPartnerCenterIssuerFromAIA: Partner Center's .cer holds the leaf
// alone (DESIGN.md section 10); the verifier completes the chain from the
// leaf's caIssuers URLs on the allowed issuer origins only.
func TestPartnerCenterIssuerFromAIA(t *testing.T) {
	p := thePKI(t)
	w := newAIAWorld(t)
	v := w.verifier(t, PartnerCenterOptions{IssuerOrigins: []string{w.issuers.URL}})
	good := sign(t, p.leafKey, pcBody)

	for _, tt := range []struct {
		name string
		path string
		want access.Kind // KindInternal: no error expected
	}{
		{"intermediate only at its caIssuers url (DER)", "/cert/aia.cer", access.KindInternal},
		{"intermediate only at its caIssuers url (PEM)", "/cert/aia-pem.cer", access.KindInternal},
		{"second caIssuers url when the first 404s", "/cert/aia-second-url.cer", access.KindInternal},
		{"redirect within the issuer origin", "/cert/aia-redirect-in.cer", access.KindInternal},
		{"two intermediates, each named by the one below", "/cert/chain2.cer", access.KindInternal},
		{"intermediates up to the depth bound", fmt.Sprintf("/cert/chain%d.cer", maxIssuerDepth), access.KindInternal},

		{"caIssuers url that 404s", "/cert/aia-404.cer", access.KindUnauthorized},
		{"caIssuers url on an origin not allowed", "/cert/aia-elsewhere.cer", access.KindUnauthorized},
		{"caIssuers url with a userinfo trick", "/cert/aia-userinfo.cer", access.KindUnauthorized},
		{"caIssuers url redirecting off the issuer origins", "/cert/aia-redirect-out.cer", access.KindUnauthorized},
		{"caIssuers url serving no certificate", "/cert/aia-garbage.cer", access.KindUnauthorized},
		{"caIssuers url serving another CA", "/cert/aia-wrong-issuer.cer", access.KindUnauthorized},
		{"issuer chaining to an untrusted root and naming itself", "/cert/aia-untrusted.cer", access.KindUnauthorized},
		{"intermediates past the depth bound", fmt.Sprintf("/cert/chain%d.cer", maxIssuerDepth+1), access.KindUnauthorized},
		{"chain complete but not issued to Microsoft Corporation", "/cert/aia-noorg.cer", access.KindUnauthorized},
		{"no issuer and no caIssuers url", "/cert/no-aia.cer", access.KindUnauthorized},
		{"issuer store busy", "/cert/aia-503.cer", access.KindTransient},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(context.Background(), pcHeader(w.certs.URL+tt.path, good), pcBody)
			if tt.want == access.KindInternal {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if got := access.KindOf(err); err == nil || got != tt.want {
				t.Errorf("Verify = %v (kind %v), want kind %v", err, got, tt.want)
			}
			t.Logf("refused as it should be: %v", err)
		})
	}
	if n := w.elsewhere.total(); n != 0 {
		t.Errorf("the origin not allowed for issuers got %d requests, want 0", n)
	}
	if n := w.issuers.hitsOf("/pki/loop.crt") + w.issuers.hitsOf("/pki/stranger.crt"); n > 2 {
		t.Errorf("a self-naming issuer was fetched %d times, want each URL at most once", n)
	}
	if n := w.issuers.hitsOf(fmt.Sprintf("/pki/chain%d-1.crt", maxIssuerDepth+1)); n != 0 {
		t.Errorf("the issuer past the depth bound was fetched %d times, want 0", n)
	}

	// The signature is still checked once the chain is complete.
	err := v.Verify(context.Background(), pcHeader(w.certs.URL+"/cert/aia.cer", sign(t, p.otherKey, pcBody)), pcBody)
	if access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("Verify of another key's signature over a completed chain = %v, want unauthorized", err)
	}
}

// TestPartnerCenterIssuerOriginsDefault: unset, the issuer origins are
// Microsoft's and DigiCert's stores only, and an issuer elsewhere is
// refused before any request (401, not a retry).
func TestPartnerCenterIssuerOriginsDefault(t *testing.T) {
	p := thePKI(t)
	w := newAIAWorld(t)
	v := w.verifier(t, PartnerCenterOptions{})
	want, err := parseOrigins(DefaultIssuerOrigins())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.issuerOrigins, want) {
		t.Errorf("default issuer origins = %v, want %v", v.issuerOrigins, want)
	}
	err = v.Verify(context.Background(), pcHeader(w.certs.URL+"/cert/aia.cer", sign(t, p.leafKey, pcBody)), pcBody)
	if access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("Verify with the issuer's origin not allowed = %v, want unauthorized", err)
	}
	if n := w.issuers.total(); n != 0 {
		t.Errorf("the issuer store got %d requests with its origin not allowed, want 0", n)
	}
	for _, u := range []string{"http://www.microsoft.com/pkiops/certs/x.crt", "https://www.microsoft.com/pkiops/certs/x.crt",
		"http://cacerts.digicert.com/DigiCertGlobalRootG2.crt", "HTTPS://CACERTS.DIGICERT.COM:443/x.crt"} {
		if pu, _ := url.Parse(u); !allowedIn(v.issuerOrigins, pu) {
			t.Errorf("default issuer origins refuse %s", u)
		}
	}
	for _, u := range []string{"http://microsoft.com/x.crt", "https://www.microsoft.com.evil.example/x.crt",
		"https://www.microsoft.com@evil.example/x.crt", "ftp://cacerts.digicert.com/x.crt", "http://cacerts.digicert.com:8080/x.crt"} {
		if pu, _ := url.Parse(u); allowedIn(v.issuerOrigins, pu) {
			t.Errorf("default issuer origins allow %s", u)
		}
	}
	if _, err := NewPartnerCenterVerifier(PartnerCenterOptions{IssuerOrigins: []string{"http://host/path"}}); err == nil {
		t.Error("NewPartnerCenterVerifier with an issuer origin holding a path = nil error, want one")
	}
}

// TestPartnerCenterIssuerCache: an issuer is fetched once, whichever leaf
// names it, and a failed fetch is tried again.
func TestPartnerCenterIssuerCache(t *testing.T) {
	p := thePKI(t)
	w := newAIAWorld(t)
	clock := testenv.NewClock(time.Now())
	v := w.verifier(t, PartnerCenterOptions{IssuerOrigins: []string{w.issuers.URL}, CacheTTL: 10 * time.Minute, Clock: clock.Now})
	good := sign(t, p.leafKey, pcBody)
	verify := func(path string) {
		t.Helper()
		if err := v.Verify(context.Background(), pcHeader(w.certs.URL+path, good), pcBody); err != nil {
			t.Fatalf("Verify %s = %v, want nil", path, err)
		}
	}
	verify("/cert/aia.cer")
	verify("/cert/aia.cer")
	if n := w.issuers.hitsOf("/pki/inter.crt"); n != 1 {
		t.Errorf("issuer fetched %d times for two verifications, want 1", n)
	}
	// Another certificate URL misses the certificate cache but not the
	// issuer cache.
	verify("/cert/aia.cer?copy=2")
	verify("/cert/aia-second-url.cer")
	if n := w.certs.hitsOf("/cert/aia.cer"); n != 2 {
		t.Errorf("leaf fetched %d times under two URLs, want 2", n)
	}
	if n := w.issuers.hitsOf("/pki/inter.crt"); n != 1 {
		t.Errorf("issuer fetched %d times for three leaves naming it, want 1", n)
	}
	clock.Advance(11 * time.Minute)
	verify("/cert/aia.cer")
	if n := w.issuers.hitsOf("/pki/inter.crt"); n != 2 {
		t.Errorf("issuer fetched %d times after the TTL, want 2", n)
	}
	for i := 0; i < 2; i++ {
		if err := v.Verify(context.Background(), pcHeader(w.certs.URL+"/cert/aia-503.cer", good), pcBody); access.KindOf(err) != access.KindTransient {
			t.Fatalf("Verify #%d with the issuer store busy = %v, want transient", i, err)
		}
	}
	if n := w.issuers.hitsOf("/pki/503.crt"); n != 2 {
		t.Errorf("busy issuer store asked %d times, want 2 (failures are not cached)", n)
	}
}

func TestCertCacheBounded(t *testing.T) {
	now := time.Now()
	c := &certCache{max: maxCachedIssuers}
	for i := range 3 * maxCachedIssuers {
		c.put(fmt.Sprint(i), nil, now.Add(time.Hour+time.Duration(i)*time.Second), now)
		if n := c.len(); n > maxCachedIssuers {
			t.Fatalf("cache holds %d entries after %d puts, want at most %d", n, i+1, maxCachedIssuers)
		}
		if _, ok := c.get(fmt.Sprint(i), now); !ok {
			t.Fatalf("entry %d missing right after its put", i)
		}
	}
	// The entry closest to expiring went first: the newest are kept.
	if _, ok := c.get(fmt.Sprint(3*maxCachedIssuers-maxCachedIssuers), now); !ok {
		t.Error("a recent entry was evicted before older ones")
	}
	if _, ok := c.get("0", now); ok {
		t.Error("the oldest entry is still cached in a full cache")
	}
	if _, ok := c.get(fmt.Sprint(3*maxCachedIssuers-1), now.Add(2*time.Hour)); ok {
		t.Error("an expired entry was returned")
	}
}
