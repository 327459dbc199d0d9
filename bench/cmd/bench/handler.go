package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// binaries are the handler built two ways from the repository.
type binaries struct {
	// Packaged is built as scripts/package.sh builds it for deployment
	// (static, -trimpath, symbols and DWARF stripped).
	Packaged string
	// Unstripped is the same build without -ldflags='-s -w'.
	Unstripped string
	// Run is the one the benchmark starts: Packaged, unless asked for the
	// one with symbols.
	Run string
}

// buildHandler builds the handler (the repository root's main package)
// into dir. The two builds differ only at link time, so they share the
// compiled packages in the build cache.
func buildHandler(ctx context.Context, repo, dir string) (binaries, error) {
	b := binaries{Packaged: filepath.Join(dir, "handler"), Unstripped: filepath.Join(dir, "handler-unstripped")}
	b.Run = b.Packaged
	for _, args := range [][]string{
		{"build", "-trimpath", "-ldflags=-s -w", "-o", b.Packaged, "."},
		{"build", "-trimpath", "-o", b.Unstripped, "."},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return b, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// handlerProc is the handler running as the Functions host runs it: a
// child process listening on FUNCTIONS_CUSTOMHANDLER_PORT.
type handlerProc struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	client *http.Client
	stderr *tailBuffer
	exited chan struct{}
}

// startHandler starts bin with env and waits, as the host does, for GET /
// to answer 200, probing every poll. It returns the time from exec to that
// first 200.
func startHandler(ctx context.Context, bin string, env map[string]string, poll time.Duration) (*handlerProc, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	h := &handlerProc{cmd: cmd, base: "http://127.0.0.1:" + strconv.Itoa(port), stderr: &tailBuffer{}, exited: make(chan struct{}),
		client: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
			Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute,
		}}}
	cmd.Stderr = h.stderr
	// The handler dies with the bench. Start-up is timed from just before
	// the start; the thread hand-off in childproc costs microseconds.
	t0 := time.Now()
	if err := childproc.Start(cmd, syscall.SIGKILL, func(error) { close(h.exited) }); err != nil {
		return nil, 0, fmt.Errorf("start handler: %w", err)
	}

	// A fresh connection per probe, as the host's probes are: a refused
	// connection costs microseconds, so the probe does not hide the
	// start-up it measures.
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := t0.Add(30 * time.Second)
	for {
		resp, err := probe.Get(h.base + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, time.Since(t0), nil
			}
		}
		select {
		case <-h.exited:
			return nil, 0, fmt.Errorf("handler exited before answering GET /: %s", h.stderr.tail())
		case <-ctx.Done():
			h.stop()
			return nil, 0, ctx.Err()
		case <-time.After(poll):
		}
		if time.Now().After(deadline) {
			h.stop()
			return nil, 0, fmt.Errorf("handler did not answer GET / within 30 s: %s", h.stderr.tail())
		}
	}
}

// stop ends the handler as the host does (SIGTERM), killing it if it
// does not exit within ten seconds.
func (h *handlerProc) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
}

func (h *handlerProc) logTail() string { return h.stderr.tail() }

// invoke posts an invocation envelope to a function, as the host does, and
// returns the status and the Logs of the answer.
func (h *handlerProc) invoke(ctx context.Context, function string, envelope []byte) (int, []string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/"+function, bytes.NewReader(envelope))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", strconv.FormatInt(time.Now().UnixNano(), 36))
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST /%s: %w", function, err)
	}
	defer resp.Body.Close()
	var out struct{ Logs []string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("POST /%s: the answer is not the host's JSON: %w", function, err)
	}
	return resp.StatusCode, out.Logs, nil
}

// memory reads the handler's peak and current resident set size.
func (h *handlerProc) memory() (peak, current int64, err error) {
	return residentSet(h.cmd.Process.Pid)
}

// cpu reads the CPU time the handler has used so far.
func (h *handlerProc) cpu() (time.Duration, error) { return cpuTime(h.cmd.Process.Pid) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the end of the handler's log (JSON lines on stderr),
// for error messages. The handler logs every invocation, so all of it
// would not fit a long run.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailKeep = 16 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*tailKeep {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-tailKeep:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.buf)
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	if strings.TrimSpace(s) == "" {
		return "(the handler logged nothing)"
	}
	return s
}

// errNoProc says the platform has no /proc to read memory from.
var errNoProc = errors.New("no /proc on this platform")
