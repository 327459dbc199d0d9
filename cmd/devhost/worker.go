package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// out and errs are the handler's stdout and stderr over all its
	// runs, forwarded line by line; errs keeps its end for error messages.
	out, errs *childproc.Log
	client    *http.Client

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
	*childproc.Process
	port    int
	started time.Time
}

func newWorker(cfg workerConfig, log *slog.Logger, stdout, stderr io.Writer) *worker {
	w := &worker{
		cfg: cfg, log: log, stdout: stdout, stderr: stderr,
		out: &childproc.Log{Keep: 1}, errs: &childproc.Log{Keep: 64 << 10},
		client: &http.Client{Timeout: 2 * time.Second},
		ready:  make(chan struct{}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	w.out.Watch(prefixed(stdout))
	w.errs.Watch(prefixed(stderr))
	return w
}

// prefixed forwards the handler's lines, each prefixed, so that they stay
// whole among devhost's own.
func prefixed(dst io.Writer) func(string) {
	return func(line string) { io.WriteString(dst, "[handler] "+line+"\n") }
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
		p.Kill()
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
	port, err := childproc.FreePort()
	if err != nil {
		return nil, fmt.Errorf("pick a port for the handler: %w", err)
	}
	cmd := exec.Command(w.cfg.path, w.cfg.args...)
	cmd.Dir = w.cfg.dir
	cmd.Env = append(append([]string{}, w.cfg.env...), childproc.PortVariable+"="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = w.out, w.errs
	// A grandchild holding the pipes open must not keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return nil, errors.New("devhost is stopping")
	}
	// SIGTERM if devhost dies: the handler shuts down as under the host.
	// Its last words are forwarded before anyone sees it gone.
	proc, err := childproc.Start(cmd, syscall.SIGTERM, func(error) { w.out.Flush(); w.errs.Flush() })
	if err != nil {
		return nil, fmt.Errorf("start handler %s: %w", w.cfg.path, err)
	}
	p := &process{Process: proc, port: port, started: time.Now()}
	w.proc = p
	w.log.Info("handler started", "pid", p.Pid(), "port", port, "path", w.cfg.path)
	return p, nil
}

// waitReady polls GET / until it answers 200, the process exits, or the
// start timeout passes; then marks the handler ready.
func (w *worker) waitReady(ctx context.Context, p *process) error {
	base := "http://127.0.0.1:" + strconv.Itoa(p.port)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-w.quit:
			cancel(errStopping)
		case <-ctx.Done():
		}
	}()
	err := childproc.WaitReady(ctx, base+"/", childproc.Ready{
		Timeout: w.cfg.startTimeout, Poll: readyPoll, Exited: p.Done(), Client: w.client,
	})
	switch {
	case errors.Is(err, childproc.ErrExited):
		return fmt.Errorf("handler exited before it was ready (%s)%s", p.Err(), w.quote())
	case err != nil && ctx.Err() == nil:
		return fmt.Errorf("handler %w%s", err, w.quote())
	case err != nil:
		return err
	}
	w.mu.Lock()
	w.base = base
	close(w.ready)
	w.mu.Unlock()
	w.log.Info("handler ready", "pid", p.Pid(), "port", p.port, "startupMs", time.Since(p.started).Milliseconds())
	return nil
}

// errStopping ends a wait for the handler when devhost stops.
var errStopping = errors.New("devhost is stopping")

// supervise restarts the handler each time it dies, until stop.
func (w *worker) supervise(p *process) {
	defer close(w.done)
	backoff := restartMin
	for {
		select {
		case <-p.Done():
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
		w.log.Error("handler exited; restarting", "pid", p.Pid(), "exit", childproc.ExitText(p.Err()),
			"uptimeMs", uptime.Milliseconds(), "restartInMs", backoff.Milliseconds(), "stderr", w.errs.Lines(stderrTail))

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
				np.Kill()
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
	if w.proc == nil {
		return 0
	}
	return w.proc.Pid()
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

	if p != nil && !p.Exited() {
		if p.Stop(w.cfg.stopGrace) {
			w.log.Warn("handler ignored SIGTERM; killed it", "pid", p.Pid(), "graceMs", w.cfg.stopGrace.Milliseconds())
		} else {
			w.log.Info("handler stopped", "pid", p.Pid(), "exit", childproc.ExitText(p.Err()))
		}
	}
	if supervised {
		<-w.done
	}
}

// quote renders the end of the handler's stderr for an error message.
func (w *worker) quote() string {
	l := w.errs.Lines(stderrTail)
	if len(l) == 0 {
		return "; it wrote nothing to stderr"
	}
	return "; its last stderr lines:\n\t" + strings.Join(l, "\n\t")
}
