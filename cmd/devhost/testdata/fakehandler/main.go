// Command fakehandler is a custom handler for devhost's tests: it records
// every invocation (envelope, invocation id, how the project's own decoder
// reads it) as a JSON line in $FAKE_RECORD, and answers as the test asks
// through the message or request itself. Being a separate process, it lets
// the tests kill it, watch its restart and see how it is stopped.
//
// Behaviour:
//   - queue functions (Data.msg): body {"status":500,"sleepMs":300} sets
//     the outer status (default 200) and a delay;
//   - timer functions (Data.timer): 200;
//   - HTTP functions (Data.req): query status= (client status, default
//     201), outer= (outer status), numeric=1 (statusCode as a JSON number),
//     sleepMs=; the client body echoes method, params, query and body.
//
// FAKE_FAIL_START=1 makes it exit at once with an error on stderr;
// FAKE_NOT_READY=1 makes GET / answer 503.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

var (
	recordMu sync.Mutex
	record   *os.File
	inflight sync.Map // function name -> *atomic.Int64
)

// write appends one record, as one write, so that lines from a previous
// process of the same test stay whole.
func write(v map[string]any) {
	v["pid"] = os.Getpid()
	v["at"] = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(v)
	recordMu.Lock()
	defer recordMu.Unlock()
	record.Write(append(b, '\n'))
}

func main() {
	if os.Getenv("FAKE_FAIL_START") == "1" {
		fmt.Fprintln(os.Stderr, "boom: TABLES_CONNECTION_STRING is missing")
		os.Exit(3)
	}
	var err error
	record, err = os.OpenFile(os.Getenv("FAKE_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	write(map[string]any{"event": "start", "port": port,
		"runtime": os.Getenv("FUNCTIONS_WORKER_RUNTIME"), "settingValue": os.Getenv("FAKE_SETTING"),
		"processValue": os.Getenv("NOTIFY_MAIL_FROM")})
	fmt.Println("fake handler listening on " + port)
	fmt.Fprintln(os.Stderr, "fake handler stderr line")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		if os.Getenv("FAKE_NOT_READY") == "1" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /{function}", invoke)
	srv := &http.Server{Handler: mux}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		write(map[string]any{"event": "sigterm"})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func invoke(w http.ResponseWriter, r *http.Request) {
	fn := r.PathValue("function")
	raw, _ := io.ReadAll(r.Body)
	counter, _ := inflight.LoadOrStore(fn, new(atomic.Int64))
	n := counter.(*atomic.Int64).Add(1)
	defer counter.(*atomic.Int64).Add(-1)

	rec := map[string]any{"event": "invoke", "function": fn, "path": r.URL.Path,
		"invocationId": r.Header.Get(funchost.InvocationIDHeader), "contentType": r.Header.Get("Content-Type"),
		"inflight": n, "envelope": json.RawMessage(raw)}
	// refuse records why the envelope could not be read and answers 400.
	refuse := func(why string, logs ...string) {
		rec["decodeError"] = why
		write(rec)
		funchost.WriteOutcome(w, http.StatusBadRequest, logs)
	}
	inv, err := funchost.Decode(strings.NewReader(string(raw)), 0)
	if err != nil {
		refuse(err.Error(), err.Error())
		return
	}
	rec["methodName"] = inv.FunctionName
	switch {
	case inv.Data["msg"] != nil:
		m, err := inv.Queue("msg")
		if err != nil {
			refuse(err.Error())
			return
		}
		var ask struct {
			Status  int `json:"status"`
			SleepMs int `json:"sleepMs"`
		}
		json.Unmarshal(m.Body, &ask)
		rec["queue"] = map[string]any{"id": m.ID, "body": string(m.Body), "deliveryCount": m.DeliveryCount,
			"enqueuedTime": m.EnqueuedTime, "properties": m.Properties, "contentType": m.ContentType}
		write(rec)
		time.Sleep(time.Duration(ask.SleepMs) * time.Millisecond)
		status := ask.Status
		if status == 0 {
			status = http.StatusOK
		}
		funchost.WriteOutcome(w, status, []string{"queue message " + m.ID + " seen"})
	case inv.Data["timer"] != nil:
		t, err := inv.Timer("timer")
		if err != nil {
			refuse(err.Error())
			return
		}
		rec["timer"] = map[string]any{"isPastDue": t.IsPastDue, "hasStatus": t.Status != nil}
		write(rec)
		funchost.WriteOutcome(w, http.StatusOK, nil)
	case inv.Data["req"] != nil:
		req, err := inv.HTTP("req")
		if err != nil {
			refuse(err.Error())
			return
		}
		rec["http"] = map[string]any{"method": req.Method, "url": req.URL.String(), "params": req.Params,
			"query": req.Query, "header": req.Header, "body": string(req.Body)}
		write(rec)
		q := req.Query
		if ms, _ := strconv.Atoi(q.Get("sleepMs")); ms > 0 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		if outer, _ := strconv.Atoi(q.Get("outer")); outer != 0 {
			funchost.WriteOutcome(w, outer, []string{"failing on request"})
			return
		}
		status := http.StatusCreated
		if s, _ := strconv.Atoi(q.Get("status")); s != 0 {
			status = s
		}
		echo, _ := json.Marshal(map[string]any{"method": req.Method, "params": req.Params, "query": req.Query, "body": string(req.Body)})
		if q.Get("numeric") == "1" {
			// Some handlers write statusCode as a number and a JSON body.
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"Outputs":{"res":{"statusCode":%d,"headers":{"X-Fake":["a","b"]},"body":%s}},"Logs":[],"ReturnValue":null}`, status, echo)
			return
		}
		funchost.WriteHTTP(w, funchost.HTTPResponse{
			StatusCode: status,
			Headers:    map[string]string{"Content-Type": "application/json", "X-Fake": "yes"},
			Body:       echo,
		}, []string{"http " + req.Method + " seen"})
	default:
		refuse("no known binding")
	}
}
