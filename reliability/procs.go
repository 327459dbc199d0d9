package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
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
		if err := childproc.Build(ctx, root, t[0], t[1], nil); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// proc is a child process the harness started: ended with SIGTERM, then
// SIGKILL; it also dies with the harness (internal/childproc).
type proc = childproc.Process

// homeEnv is what every child gets from the harness's own environment
// beside PATH: enough to run, nothing of the harness's settings.
func homeEnv() []string {
	return []string{"HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
}

// handler is the handler binary running alone, as the Functions host runs
// it: on FUNCTIONS_CUSTOMHANDLER_PORT, ready once GET / answers 200.
type handler struct {
	*childproc.Handler
	client *http.Client
}

// startHandler starts the handler with env and waits until it is ready;
// its output goes to out.
func startHandler(ctx context.Context, bin string, env map[string]string, out *childproc.Log) (*handler, error) {
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	h, err := childproc.StartHandler(ctx, bin, append(homeEnv(), childproc.Env(env)...), out,
		childproc.Ready{Timeout: time.Minute, Poll: 50 * time.Millisecond, Client: client})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, out.Tail(2000))
	}
	return &handler{Handler: h, client: client}, nil
}

// invoke posts an invocation envelope to /<function> as the host does, and
// returns the handler's status and answer. A transport failure is an
// error; the host would treat it as a failed invocation.
func (h *handler) invoke(ctx context.Context, function, invocationID string, envelope []byte) (int, []byte, error) {
	resp, err := hostcall.Invoke(ctx, h.client, h.Base, function, invocationID, envelope)
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
func startDevhost(ctx context.Context, bins Binaries, dir string, values map[string]string, out *childproc.Log, flags ...string) (*devhost, error) {
	settings := map[string]any{"IsEncrypted": false, "Values": values}
	b, err := funchost.Marshal(settings)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "local.settings.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	port, err := childproc.FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"-root", bins.Root, "-handler", bins.Handler, "-settings", file,
		"-addr", "127.0.0.1:" + strconv.Itoa(port)}, flags...)
	cmd := exec.Command(bins.Devhost, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, homeEnv()...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	p, err := childproc.Start(cmd, syscall.SIGKILL, nil)
	if err != nil {
		return nil, fmt.Errorf("start devhost: %w", err)
	}
	d := &devhost{proc: p, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	err = childproc.WaitReady(ctx, d.base+"/admin/host/status", childproc.Ready{Timeout: 90 * time.Second, Exited: p.Done(), Client: http.DefaultClient})
	switch {
	case errors.Is(err, childproc.ErrExited):
		return nil, fmt.Errorf("devhost exited before it served (%v): %s", p.Err(), out.Tail(3000))
	case err != nil:
		p.Stop(20 * time.Second)
		return nil, fmt.Errorf("devhost %w: %s", err, out.Tail(3000))
	}
	return d, nil
}

// handlerLine returns the handler's own line from a devhost output line
// ("[handler] …"), and whether it was one.
func handlerLine(line string) (string, bool) {
	return strings.CutPrefix(line, "[handler] ")
}
