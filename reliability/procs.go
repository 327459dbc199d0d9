package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
)

// Binaries are the programs under test, built from the repository as they
// are deployed.
type Binaries struct {
	Root    string // the repository root (holds go.mod, host.json)
	Handler string
	Devhost string
}

// Build builds the handler and the local host from root into dir. It runs
// one go command at a time: the machine may be busy.
func Build(ctx context.Context, root, dir string) (Binaries, error) {
	b := Binaries{Root: root, Handler: filepath.Join(dir, "handler"), Devhost: filepath.Join(dir, "devhost")}
	for _, t := range [][2]string{{b.Handler, "."}, {b.Devhost, "./cmd/devhost"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t[0], t[1])
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %v\n%s", t[1], err, out)
		}
	}
	return b, nil
}

// output collects a process's output for the secret scan and for
// diagnostics, and hands each whole line to the watchers.
type output struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	partial  []byte
	watchers []func(line string)
}

// Write keeps p and calls the watchers with each line it completes.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf.Write(p)
	o.partial = append(o.partial, p...)
	var lines []string
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(o.partial[:i]))
		o.partial = o.partial[i+1:]
	}
	ws := o.watchers
	o.mu.Unlock()
	for _, l := range lines {
		for _, w := range ws {
			w(l)
		}
	}
	return len(p), nil
}

// watch calls f with every line written from now on.
func (o *output) watch(f func(line string)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.watchers = append(o.watchers, f)
}

// String is everything written so far.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// tail is the end of the output, for error messages.
func (o *output) tail(n int) string {
	s := o.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// proc is a child process the harness started. It is ended with SIGTERM,
// then SIGKILL; on Linux it also dies with the harness (see startProc).
type proc struct {
	cmd    *exec.Cmd
	out    *output
	exited chan struct{}
	err    error
}

// startProc starts cmd with its output in out; it dies with the harness
// (internal/childproc).
func startProc(cmd *exec.Cmd, out *output) (*proc, error) {
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	p := &proc{cmd: cmd, out: out, exited: make(chan struct{})}
	if err := childproc.Start(cmd, syscall.SIGKILL, func(err error) {
		p.err = err
		close(p.exited)
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// stop ends the process: SIGTERM, and SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// handler is the handler binary running alone, as the Functions host runs
// it: on FUNCTIONS_CUSTOMHANDLER_PORT, ready once GET / answers 200.
type handler struct {
	*proc
	base   string
	client *http.Client
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// baseEnv is what every child gets from the harness's own environment:
// enough to run, nothing of the harness's settings.
func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
}

// startHandler starts the handler with env and waits until it is ready.
func startHandler(ctx context.Context, bin string, env map[string]string, out *output) (*handler, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(baseEnv(), "FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p, err := startProc(cmd, out)
	if err != nil {
		return nil, fmt.Errorf("start handler: %w", err)
	}
	h := &handler{proc: p, base: "http://127.0.0.1:" + strconv.Itoa(port),
		client: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/", nil)
		if resp, err := h.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("handler exited before it was ready (%v): %s", p.err, out.tail(2000))
		case <-ctx.Done():
			p.stop(5 * time.Second)
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop(5 * time.Second)
			return nil, fmt.Errorf("handler not ready within a minute: %s", out.tail(2000))
		}
	}
}

// invoke posts an invocation envelope to /<function> as the host does, and
// returns the handler's status and answer. A transport failure is an
// error; the host would treat it as a failed invocation.
func (h *handler) invoke(ctx context.Context, function, invocationID string, envelope []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/"+function, bytes.NewReader(envelope))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", invocationID)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	return resp.StatusCode, b, err
}

// devhost is the local Functions host running the handler.
type devhost struct {
	*proc
	base string // http://127.0.0.1:<port>, where HTTP triggers are served
}

// startDevhost runs cmd/devhost on the repository's host.json and
// function.json files with values as local.settings.json, and waits until
// its HTTP side answers.
func startDevhost(ctx context.Context, bins Binaries, dir string, values map[string]string, out *output, flags ...string) (*devhost, error) {
	settings := map[string]any{"IsEncrypted": false, "Values": values}
	b, err := jsonMarshal(settings)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "local.settings.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"-root", bins.Root, "-handler", bins.Handler, "-settings", file,
		"-addr", "127.0.0.1:" + strconv.Itoa(port)}, flags...)
	cmd := exec.Command(bins.Devhost, args...)
	cmd.Env = baseEnv()
	p, err := startProc(cmd, out)
	if err != nil {
		return nil, fmt.Errorf("start devhost: %w", err)
	}
	d := &devhost{proc: p, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/admin/host/status", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("devhost exited before it served (%v): %s", p.err, out.tail(3000))
		case <-ctx.Done():
			p.stop(20 * time.Second)
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop(20 * time.Second)
			return nil, fmt.Errorf("devhost did not serve within 90 s: %s", out.tail(3000))
		}
	}
}

// handlerLine returns the handler's own line from a devhost output line
// ("[handler] …"), and whether it was one.
func handlerLine(line string) (string, bool) {
	return strings.CutPrefix(line, "[handler] ")
}
