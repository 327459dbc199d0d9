package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// counts is what a proxy saw: requests by operation, answers by status,
// entity group transactions by their shape, and the entities that table
// reads returned. The handler runs in another process, so counting at its
// HTTP transport means counting here, on the wire.
type counts struct {
	Requests int                   `json:"requests"`
	ByOp     map[string]int        `json:"byOperation"`
	Status   map[int]int           `json:"byStatus"`
	Batches  map[string]batchCount `json:"batches,omitempty"`
	// Entities counts the entities table reads answered with: one per
	// point read found, the length of every query page.
	Entities int `json:"entities"`
}

// batchCount sums the entity group transactions of one shape.
type batchCount struct {
	N     int `json:"n"`
	Ops   int `json:"ops"`   // operations in all of them
	Bytes int `json:"bytes"` // request bodies of all of them
}

func newCounts() counts {
	return counts{ByOp: map[string]int{}, Status: map[int]int{}, Batches: map[string]batchCount{}}
}

func (c counts) clone() counts {
	out := c
	out.ByOp, out.Status, out.Batches = maps.Clone(c.ByOp), maps.Clone(c.Status), maps.Clone(c.Batches)
	return out
}

// minus is what happened between snapshot b and snapshot c.
func (c counts) minus(b counts) counts {
	out := newCounts()
	out.Requests, out.Entities = c.Requests-b.Requests, c.Entities-b.Entities
	for k, v := range c.ByOp {
		if d := v - b.ByOp[k]; d != 0 {
			out.ByOp[k] = d
		}
	}
	for k, v := range c.Status {
		if d := v - b.Status[k]; d != 0 {
			out.Status[k] = d
		}
	}
	for k, v := range c.Batches {
		o := b.Batches[k]
		if d := (batchCount{v.N - o.N, v.Ops - o.Ops, v.Bytes - o.Bytes}); d.N != 0 {
			out.Batches[k] = d
		}
	}
	return out
}

// plus adds the counts of another interval.
func (c counts) plus(o counts) counts {
	out := c.clone()
	out.Requests += o.Requests
	out.Entities += o.Entities
	for k, v := range o.ByOp {
		out.ByOp[k] += v
	}
	for k, v := range o.Status {
		out.Status[k] += v
	}
	for k, v := range o.Batches {
		b := out.Batches[k]
		out.Batches[k] = batchCount{b.N + v.N, b.Ops + v.Ops, b.Bytes + v.Bytes}
	}
	return out
}

// refused counts answers that would mean the proxy breaks SharedKey
// signing: the service refused the signature (401, 403).
func (c counts) refused() int {
	return c.Status[http.StatusUnauthorized] + c.Status[http.StatusForbidden]
}

// undelivered counts requests the proxy could not pass on (502). The
// client retries them, as it would a connection error without the proxy,
// so each adds one request to the counts.
func (c counts) undelivered() int { return c.Status[http.StatusBadGateway] }

// perEvent divides the counts of every operation by n.
func (c counts) perEvent(n int) map[string]float64 {
	out := map[string]float64{}
	for k, v := range c.ByOp {
		out[k] = float64(v) / float64(n)
	}
	return out
}

// request is one request's classification, carried to the response.
type request struct {
	op    string
	batch string // shape of an entity group transaction, "" otherwise
	ops   int    // operations in that transaction
	point bool   // a table point read
	query bool   // a table query
}

type requestKey struct{}

// classifier names the operation of a request. body is read only for
// requests whose needsBody says so (entity group transactions).
type classifier struct {
	op        func(r *http.Request, body []byte) request
	needsBody func(r *http.Request) bool
}

// countingProxy forwards requests unchanged to one upstream and counts
// them. It changes neither the path nor the query, so Azure Storage's
// SharedKey signature, which covers the path and not the host, stays
// valid; answers of 401 or 403 would show it did not.
type countingProxy struct {
	URL string // http://127.0.0.1:port, where clients point

	cls classifier
	rp  *httputil.ReverseProxy
	srv *http.Server

	mu sync.Mutex
	c  counts
	// recording, when set, keeps every request whole in samples (the fair
	// floor replays the handler's Graph requests of one event).
	recording bool
	samples   []sample
}

// sample is one request as the proxy saw it.
type sample struct {
	op, method, uri string // uri: escaped path and query
	header          http.Header
	body            []byte
}

// record starts keeping requests whole, forgetting earlier ones.
func (p *countingProxy) record() {
	p.mu.Lock()
	p.recording, p.samples = true, nil
	p.mu.Unlock()
}

// stopRecording stops keeping requests and returns those kept.
func (p *countingProxy) stopRecording() []sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recording = false
	return p.samples
}

// startProxy listens on a free loopback port and forwards to upstream
// (scheme://host:port; its path is ignored: requests keep theirs).
func startProxy(upstream string, cls classifier) (*countingProxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("proxy upstream %q is not an absolute URL", upstream)
	}
	target := &url.URL{Scheme: u.Scheme, Host: u.Host}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{URL: "http://" + ln.Addr().String(), cls: cls, c: newCounts()}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		// Enough idle connections for the benchmark's concurrency, so the
		// proxy does not add connection set-ups the handler would not pay.
		// They are dropped after 2 s idle, before Azurite (Node) drops them
		// at 5 s: a request written to a connection the server is closing
		// fails, and a POST is not replayed.
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     2 * time.Second,
		},
		ModifyResponse: p.counted,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.count(func(c *counts) { c.Status[http.StatusBadGateway]++ })
			http.Error(w, "bench proxy: "+err.Error(), http.StatusBadGateway)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *countingProxy) close() { shutdown(p.srv) }

func (p *countingProxy) count(f func(*counts)) {
	p.mu.Lock()
	f(&p.c)
	p.mu.Unlock()
}

// snapshot returns the counts so far; subtract two with minus.
func (p *countingProxy) snapshot() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.c.clone()
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	p.mu.Lock()
	recording := p.recording
	p.mu.Unlock()
	if (recording || p.cls.needsBody != nil && p.cls.needsBody(r)) && r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			http.Error(w, "bench proxy: read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	req := p.cls.op(r, body)
	if recording {
		p.mu.Lock()
		p.samples = append(p.samples, sample{op: req.op, method: r.Method, uri: r.URL.RequestURI(), header: r.Header.Clone(), body: body})
		p.mu.Unlock()
	}
	p.count(func(c *counts) {
		c.Requests++
		c.ByOp[req.op]++
		if req.batch != "" {
			b := c.Batches[req.batch]
			b.N++
			b.Ops += req.ops
			b.Bytes += len(body)
			c.Batches[req.batch] = b
		}
	})
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
}

// counted records an answer's status and, for table reads, how many
// entities it carries.
func (p *countingProxy) counted(resp *http.Response) error {
	req, _ := resp.Request.Context().Value(requestKey{}).(request)
	entities := 0
	if resp.StatusCode == http.StatusOK {
		switch {
		case req.point:
			entities = 1
		case req.query:
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			var page struct {
				Value []json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(b, &page); err != nil {
				return errors.New("bench proxy: a table query answered something that is not a JSON page")
			}
			entities = len(page.Value)
		}
	}
	p.count(func(c *counts) {
		c.Status[resp.StatusCode]++
		c.Entities += entities
	})
	return nil
}

// batchLine is a request line inside an entity group transaction's body.
var batchLine = regexp.MustCompile(`^(GET|POST|PUT|MERGE|PATCH|DELETE) (\S+) HTTP/1\.1$`)

// batchShape reads an entity group transaction's body and names its shape:
// the table and how many operations of each kind, e.g.
// "Grants: 7 insert"; ops is their number. The shape tells a state change
// (inserts) from marking notifications sent (merges).
func batchShape(body []byte) (shape string, ops int) {
	kinds := map[string]int{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		m := batchLine.FindStringSubmatch(strings.TrimRight(sc.Text(), "\r"))
		if m == nil {
			continue
		}
		kinds[batchKind(m[1])]++
		ops++
		if u, err := url.Parse(m[2]); err == nil {
			table, _ = tableOf(u.EscapedPath())
		}
	}
	names := slices.Sorted(maps.Keys(kinds))
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%d %s", kinds[k], k)
	}
	return table + ": " + strings.Join(parts, ", "), ops
}

func batchKind(method string) string {
	switch method {
	case http.MethodPost:
		return "insert"
	case http.MethodPut:
		return "replace"
	case "MERGE", http.MethodPatch:
		return "merge"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(method)
}

// tableOf splits a table service path, /<account>/<table>(<keys>) or
// /<account>/<table>(), into the table name and whether keys name one
// entity.
func tableOf(path string) (table string, point bool) {
	rest := strings.TrimPrefix(path, "/")
	if _, after, ok := strings.Cut(rest, "/"); ok {
		rest = after
	}
	name, keys, _ := strings.Cut(rest, "(")
	return name, strings.Contains(keys, "PartitionKey=")
}

// tableClassifier names Table Storage requests "<table> <operation>":
// "Grants point read", "DueIndex upsert", "Grants batch", …
var tableClassifier = classifier{
	needsBody: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/$batch") },
	op: func(r *http.Request, body []byte) request {
		if strings.HasSuffix(r.URL.Path, "/$batch") {
			shape, ops := batchShape(body)
			table, _, _ := strings.Cut(shape, ":")
			return request{op: table + " batch", batch: shape, ops: ops}
		}
		table, point := tableOf(r.URL.EscapedPath())
		switch {
		case table == "Tables":
			return request{op: "create table"}
		case r.Method == http.MethodGet && point:
			return request{op: table + " point read", point: true}
		case r.Method == http.MethodGet:
			return request{op: table + " query", query: true}
		case r.Method == http.MethodPut || r.Method == "MERGE" || r.Method == http.MethodPatch:
			return request{op: table + " upsert"}
		case r.Method == http.MethodPost:
			return request{op: table + " insert"}
		case r.Method == http.MethodDelete:
			return request{op: table + " delete"}
		}
		return request{op: table + " " + r.Method}
	},
}

// queueClassifier names storage queue requests "<operation> <queue>".
var queueClassifier = classifier{
	op: func(r *http.Request, _ []byte) request {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // account, queue, messages, id
		queue := ""
		if len(parts) > 1 {
			queue = parts[1]
		}
		switch {
		case len(parts) == 2 && r.Method == http.MethodPut:
			return request{op: "create queue"}
		case len(parts) == 3 && r.Method == http.MethodPost:
			return request{op: "enqueue " + queue}
		case len(parts) == 3 && r.Method == http.MethodGet:
			return request{op: "dequeue " + queue}
		case len(parts) == 4 && r.Method == http.MethodDelete:
			return request{op: "delete message " + queue}
		}
		return request{op: r.Method + " " + r.URL.Path}
	},
}

// graphClassifier names Graph requests by method and path, ids replaced:
// "GET /users/{id}", "POST /users/{id}/sendMail", …
var graphClassifier = classifier{
	op: func(r *http.Request, _ []byte) request {
		path := strings.TrimPrefix(r.URL.Path, "/v1.0")
		segs := strings.Split(strings.Trim(path, "/"), "/")
		for i, s := range segs {
			if strings.ContainsAny(s, "0123456789@") {
				segs[i] = "{id}"
			}
		}
		return request{op: r.Method + " /" + strings.Join(segs, "/")}
	},
}
