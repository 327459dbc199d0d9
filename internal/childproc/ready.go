package childproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// PortVariable names the environment variable that tells a custom handler
// the port to listen on.
const PortVariable = "FUNCTIONS_CUSTOMHANDLER_PORT"

// ErrExited is what WaitReady and WaitListening return (wrapped) when the
// child ends before it is ready.
var ErrExited = errors.New("exited before it was ready")

// FreePort returns a loopback TCP port that was free a moment ago.
// Another process may take it before the child binds it; the child then
// fails to start, which its caller sees as an early exit.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct loopback ports that were free a moment
// ago. The listeners stay open until all are picked, so the n differ.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Ready says how long and how often to wait for a child.
type Ready struct {
	// Timeout bounds the wait; 0 means 30 seconds.
	Timeout time.Duration
	// Poll is the pause between probes; 0 means 100 ms.
	Poll time.Duration
	// Exited, when closed, ends the wait with ErrExited: a child that
	// died will not become ready. Process.Done fits.
	Exited <-chan struct{}
	// Client probes WaitReady's URL. nil means a fresh connection per
	// probe with a two-second timeout, as the host's probes are: a refused
	// connection then costs microseconds, so probing does not hide the
	// start-up it waits for.
	Client *http.Client
}

func (r Ready) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 30 * time.Second
}

var probeClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// WaitReady polls GET u until it answers 200. It returns ErrExited
// (wrapped) when r.Exited closes first, context.Cause(ctx) when ctx ends,
// and after r.Timeout an error naming the last answer.
func WaitReady(ctx context.Context, u string, r Ready) error {
	client := r.Client
	if client == nil {
		client = probeClient
	}
	what := "GET " + u
	if pu, err := url.Parse(u); err == nil {
		what = "GET " + pu.Path
	}
	return poll(ctx, r, "answer "+what+" with 200", func() (bool, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, what + ": " + err.Error()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, what + " answered " + resp.Status
	})
}

// WaitListening dials the TCP address addr until it accepts, with r as
// WaitReady takes it (r.Client is not used).
func WaitListening(ctx context.Context, addr string, r Ready) error {
	return poll(ctx, r, "accept on "+addr, func() (bool, string) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

// poll runs probe until it succeeds, r.Exited closes, ctx ends or the
// timeout passes.
func poll(ctx context.Context, r Ready, what string, probe func() (bool, string)) error {
	pause := r.Poll
	if pause <= 0 {
		pause = 100 * time.Millisecond
	}
	deadline := time.NewTimer(r.timeout())
	defer deadline.Stop()
	last := "no answer yet"
	for {
		ok, l := probe()
		if ok {
			return nil
		}
		last = l
		wait := time.NewTimer(pause)
		select {
		case <-r.Exited:
			wait.Stop()
			return ErrExited
		case <-ctx.Done():
			wait.Stop()
			return context.Cause(ctx)
		case <-deadline.C:
			wait.Stop()
			return fmt.Errorf("did not %s within %s (last: %s)", what, r.timeout(), last)
		case <-wait.C:
		}
	}
}

// Handler is a custom handler started as the Functions host starts one.
type Handler struct {
	*Process
	// Port is the handler's FUNCTIONS_CUSTOMHANDLER_PORT, and Base its
	// address, "http://127.0.0.1:<port>".
	Port int
	Base string
}

// StartHandler starts the custom handler bin as the Functions host does:
// on a free loopback port named by FUNCTIONS_CUSTOMHANDLER_PORT, with
// PATH and env (KEY=VALUE; nothing else of the parent's environment),
// stdout and stderr to out, dying with its parent; and waits with
// WaitReady for GET / to answer 200. A handler that does not get ready is
// killed; the error then says why (errors.Is ErrExited when it exited),
// and out holds what it wrote.
func StartHandler(ctx context.Context, bin string, env []string, out io.Writer, r Ready) (*Handler, error) {
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("pick a port for the handler: %w", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), PortVariable + "=" + strconv.Itoa(port)}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	// A grandchild holding the pipes open must not keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second
	p, err := Start(cmd, syscall.SIGKILL, nil)
	if err != nil {
		return nil, fmt.Errorf("start handler %s: %w", bin, err)
	}
	h := &Handler{Process: p, Port: port, Base: "http://127.0.0.1:" + strconv.Itoa(port)}
	r.Exited = p.Done()
	if err := WaitReady(ctx, h.Base+"/", r); err != nil {
		p.Kill()
		if errors.Is(err, ErrExited) {
			return nil, fmt.Errorf("handler %w (%s)", err, ExitText(p.Err()))
		}
		return nil, fmt.Errorf("handler %w", err)
	}
	return h, nil
}

// Env turns a map of settings into KEY=VALUE entries, for StartHandler.
func Env(settings map[string]string) []string {
	out := make([]string, 0, len(settings))
	for k, v := range settings {
		out = append(out, k+"="+v)
	}
	return out
}
