package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
)

// maxRequestBody is the largest HTTP request body devhost passes on: the
// size of envelope funchost accepts by default. The handler itself answers
// 413 above its own, smaller, limit.
const maxRequestBody = funchost.DefaultLimit

// server is devhost's HTTP side: the app's HTTP triggers under the route
// prefix, and the admin endpoints Core Tools offers.
type server struct {
	app     *app
	router  *router
	iv      *invoker
	timers  map[string]*timerRunner
	pollers map[string]*poller
	// work and inflight are the context and the group of invocations that
	// run after the request that started them has been answered.
	work     context.Context
	inflight *sync.WaitGroup
	// signin stands in for App Service Authentication (signin.go).
	signin *signIn
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/functions/{name}", s.adminInvoke)
	mux.HandleFunc("GET /admin/host/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"state":"Running","processUptime":null,"host":"devhost"}`)
	})
	if s.signin != nil {
		mux.HandleFunc("/.auth/login/aad", s.signin.login)
		mux.HandleFunc("/.auth/logout", s.signin.logout)
	}
	mux.HandleFunc("/", s.serveTrigger)
	return mux
}

// adminInvoke runs a non-HTTP function once, now, as Core Tools' admin
// endpoint does: body {} for a timer, {"input":"<message body>"} for a
// queue function (the message does not go through the queue, so nothing
// is retried). It answers 202 at once; the invocation is logged as usual.
func (s *server) adminInvoke(w http.ResponseWriter, r *http.Request) {
	fn := s.app.lookup(r.PathValue("name"))
	if fn == nil {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("no function %q", r.PathValue("name")))
		return
	}
	var req struct {
		Input *string `json:"input"`
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeProblem(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &req); err != nil {
			writeProblem(w, http.StatusBadRequest, "the body must be a JSON object such as {} or {\"input\":\"…\"}: "+err.Error())
			return
		}
	}
	var run func()
	switch fn.kind {
	case timerTrigger:
		t := s.timers[fn.name]
		run = func() { t.fire(s.work, time.Now().UTC(), false, false, "admin") }
	case queueTrigger:
		if req.Input == nil {
			writeProblem(w, http.StatusBadRequest, `a queue function needs {"input":"<message body>"}`)
			return
		}
		p, body := s.pollers[fn.name], []byte(*req.Input)
		run = func() { p.invokeOnce(s.work, body) }
	default:
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("%s is an HTTP function: call it at /%s", fn.name, strings.TrimPrefix(s.app.routePrefix+"/"+fn.route.template, "/")))
		return
	}
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		run()
	}()
	w.WriteHeader(http.StatusAccepted)
}

// serveTrigger runs the HTTP function whose route matches the request and
// answers from its Outputs.res.
func (s *server) serveTrigger(w http.ResponseWriter, r *http.Request) {
	fn, params, err := s.router.find(r.Method, r.URL.EscapedPath())
	if err != nil {
		detail := "no function route matches " + r.URL.Path
		if errors.Is(err, errWrongMethod) {
			// The host answers 404 too: the method is part of the route.
			detail = fmt.Sprintf("no function route matches %s %s (a route matches the path for other methods)", r.Method, r.URL.Path)
		}
		writeProblem(w, http.StatusNotFound, detail)
		return
	}
	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over devhost's %d-byte limit", int64(maxRequestBody)))
			return
		}
		writeProblem(w, http.StatusBadRequest, "read the request body: "+err.Error())
		return
	}

	if s.signin != nil {
		s.signin.apply(r)
	}
	id := hostcall.GUID()
	// A client that gives up does not cancel the invocation, as with the
	// host: the function's side effects must not stop halfway. Only the
	// end of the shutdown timeout does.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	defer context.AfterFunc(s.work, cancel)()
	a, err := s.iv.invoke(ctx, fn.name, id, httpEnvelope(fn, r, body, params, start))
	var res httpResult
	switch {
	case err != nil:
	case !a.ok():
		err = fmt.Errorf("the handler answered %d", a.status)
	default:
		raw, ok := a.output(fn.output)
		if !ok {
			err = fmt.Errorf("the handler's answer has no output %q", fn.output)
			break
		}
		res, err = parseHTTPOutput(raw)
	}
	outcome := "succeeded"
	if err != nil {
		outcome = "failed"
		res = problemResult(http.StatusInternalServerError, "the function "+fn.name+" failed: "+err.Error())
	}
	// Logged before the answer goes out, so that a client that has its
	// answer finds the line.
	s.iv.logInvocation(fn.name, "http", id, outcome, res.status, start, a, err,
		"route", r.Method+" "+r.URL.Path, "handlerStatus", a.status)
	res.write(w)
}

// httpEnvelope builds an httpTrigger invocation in the real host's shape
// (no request forwarding) for r, whose body has been read.
func httpEnvelope(fn *function, r *http.Request, body []byte, params map[string]string, now time.Time) []byte {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	header := r.Header.Clone()
	// net/http moves Host out of the header map; the host keeps it.
	if r.Host != "" {
		header.Set("Host", r.Host)
	}
	return hostcall.HTTP(hostcall.HTTPArgs{
		Sys:     hostcall.Sys{Function: fn.name, Now: now},
		Binding: fn.binding, Method: r.Method, URL: scheme + "://" + r.Host + r.URL.RequestURI(),
		Header: header, Body: body, Params: params,
	})
}

// httpResult is what the client gets.
type httpResult struct {
	status  int
	headers http.Header
	body    []byte
}

func (res httpResult) write(w http.ResponseWriter) {
	for k, vs := range res.headers {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue // net/http owns framing
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(res.status)
	w.Write(res.body)
}

// parseHTTPOutput reads an http output binding:
// {"statusCode":"202" or 202,"headers":{…},"body":"…"}. The body may also
// be JSON, which is sent encoded; a binding serialised as a JSON string is
// unwrapped first.
func parseHTTPOutput(raw json.RawMessage) (httpResult, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return httpResult{}, fmt.Errorf("the http output: %w", err)
		}
		raw = json.RawMessage(s)
	}
	var out struct {
		StatusCode json.RawMessage            `json:"statusCode"`
		Status     json.RawMessage            `json:"status"`
		Headers    map[string]json.RawMessage `json:"headers"`
		Body       json.RawMessage            `json:"body"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return httpResult{}, fmt.Errorf("the http output is not an object with statusCode, headers and body: %w", err)
	}
	res := httpResult{status: http.StatusOK, headers: http.Header{}}
	code := out.StatusCode
	if isNull(code) {
		code = out.Status
	}
	if !isNull(code) {
		s := strings.Trim(string(code), `"`)
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 100 || n > 599 {
			return httpResult{}, fmt.Errorf("the http output's statusCode %s is not an HTTP status", code)
		}
		res.status = n
	}
	for k, v := range out.Headers {
		vals, err := headerValues(v)
		if err != nil {
			return httpResult{}, fmt.Errorf("the http output's header %s: %w", k, err)
		}
		for _, s := range vals {
			res.headers.Add(k, s)
		}
	}
	switch b := bytes.TrimSpace(out.Body); {
	case isNull(b):
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return httpResult{}, fmt.Errorf("the http output's body: %w", err)
		}
		res.body = []byte(s)
	default:
		res.body = b
		if res.headers.Get("Content-Type") == "" {
			res.headers.Set("Content-Type", "application/json")
		}
	}
	return res, nil
}

// headerValues reads a header value: a string, a list of strings, or a
// number or boolean taken as its text.
func headerValues(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case isNull(raw):
		return nil, nil
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return []string{s}, err
	case raw[0] == '[':
		var l []string
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, errors.New("want a string or a list of strings")
		}
		return l, nil
	case raw[0] == '{':
		return nil, errors.New("want a string or a list of strings, got an object")
	}
	return []string{string(raw)}, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// problemResult is an RFC 9457 answer from devhost itself.
func problemResult(status int, detail string) httpResult {
	p := funchost.Problem(status, "", detail, nil)
	h := http.Header{}
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	return httpResult{status: p.StatusCode, headers: h, body: p.Body}
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	problemResult(status, detail).write(w)
}

// invokeOnce hands body to the queue function as a first delivery of a
// message that is in no queue: the admin endpoint's way to try a function.
func (p *poller) invokeOnce(ctx context.Context, body []byte) {
	now := time.Now().UTC()
	d := localqueue.Delivery{
		Queue: p.fn.queue, QueueMessageID: hostcall.GUID(), DequeueCount: 1, InsertedAt: now,
		Envelope: servicebus.Envelope{MessageID: hostcall.GUID(), Body: body},
	}
	id := hostcall.GUID()
	a, err := p.iv.invoke(ctx, p.fn.name, id, p.envelope(d, now))
	outcome := "completed (admin: not queued, nothing to settle)"
	if err != nil || !a.ok() {
		outcome = "failed (admin: not queued, not retried)"
	}
	p.iv.logInvocation(p.fn.name, "serviceBus", id, outcome, a.status, now, a, err,
		"queue", p.fn.queue, "messageId", d.Envelope.MessageID, "deliveryCount", 1, "by", "admin")
}
