package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
)

// options are devhost's flags.
type options struct {
	root     string
	handler  string
	addr     string
	addrSet  bool
	settings string
	// maxDeliveryCount is the queues' maxDeliveryCount: a message that
	// failed this many deliveries moves to the poison queue.
	maxDeliveryCount int
	// retryDelay is how long an abandoned message stays invisible.
	retryDelay   time.Duration
	startTimeout time.Duration
	// shutdownTimeout bounds how long in-flight invocations may finish
	// after SIGINT or SIGTERM.
	shutdownTimeout time.Duration
	// stopGrace is how long the handler gets between SIGTERM and SIGKILL.
	stopGrace time.Duration
}

// parseOptions reads the flags; args[0] is the program name.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("devhost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.root, "root", ".", "the app `folder`, holding host.json and functions/*/function.json")
	fs.StringVar(&o.handler, "handler", "", "the handler binary (default: host.json customHandler.description.defaultExecutablePath, against -root)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:7071", "where to serve the HTTP functions and the admin endpoints (default port: local.settings.json Host.LocalHttpPort if set)")
	fs.StringVar(&o.settings, "settings", "", "a local.settings.json whose Values are added to the handler's environment (default: <root>/local.settings.json if present)")
	fs.IntVar(&o.maxDeliveryCount, "max-delivery-count", defaultMaxDeliveryCount, "deliveries of a queue message before it moves to <queue>-poison, as Service Bus maxDeliveryCount")
	fs.DurationVar(&o.retryDelay, "retry-delay", time.Second, "how long a failed queue message waits before its redelivery")
	fs.DurationVar(&o.startTimeout, "start-timeout", 30*time.Second, "how long the handler may take to answer GET / with 200")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running invocations may finish on shutdown")
	fs.DurationVar(&o.stopGrace, "stop-grace", 10*time.Second, "how long the handler may take to exit after SIGTERM before it is killed")
	if len(args) > 0 {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { o.addrSet = o.addrSet || f.Name == "addr" })
	switch {
	case o.maxDeliveryCount < 1:
		return options{}, fmt.Errorf("-max-delivery-count %d: want at least 1", o.maxDeliveryCount)
	case o.retryDelay < 0:
		return options{}, fmt.Errorf("-retry-delay %s: want 0 or more", o.retryDelay)
	case o.startTimeout <= 0, o.shutdownTimeout <= 0, o.stopGrace <= 0:
		return options{}, errors.New("-start-timeout, -shutdown-timeout and -stop-grace must be positive")
	}
	return o, nil
}

// run serves the app in the folder -root until ctx ends: it starts the
// handler, polls the queues, fires the timers and serves the HTTP
// functions, then shuts down in order (stop taking work, let running
// invocations finish, stop the handler).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	root, err := filepath.Abs(opts.root)
	if err != nil {
		return err
	}
	st, err := findSettings(opts.settings, root)
	if err != nil {
		return err
	}
	env := handlerEnv(getenv, st)
	a, err := loadApp(root, env)
	if err != nil {
		return err
	}
	executable := a.executable
	if opts.handler != "" {
		if executable, err = filepath.Abs(opts.handler); err != nil {
			return err
		}
	}
	addr := opts.addr
	if !opts.addrSet && st.port != 0 {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(st.port))
	}

	var queues *localqueue.Queues
	namespace := ""
	if qfns := a.byKind(queueTrigger); len(qfns) > 0 {
		cs := env["LOCAL_QUEUES_CONNECTION_STRING"]
		var names []string
		for _, fn := range qfns {
			if !slices.Contains(names, fn.queue) {
				names = append(names, fn.queue)
			}
		}
		if cs == "" {
			return fmt.Errorf("the queue functions (%s) need LOCAL_QUEUES_CONNECTION_STRING in the handler's environment: Azurite's full connection string, whose storage queues stand in for Service Bus", strings.Join(functionNames(qfns), ", "))
		}
		if queues, err = localqueue.New(cs, &localqueue.Options{Queues: names}); err != nil {
			return fmt.Errorf("LOCAL_QUEUES_CONNECTION_STRING: %w", err)
		}
		defer queues.Close(context.Background())
		namespace = queueNamespace(cs)
	}

	// Listen before starting the handler: a busy port is the commonest
	// local failure and needs no handler to report.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (another host running? use -addr)", addr, err)
	}
	defer ln.Close()

	if st.path != "" {
		log.Info("settings loaded", "path", st.path, "values", len(st.values))
	}
	w := newWorker(workerConfig{
		path: executable, args: a.arguments, dir: a.workingDir, env: environ(env),
		startTimeout: opts.startTimeout, stopGrace: opts.stopGrace,
	}, log, stdout, stderr)
	if err := w.start(ctx); err != nil {
		w.stop()
		return err
	}

	iv := &invoker{
		worker:  w,
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}},
		timeout: a.functionTimeout,
		log:     log,
	}
	// loops ends the pollers and timers; work ends the invocations, later,
	// when the shutdown timeout is up.
	loopCtx, stopLoops := context.WithCancel(context.Background())
	defer stopLoops()
	work, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	var loops, inflight sync.WaitGroup

	s := &server{
		app: a, router: newRouter(a.routePrefix, a.byKind(httpTrigger)), iv: iv,
		timers: map[string]*timerRunner{}, pollers: map[string]*poller{}, work: work, inflight: &inflight,
		signin: newSignIn(env),
	}
	for _, fn := range a.functions {
		attrs := []any{"function", fn.name, "trigger", fn.kind.String()}
		switch fn.kind {
		case queueTrigger:
			p := newPoller(fn, queues, iv, log, a.maxConcurrent, opts.maxDeliveryCount, opts.retryDelay, namespace)
			s.pollers[fn.name] = p
			attrs = append(attrs, "queue", fn.queue, "maxConcurrentCalls", a.maxConcurrent, "maxDeliveryCount", opts.maxDeliveryCount)
		case timerTrigger:
			s.timers[fn.name] = newTimerRunner(fn, iv, log)
			attrs = append(attrs, "schedule", fn.scheduleText, "admin", "POST /admin/functions/"+fn.name)
		case httpTrigger:
			methods := fn.methods
			if methods == nil {
				methods = []string{"any"}
			}
			attrs = append(attrs, "route", "/"+strings.TrimPrefix(a.routePrefix+"/"+strings.Trim(fn.route.template, "/~"), "/"), "methods", methods, "authLevel", fn.authLevel)
		}
		log.Info("function", attrs...)
	}
	if len(a.disabled) > 0 {
		log.Info("functions disabled", "functions", a.disabled)
	}
	var keyed []string
	for _, fn := range a.byKind(httpTrigger) {
		if fn.authLevel != "anonymous" {
			keyed = append(keyed, fn.name)
		}
	}
	if len(keyed) > 0 {
		log.Info("function keys are not enforced locally, as with Core Tools: authLevel function and admin routes answer without a key", "functions", keyed)
	}

	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	for _, p := range s.pollers {
		loops.Add(1)
		go func() { defer loops.Done(); p.run(loopCtx, work, &inflight) }()
	}
	for _, t := range s.timers {
		loops.Add(1)
		go func() { defer loops.Done(); t.loop(loopCtx, work, &inflight) }()
	}
	log.Info("listening", "addr", ln.Addr().String(), "handlerPid", w.pid())

	var result error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		result = fmt.Errorf("serve: %w", err)
	}

	log.Info("shutting down", "timeoutMs", opts.shutdownTimeout.Milliseconds())
	drain, cancelDrain := context.WithTimeout(context.Background(), opts.shutdownTimeout)
	defer cancelDrain()
	// Stop taking work: no more polls or timer runs, no new requests.
	// Shutdown waits for the HTTP invocations; once it returns no admin
	// call can add work, and once loops is done no poller can, so that
	// waiting for inflight is then final.
	stopLoops()
	if err := srv.Shutdown(drain); err != nil {
		srv.Close()
	}
	loops.Wait()
	if !waitGroup(drain, &inflight) {
		log.Warn("invocations still running at the shutdown timeout; cancelling them (their messages are abandoned for redelivery)")
		cancelWork()
		waitGroup(context.Background(), &inflight) // settling is bounded by settleTimeout
	}
	w.stop()
	log.Info("stopped")
	return result
}

// waitGroup waits for wg until ctx ends, and reports whether wg finished.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func functionNames(fns []*function) []string {
	out := make([]string, len(fns))
	for i, fn := range fns {
		out[i] = fn.name
	}
	return out
}
