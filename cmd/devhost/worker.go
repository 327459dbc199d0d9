package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
)

// Restart backoff of a handler that died: it starts short, so that a crash
// costs little, and grows, so that a handler that cannot start does not
// spin. A handler that ran restartReset or longer restarts at once again.
const (
	restartMin   = 250 * time.Millisecond
	restartMax   = 10 * time.Second
	restartReset = 30 * time.Second
	// stderrTail is how many of the handler's last stderr lines an error
	// about it quotes.
	stderrTail = 20
	// readyPoll is how often GET / is tried while the handler starts.
	readyPoll = 100 * time.Millisecond
)

// workerConfig says how to run the handler.
type workerConfig struct {
	path string
	args []string
	dir  string
	// env is the handler's environment without the port, which each start
	// adds.
	env          []string
	startTimeout time.Duration
	// stopGrace is how long the handler gets to exit after SIGTERM before
	// it is killed.
	stopGrace time.Duration
}

// worker runs the custom handler as the Functions host does: on a free port
// named by FUNCTIONS_CUSTOMHANDLER_PORT, ready once GET / answers 200,
// restarted when it dies, its output forwarded to devhost's own.
type worker struct {
	cfg    workerConfig
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
	tail   *lineTail
	client *http.Client

	mu       sync.Mutex
	proc     *process
	base     string        // "http://127.0.0.1:port" while ready, else ""
	ready    chan struct{} // closed when base is set; replaced when it is cleared
	stopping bool
	// supervised is set once the first start succeeded and the
	// supervisor runs; done is closed when it returns.
	supervised bool
	quit       chan struct{} // closed by stop
	done       chan struct{} // closed when the supervisor returns
}

// process is one run of the handler binary.
type process struct {
	cmd     *exec.Cmd
	port    int
	started time.Time
	exited  chan struct{} // closed once Wait returned; err is then set
	err     error
	flush   func()
}

func newWorker(cfg workerConfig, log *slog.Logger, stdout, stderr io.Writer) *worker {
	return &worker{
		cfg: cfg, log: log, stdout: stdout, stderr: stderr,
		tail:   &lineTail{max: stderrTail},
		client: &http.Client{Timeout: 2 * time.Second},
		ready:  make(chan struct{}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// start runs the handler and waits until it is ready, then keeps it
// running until stop. The first start failing is an error, with the
// handler's last stderr lines: a handler that cannot start now will not
// start on a retry either, and the developer needs to see why.
func (w *worker) start(ctx context.Context) error {
	if err := checkExecutable(w.cfg.path); err != nil {
		return err
	}
	p, err := w.launch()
	if err != nil {
		return err
	}
	if err := w.waitReady(ctx, p); err != nil {
		w.kill(p)
		return err
	}
	w.mu.Lock()
	w.supervised = true
	w.mu.Unlock()
	go w.supervise(p)
	return nil
}

// checkExecutable says clearly what is wrong with the handler path, before
// os/exec says it less clearly.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("handler %s: %w (build it, e.g. `go build -o handler .` in the app folder, or pass -handler)", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("handler %s is a directory, want the handler binary", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("handler %s is not executable", path)
	}
	return nil
}

// launch starts one handler process on a free port.
func (w *worker) launch() (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("pick a port for the handler: %w", err)
	}
	cmd := exec.Command(w.cfg.path, w.cfg.args...)
	cmd.Dir = w.cfg.dir
	cmd.Env = append(append([]string{}, w.cfg.env...), "FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port))
	out := &prefixWriter{prefix: "[handler] ", dst: w.stdout}
	errw := &prefixWriter{prefix: "[handler] ", dst: w.stderr, tail: w.tail}
	cmd.Stdout, cmd.Stderr = out, errw
	// A grandchild holding the pipes open must not keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second
	p := &process{cmd: cmd, port: port, exited: make(chan struct{}), flush: func() { out.flush(); errw.flush() }}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return nil, errors.New("devhost is stopping")
	}
	// SIGTERM if devhost dies: the handler shuts down as under the host.
	err = childproc.Start(cmd, syscall.SIGTERM, func(err error) {
		p.err = err
		p.flush()
		close(p.exited)
	})
	if err != nil {
		return nil, fmt.Errorf("start handler %s: %w", w.cfg.path, err)
	}
	p.started = time.Now()
	w.proc = p
	w.log.Info("handler started", "pid", cmd.Process.Pid, "port", port, "path", w.cfg.path)
	return p, nil
}

// waitReady polls GET / until it answers 200, the process exits, or the
// start timeout passes; then marks the handler ready.
func (w *worker) waitReady(ctx context.Context, p *process) error {
	base := "http://127.0.0.1:" + strconv.Itoa(p.port)
	deadline := time.NewTimer(w.cfg.startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	last := "no answer yet"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		resp, err := w.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				w.mu.Lock()
				w.base = base
				close(w.ready)
				w.mu.Unlock()
				w.log.Info("handler ready", "pid", p.cmd.Process.Pid, "port", p.port, "startupMs", time.Since(p.started).Milliseconds())
				return nil
			}
			last = "GET / answered " + resp.Status
		} else {
			last = "GET /: " + err.Error()
		}
		select {
		case <-p.exited:
			return fmt.Errorf("handler exited before it was ready (%s)%s", p.err, w.tail.quote())
		case <-deadline.C:
			return fmt.Errorf("handler did not answer GET / with 200 within %s (last: %s)%s", w.cfg.startTimeout, last, w.tail.quote())
		case <-ctx.Done():
			return ctx.Err()
		case <-w.quit:
			return errors.New("devhost is stopping")
		case <-tick.C:
		}
	}
}

// supervise restarts the handler each time it dies, until stop.
func (w *worker) supervise(p *process) {
	defer close(w.done)
	backoff := restartMin
	for {
		select {
		case <-p.exited:
		case <-w.quit:
			return // stop terminates the process itself
		}
		w.mu.Lock()
		stopping := w.stopping
		if !stopping {
			w.base = ""
			w.ready = make(chan struct{})
		}
		w.mu.Unlock()
		if stopping {
			return
		}
		uptime := time.Since(p.started)
		if uptime >= restartReset {
			backoff = restartMin
		}
		w.log.Error("handler exited; restarting", "pid", p.cmd.Process.Pid, "exit", exitText(p.err),
			"uptimeMs", uptime.Milliseconds(), "restartInMs", backoff.Milliseconds(), "stderr", w.tail.lines())

		for {
			select {
			case <-time.After(backoff):
			case <-w.quit:
				return
			}
			backoff = min(backoff*2, restartMax)
			np, err := w.launch()
			if err != nil {
				if w.stopped() {
					return
				}
				w.log.Error("handler restart failed", "error", err, "restartInMs", backoff.Milliseconds())
				continue
			}
			// waitReady gives up by itself when stop closes quit.
			if err := w.waitReady(context.Background(), np); err != nil {
				w.kill(np)
				if w.stopped() {
					return
				}
				w.log.Error("handler restart failed", "error", err, "restartInMs", backoff.Milliseconds())
				continue
			}
			p = np
			break
		}
	}
}

// stopped reports whether stop was called.
func (w *worker) stopped() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

// baseURL returns the address of the ready handler, waiting while it
// (re)starts, until ctx ends.
func (w *worker) baseURL(ctx context.Context) (string, error) {
	for {
		w.mu.Lock()
		base, ready, stopping := w.base, w.ready, w.stopping
		w.mu.Unlock()
		if base != "" {
			return base, nil
		}
		if stopping {
			return "", errors.New("the handler is stopped")
		}
		select {
		case <-ready:
		case <-w.quit:
		case <-ctx.Done():
			return "", fmt.Errorf("the handler is not ready: %w", ctx.Err())
		}
	}
}

// pid returns the process id of the running handler, 0 if none.
func (w *worker) pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil || w.proc.cmd.Process == nil {
		return 0
	}
	return w.proc.cmd.Process.Pid
}

// stop ends the handler: SIGTERM, then SIGKILL after the grace period. No
// handler is started afterwards.
func (w *worker) stop() {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		return
	}
	w.stopping = true
	w.base = ""
	p, supervised := w.proc, w.supervised
	close(w.quit)
	w.mu.Unlock()

	if p != nil {
		select {
		case <-p.exited:
		default:
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				// No SIGTERM on this system (Windows): only a kill remains.
				p.cmd.Process.Kill()
			}
			select {
			case <-p.exited:
				w.log.Info("handler stopped", "pid", p.cmd.Process.Pid, "exit", exitText(p.err))
			case <-time.After(w.cfg.stopGrace):
				w.log.Warn("handler ignored SIGTERM; killing it", "pid", p.cmd.Process.Pid, "graceMs", w.cfg.stopGrace.Milliseconds())
				w.kill(p)
			}
		}
	}
	if supervised {
		<-w.done
	}
}

// kill ends p at once and waits for it.
func (w *worker) kill(p *process) {
	p.cmd.Process.Kill()
	<-p.exited
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// freePort asks the system for a free loopback port. Another process may
// take it before the handler binds it; the handler then exits and is
// started again on another port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// prefixWriter forwards the handler's output line by line, each line
// prefixed, so that its lines stay whole among devhost's own. It keeps the
// last lines in tail, if set, for error messages.
type prefixWriter struct {
	prefix string
	dst    io.Writer
	tail   *lineTail

	mu  sync.Mutex
	buf []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.emit(p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	// A handler that never writes a newline must not grow the buffer
	// without bound.
	if len(p.buf) > 64<<10 {
		p.emit(p.buf)
		p.buf = nil
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.emit(p.buf)
		p.buf = nil
	}
}

func (p *prefixWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if p.tail != nil {
		p.tail.add(string(line))
	}
	out := make([]byte, 0, len(p.prefix)+len(line)+1)
	out = append(append(append(out, p.prefix...), line...), '\n')
	p.dst.Write(out)
}

// lineTail keeps the last max lines written to it.
type lineTail struct {
	max int

	mu sync.Mutex
	l  []string
}

func (t *lineTail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.l = append(t.l, s)
	if len(t.l) > t.max {
		t.l = t.l[len(t.l)-t.max:]
	}
}

func (t *lineTail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.l...)
}

// quote renders the tail for an error message, or nothing if empty.
func (t *lineTail) quote() string {
	l := t.lines()
	if len(l) == 0 {
		return "; it wrote nothing to stderr"
	}
	return "; its last stderr lines:\n\t" + strings.Join(l, "\n\t")
}
