package reliability

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault kinds the proxies inject. A reset is done before the request is
// forwarded, as a connection that breaks on the way out: the service never
// sees it, so the client's retry is the only copy. (A response lost after
// the service acted would make a sent mail indistinguishable from an
// unsent one to any sender; that is the crash scenario's case.)
const (
	FaultNone    = ""
	Fault503     = "503"
	Fault429     = "429"
	FaultReset   = "reset"
	FaultLatency = "latency"
)

var faultKinds = []string{Fault503, Fault429, FaultReset, FaultLatency}

// injector decides which requests fail and how, from one seeded PRNG
// shared by every proxy of a scenario: the rate is over all requests, and
// the sequence of draws is the seed's.
type injector struct {
	latency time.Duration
	// kinds are the faults drawn from, faultKinds unless a test narrows
	// them.
	kinds []string

	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	requests map[string]int            // by proxy
	faults   map[string]map[string]int // by proxy, then kind
}

func newInjector(seed uint64, latency time.Duration) *injector {
	return &injector{
		latency: latency, kinds: faultKinds, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		requests: map[string]int{}, faults: map[string]map[string]int{},
	}
}

// setRate changes the share of requests that fail; 0 turns faults off.
func (in *injector) setRate(rate float64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rate = rate
}

// draw decides the fate of one request to target, and for a 429 the
// Retry-After seconds (1 or 0).
func (in *injector) draw(target string) (kind string, retryAfter int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.requests[target]++
	if in.rate <= 0 || in.rng.Float64() >= in.rate {
		return FaultNone, 0
	}
	kind = in.kinds[in.rng.IntN(len(in.kinds))]
	if kind == Fault429 {
		retryAfter = in.rng.IntN(2)
	}
	if in.faults[target] == nil {
		in.faults[target] = map[string]int{}
	}
	in.faults[target][kind]++
	return kind, retryAfter
}

// total is how many requests the proxies have seen.
func (in *injector) total() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, r := range in.requests {
		n += r
	}
	return n
}

// FaultFigures counts requests and injected faults.
type FaultFigures struct {
	Requests int                       `json:"requests"`
	Injected int                       `json:"injected"`
	ByKind   map[string]int            `json:"byKind"`
	ByTarget map[string]map[string]int `json:"byTarget"`
}

func (in *injector) figures() FaultFigures {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := FaultFigures{ByKind: map[string]int{}, ByTarget: map[string]map[string]int{}}
	for t, n := range in.requests {
		f.Requests += n
		f.ByTarget[t] = map[string]int{"requests": n}
	}
	for t, kinds := range in.faults {
		for k, n := range kinds {
			f.Injected += n
			f.ByKind[k] += n
			f.ByTarget[t][k] = n
		}
	}
	return f
}

// errorStyle shapes the body of an injected error the way the service
// behind the proxy words its own, so that the client's error parsing is
// exercised as in production.
type errorStyle int

const (
	styleGraph errorStyle = iota
	styleTable
	styleQueue
	stylePlain
)

// proxy is a reverse proxy in front of one service that injects the
// injector's faults and records the credentials passing through it.
type proxy struct {
	name   string
	style  errorStyle
	in     *injector
	creds  *credentials
	rp     *httputil.ReverseProxy
	srv    *httptest.Server
	target *url.URL
}

// newProxy serves a proxy to upstream (scheme://host[:port]) on a loopback
// port. Paths are forwarded unchanged.
func newProxy(name, upstream string, style errorStyle, in *injector, creds *credentials) (*proxy, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	target.Path, target.RawPath = "", ""
	p := &proxy{name: name, style: style, in: in, creds: creds, target: target}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: &http.Transport{
			Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
		// Flush at once, so that the only latency is what is injected.
		FlushInterval: -1,
		// A request cut short by its client (a killed handler, a timeout)
		// is the client's business: answer 502 without a log line.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	p.srv = httptest.NewServer(p)
	return p, nil
}

// URL is the proxy's base URL, with upstream's path appended by the caller.
func (p *proxy) URL() string { return p.srv.URL }

func (p *proxy) close() { p.srv.Close() }

// ServeHTTP notes the request's credential, draws its fate, and breaks it
// or forwards it.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.creds.note(r.Header.Get("Authorization"))
	kind, retryAfter := p.in.draw(p.name)
	switch kind {
	case Fault503:
		p.writeError(w, http.StatusServiceUnavailable, "")
		return
	case Fault429:
		p.writeError(w, http.StatusTooManyRequests, strconv.Itoa(retryAfter))
		return
	case FaultReset:
		// A reset (RST, not FIN) with nothing answered: linger 0 makes
		// the close abortive, as a dropped connection looks to a client.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tcp, ok := conn.(*net.TCPConn); ok {
					_ = tcp.SetLinger(0)
				}
				_ = conn.Close()
				return
			}
		}
		p.writeError(w, http.StatusBadGateway, "")
		return
	case FaultLatency:
		t := time.NewTimer(p.in.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

func (p *proxy) writeError(w http.ResponseWriter, status int, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	code := "ServerBusy"
	if status == http.StatusTooManyRequests {
		code = "TooManyRequests"
	}
	msg := "injected by the reliability proxy"
	switch p.style {
	case styleGraph:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"` + msg + `"}}`))
	case styleTable:
		w.Header().Set("Content-Type", "application/json;odata=minimalmetadata")
		w.Header().Set("x-ms-error-code", code)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"odata.error":{"code":"` + code + `","message":{"lang":"en-US","value":"` + msg + `"}}}`))
	case styleQueue:
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("x-ms-error-code", code)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><Error><Code>` + code + `</Code><Message>` + msg + `</Message></Error>`))
	default:
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(msg))
	}
}

// credentials keeps the credential part of every Authorization header the
// proxies saw (Graph bearer tokens, storage SharedKey signatures), so that
// the secret scan can tell whether an output repeats one.
type credentials struct {
	mu   sync.Mutex
	seen map[string]bool
}

// maxCredentials bounds memory: signatures are per request. Past it the
// oldest are not kept apart; the count of distinct ones seen is still
// reported.
const maxCredentials = 200_000

func newCredentials() *credentials { return &credentials{seen: map[string]bool{}} }

func (c *credentials) note(authorization string) {
	v := strings.TrimSpace(authorization)
	if v == "" {
		return
	}
	if _, rest, ok := strings.Cut(v, " "); ok {
		v = strings.TrimSpace(rest)
	}
	// SharedKey <account>:<signature>: the signature is what must not leak.
	if i := strings.LastIndexByte(v, ':'); i >= 0 && !strings.HasPrefix(v, "eyJ") {
		v = v[i+1:]
	}
	if len(v) < 16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) < maxCredentials {
		c.seen[v] = true
	}
}

func (c *credentials) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// Shapes of the credentials noted: an unsigned or signed JWT, and a
// base64 HMAC-SHA256 (44 characters).
var credentialShapes = []*regexp.Regexp{
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`),
	regexp.MustCompile(`[A-Za-z0-9+/]{43}=`),
}

// find returns the credentials noted that text repeats.
func (c *credentials) find(text string) []string {
	var out []string
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, re := range credentialShapes {
		for _, m := range re.FindAllString(text, -1) {
			if c.seen[m] {
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out
}
