package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
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
	static := []string{"CGO_ENABLED=0"}
	if err := childproc.Build(ctx, repo, b.Packaged, ".", static, "-trimpath", "-ldflags=-s -w"); err != nil {
		return b, err
	}
	return b, childproc.Build(ctx, repo, b.Unstripped, ".", static, "-trimpath")
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
	*childproc.Handler
	client *http.Client
	// stderr keeps the end of the handler's log (JSON lines): it logs
	// every invocation, so all of it would not fit a long run.
	stderr *childproc.Log
}

// startHandler starts bin with env and waits, as the host does, for GET /
// to answer 200, probing every poll on a fresh connection. It returns the
// time from exec to that first 200.
func startHandler(ctx context.Context, bin string, env map[string]string, poll time.Duration) (*handlerProc, time.Duration, error) {
	stderr := &childproc.Log{Keep: 16 << 10}
	// The handler dies with the bench. Start-up is timed from just before
	// the start; picking a port and the thread hand-off in childproc cost
	// microseconds.
	t0 := time.Now()
	h, err := childproc.StartHandler(ctx, bin, childproc.Env(env), stderr, childproc.Ready{Poll: poll})
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s", err, stderr.Tail(4000))
	}
	return &handlerProc{Handler: h, stderr: stderr, client: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute,
	}}}, time.Since(t0), nil
}

// stop ends the handler as the host does (SIGTERM), killing it if it
// does not exit within ten seconds.
func (h *handlerProc) stop() { h.Stop(10 * time.Second) }

func (h *handlerProc) logTail() string { return h.stderr.Tail(4000) }

// invoke posts an invocation envelope to a function, as the host does, and
// returns the status and the Logs of the answer.
func (h *handlerProc) invoke(ctx context.Context, function string, envelope []byte) (int, []string, error) {
	resp, err := hostcall.Invoke(ctx, h.client, h.Base, function, "", envelope)
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
	return residentSet(h.Pid())
}

// cpu reads the CPU time the handler has used so far.
func (h *handlerProc) cpu() (time.Duration, error) { return cpuTime(h.Pid()) }

// errNoProc says the platform has no /proc to read memory from.
var errNoProc = errors.New("no /proc on this platform")
