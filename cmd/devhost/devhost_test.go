package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevhost drives run end to end with a real handler process: the fake
// handler in testdata/fakehandler, built once here, which records what it
// receives and decodes it with the project's funchost package.
func TestDevhost(t *testing.T) {
	fake := build(t, t.TempDir(), "fakehandler", ".", "./testdata/fakehandler")
	t.Run("HTTP", func(t *testing.T) { testHTTP(t, fake) })
	t.Run("Timer", func(t *testing.T) { testTimer(t, fake) })
	t.Run("Restart", func(t *testing.T) { testRestart(t, fake) })
	t.Run("Shutdown", func(t *testing.T) { testShutdown(t, fake) })
	t.Run("StartFailure", func(t *testing.T) { testStartFailure(t, fake) })
	t.Run("NotReady", func(t *testing.T) { testNotReady(t, fake) })
	t.Run("Queue", func(t *testing.T) { testQueue(t, fake) })
}

func httpApp(t *testing.T) string {
	return writeApp(t, appSpec{functions: map[string]string{
		"items": httpFunction("function", "items/{tenant?}/{grant?}", "get", "post"),
		"echo":  httpFunction("anonymous", "webhooks/echo", "post"),
	}})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body []byte, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func testHTTP(t *testing.T, fake string) {
	d := startDevhost(t, fake, httpApp(t), nil)

	// The handler runs as the host runs it, with the settings and the
	// process environment, and its output is forwarded, prefixed.
	starts := d.records()
	if len(starts) == 0 || starts[0].Event != "start" {
		t.Fatalf("no start record: %s", d.diag())
	}
	if s := starts[0]; s.Runtime != "custom" || s.SettingValue != "from-settings" || s.ProcessValue != "from-getenv@example.test" || s.Port == "" {
		t.Errorf("handler environment: runtime %q, setting %q, process %q, port %q", s.Runtime, s.SettingValue, s.ProcessValue, s.Port)
	}
	eventually(t, 5*time.Second, "forwarded handler output", func() bool {
		return strings.Contains(d.stdout.String(), "[handler] fake handler listening on "+starts[0].Port+"\n") &&
			strings.Contains(d.stderr.String(), "[handler] fake handler stderr line\n")
	}, func() string { return "stdout:\n" + d.stdout.String() + "\nstderr:\n" + d.stderr.String() })
	if l := findLogs(d.stderr, "function keys are not enforced locally, as with Core Tools: authLevel function and admin routes answer without a key"); len(l) != 1 || fmt.Sprint(l[0]["functions"]) != "[items]" {
		t.Errorf("want one line naming items (not echo, which is anonymous) about keys not enforced; got %v", l)
	}

	// A POST with a body, headers and a repeated query parameter.
	body := []byte(`{"deliveryId": "d-1", "note": "<b> & é",  "spaces": true}`)
	res := do(t, "POST", d.url("/api/webhooks/echo?x=1&x=2&y=z"), body, map[string]string{"Content-Type": "application/json", "X-Signature": "sha256=abc"})
	if res.status != 201 || res.header.Get("X-Fake") != "yes" || res.header.Get("Content-Type") != "application/json" {
		t.Errorf("POST echo: %d %v, want 201 with the handler's headers", res.status, res.header)
	}
	var echo struct {
		Method string
		Params map[string]string
		Body   string
	}
	if err := json.Unmarshal(res.body, &echo); err != nil || echo.Body != string(body) || echo.Method != "POST" {
		t.Errorf("POST echo body = %s (%v), want the handler's echo of the exact request body", res.body, err)
	}
	inv := d.invocations("echo")
	if len(inv) != 1 {
		t.Fatalf("echo invocations = %d, want 1: %s", len(inv), d.diag())
	}
	r := inv[0]
	if r.DecodeError != "" || r.Path != "/echo" || r.MethodName != "echo" || len(r.InvocationID) != 36 || r.ContentType != "application/json" {
		t.Errorf("invocation: decodeError %q, path %q, methodName %q, id %q, content type %q", r.DecodeError, r.Path, r.MethodName, r.InvocationID, r.ContentType)
	}
	if h := r.HTTP; h == nil || h.Body != string(body) || !slices.Equal(h.Header["X-Signature"], []string{"sha256=abc"}) ||
		!slices.Equal(h.Query["x"], []string{"1,2"}) || !strings.HasSuffix(h.URL, "/api/webhooks/echo?x=1&x=2&y=z") || len(h.Params) != 0 {
		t.Errorf("request as the handler read it: %+v", r.HTTP)
	}
	sameShape(t, "recorded http envelope", r.Envelope, "http-ticket-webhook.json")
	if l := findLogs(d.stderr, "invocation", "function", "echo", "invocationId", r.InvocationID); len(l) != 1 ||
		l[0].str("route") != "POST /api/webhooks/echo" || l[0].num("status") != 201 || l[0].str("outcome") != "succeeded" || l[0]["durationMs"] == nil {
		t.Errorf("invocation log line = %v, want one with route, status 201, outcome and duration", l)
	}

	// Route parameters, optional ones left out, grant ids with ':'.
	for path, want := range map[string]map[string]string{
		"/api/items":                 {},
		"/api/items/t1":              {"tenant": "t1"},
		"/api/items/t1/b2b:0f9e8d7c": {"tenant": "t1", "grant": "b2b:0f9e8d7c"},
		"/api/items/t1/gdap%3Ar-1":   {"tenant": "t1", "grant": "gdap:r-1"},
	} {
		res := do(t, "GET", d.url(path), nil, nil)
		var echo struct{ Params map[string]string }
		if err := json.Unmarshal(res.body, &echo); err != nil || res.status != 201 || !mapsEqual(echo.Params, want) {
			t.Errorf("GET %s: %d %s, want 201 with params %v", path, res.status, res.body, want)
		}
	}

	// statusCode as a number, header lists, a JSON body.
	res = do(t, "GET", d.url("/api/items?numeric=1&status=202"), nil, nil)
	if res.status != 202 || !slices.Equal(res.header.Values("X-Fake"), []string{"a", "b"}) || !json.Valid(res.body) || res.header.Get("Content-Type") != "application/json" {
		t.Errorf("numeric statusCode: %d %v %s, want 202 with both header values and the JSON body", res.status, res.header, res.body)
	}
	// A client status of the handler's choosing passes through.
	if res = do(t, "GET", d.url("/api/items?status=409"), nil, nil); res.status != 409 {
		t.Errorf("status=409: got %d", res.status)
	}

	// A handler failure is a 500 problem.
	res = do(t, "GET", d.url("/api/items?outer=500"), nil, nil)
	if res.status != 500 || res.header.Get("Content-Type") != "application/problem+json" || !bytes.Contains(res.body, []byte(`"status":500`)) {
		t.Errorf("handler failure: %d %v %s, want a 500 problem", res.status, res.header, res.body)
	}
	// Unknown routes and methods are 404s; bodies over 4 MiB are 413s.
	for _, c := range []struct{ method, path string }{{"GET", "/api/nope"}, {"DELETE", "/api/webhooks/echo"}, {"GET", "/"}, {"GET", "/items"}} {
		if res := do(t, c.method, d.url(c.path), nil, nil); res.status != 404 || res.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %v, want a 404 problem", c.method, c.path, res.status, res.header)
		}
	}
	if res := do(t, "POST", d.url("/api/webhooks/echo"), make([]byte, 4<<20+1), nil); res.status != 413 {
		t.Errorf("4 MiB + 1 body: %d, want 413", res.status)
	}
	if n := len(d.invocations("echo")); n != 1 {
		t.Errorf("echo invocations after the refused requests = %d, want still 1", n)
	}
	if err := d.stop(); err != nil {
		t.Errorf("run: %v", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func testTimer(t *testing.T, fake string) {
	root := writeApp(t, appSpec{functions: map[string]string{
		"tick":   timerFunction("%TICK_SCHEDULE%"),
		"yearly": timerFunction("0 0 0 1 1 *"),
		"web":    httpFunction("anonymous", "web", "get"),
	}})
	d := startDevhost(t, fake, root, map[string]string{"TICK_SCHEDULE": "* * * * * *"})

	// Every second: the first run has no schedule status, the next ones do.
	eventually(t, 10*time.Second, "two tick invocations", func() bool { return len(d.invocations("tick")) >= 2 }, d.diag)
	ticks := d.invocations("tick")
	if ticks[0].Timer == nil || ticks[0].Timer.HasStatus || ticks[1].Timer == nil || !ticks[1].Timer.HasStatus {
		t.Fatalf("first, second run status: %+v, %+v, want none then one", ticks[0].Timer, ticks[1].Timer)
	}
	if ticks[0].DecodeError != "" || ticks[0].Timer.IsPastDue {
		t.Errorf("first run: decode error %q, past due %v", ticks[0].DecodeError, ticks[0].Timer.IsPastDue)
	}
	sameShape(t, "first tick", ticks[0].Envelope, "timer-expiry-sweep-first-run.json")
	sameShape(t, "second tick", ticks[1].Envelope, "timer-expiry-sweep.json")
	var env struct {
		Data struct {
			Timer struct {
				ScheduleStatus struct{ Last, Next, LastUpdated string }
			}
		}
	}
	json.Unmarshal(ticks[1].Envelope, &env)
	last, err1 := time.Parse(time.RFC3339Nano, env.Data.Timer.ScheduleStatus.Last)
	next, err2 := time.Parse(time.RFC3339Nano, env.Data.Timer.ScheduleStatus.Next)
	if err1 != nil || err2 != nil || next.Sub(last) != 2*time.Second || last.Nanosecond() != 0 {
		t.Errorf("second run ScheduleStatus = %+v, want Last the previous occurrence and Next the one after this, 2 s apart", env.Data.Timer.ScheduleStatus)
	}
	// devhost logs an invocation once it has the answer, just after the
	// handler recorded it.
	eventually(t, 5*time.Second, "two tick log lines", func() bool {
		return len(findLogs(d.stderr, "invocation", "function", "tick", "by", "schedule")) >= 2
	}, d.diag)
	if l := findLogs(d.stderr, "invocation", "function", "tick", "by", "schedule"); l[0].str("trigger") != "timer" || l[0].str("occurrence") == "" || l[0].str("outcome") != "succeeded" {
		t.Errorf("tick log lines = %v", l)
	}

	// On demand, as Core Tools offers for non-HTTP functions.
	if n := len(d.invocations("yearly")); n != 0 {
		t.Fatalf("yearly ran %d times before being asked", n)
	}
	if res := do(t, "POST", d.url("/admin/functions/yearly"), []byte(`{}`), map[string]string{"Content-Type": "application/json"}); res.status != 202 {
		t.Fatalf("POST /admin/functions/yearly: %d %s, want 202", res.status, res.body)
	}
	eventually(t, 5*time.Second, "the on-demand yearly invocation", func() bool { return len(d.invocations("yearly")) == 1 }, d.diag)
	if y := d.invocations("yearly")[0]; y.DecodeError != "" || y.Timer == nil || y.Timer.HasStatus || y.Timer.IsPastDue {
		t.Errorf("on-demand run: %+v %+v", y.DecodeError, y.Timer)
	}
	eventually(t, 5*time.Second, "the yearly log line", func() bool {
		return len(findLogs(d.stderr, "invocation", "function", "yearly", "by", "admin")) == 1
	}, d.diag)
	if l := findLogs(d.stderr, "invocation", "function", "yearly", "by", "admin"); l[0].str("outcome") != "succeeded" {
		t.Errorf("yearly log line = %v", l)
	}
	for path, want := range map[string]int{"/admin/functions/nope": 404, "/admin/functions/web": 400} {
		if res := do(t, "POST", d.url(path), []byte(`{}`), nil); res.status != want {
			t.Errorf("POST %s: %d, want %d", path, res.status, want)
		}
	}
	if res := do(t, "POST", d.url("/admin/functions/yearly"), []byte(`not json`), nil); res.status != 400 {
		t.Errorf("POST /admin/functions/yearly with a bad body: %d, want 400", res.status)
	}
}

func testRestart(t *testing.T, fake string) {
	d := startDevhost(t, fake, httpApp(t), nil)
	first := d.records()[0]
	if first.Event != "start" {
		t.Fatalf("no start record: %s", d.diag())
	}
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a second handler process", func() bool {
		for _, r := range d.records() {
			if r.Event == "start" && r.Pid != first.Pid {
				return true
			}
		}
		return false
	}, d.diag)
	if l := findLogs(d.stderr, "handler exited; restarting"); len(l) != 1 || !strings.Contains(l[0].str("exit"), "killed") {
		t.Errorf("exit log lines = %v, want one saying the handler was killed", l)
	}
	// Requests work again, on the new process.
	eventually(t, 10*time.Second, "the restarted handler answering", func() bool {
		return do(t, "GET", d.url("/api/items"), nil, nil).status == 201
	}, d.diag)
	inv := d.invocations("items")
	if len(inv) == 0 || inv[len(inv)-1].Pid == first.Pid {
		t.Errorf("the request after the restart did not reach the new process: %s", d.diag())
	}
}

func testShutdown(t *testing.T, fake string) {
	d := startDevhost(t, fake, httpApp(t), nil)
	pid := d.records()[0].Pid

	// A slow request in flight when shutdown starts still gets its answer.
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get(d.url("/api/items?sleepMs=1500"))
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	eventually(t, 5*time.Second, "the slow request reaching the handler", func() bool { return len(d.invocations("items")) == 1 }, d.diag)
	if err := d.stop(); err != nil {
		t.Errorf("run after shutdown: %v, want nil", err)
	}
	if status := <-got; status != 201 {
		t.Errorf("in-flight request during shutdown: status %d, want 201", status)
	}
	// The handler got SIGTERM, after the request, and is gone.
	recs := d.records()
	if last := recs[len(recs)-1]; last.Event != "sigterm" || last.Pid != pid {
		t.Errorf("last record = %+v, want the handler's SIGTERM", last)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("handler %d still runs after devhost returned", pid)
	}
	if len(findLogs(d.stderr, "stopped")) != 1 {
		t.Errorf("no stopped line:\n%s", d.stderr)
	}
	if _, err := http.Get(d.url("/api/items")); err == nil {
		t.Error("devhost still answers after it returned")
	}
}

func testStartFailure(t *testing.T, fake string) {
	d := startDevhostNoWait(t, fake, httpApp(t), map[string]string{"FAKE_FAIL_START": "1"})
	err := d.wait(15 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready (exit status 3)") ||
		!strings.Contains(err.Error(), "boom: TABLES_CONNECTION_STRING is missing") {
		t.Errorf("run = %v, want an error with the exit status and the handler's stderr", err)
	}
}

func testNotReady(t *testing.T, fake string) {
	d := startDevhostNoWait(t, fake, httpApp(t), map[string]string{"FAKE_NOT_READY": "1"}, "-start-timeout", "3s")
	start := time.Now()
	err := d.wait(15 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "did not answer GET / with 200 within 3s") || !strings.Contains(err.Error(), "503") ||
		!strings.Contains(err.Error(), "fake handler stderr line") {
		t.Errorf("run = %v, want the start timeout, the last answer and the handler's stderr", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("run took %s to give up, want about the 3s start timeout", time.Since(start))
	}
	// The handler that never got ready was stopped.
	for _, r := range d.records() {
		if r.Event == "start" && syscall.Kill(r.Pid, 0) == nil {
			t.Errorf("handler %d still runs", r.Pid)
		}
	}
}
