package childproc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Errorf("FreePorts(3) = %v, want three distinct ports", ports)
	}
	if p, err := FreePort(); err != nil || p <= 0 {
		t.Errorf("FreePort = %d, %v", p, err)
	}
}

func TestWaitReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := WaitReady(ctx, srv.URL+"/", Ready{Poll: time.Millisecond}); err != nil || calls.Load() != 3 {
		t.Errorf("WaitReady = %v after %d probes, want nil after 3", err, calls.Load())
	}

	calls.Store(-1 << 20)
	err := WaitReady(ctx, srv.URL+"/", Ready{Poll: time.Millisecond, Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not answer GET / with 200 within 50ms") || !strings.Contains(err.Error(), "503") {
		t.Errorf("WaitReady on a server answering 503 = %v, want a timeout naming the 503", err)
	}

	exited := make(chan struct{})
	close(exited)
	if err := WaitReady(ctx, srv.URL+"/", Ready{Exited: exited}); !errors.Is(err, ErrExited) {
		t.Errorf("WaitReady with the child gone = %v, want ErrExited", err)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	stopping := errors.New("stopping")
	cancel(stopping)
	if err := WaitReady(cctx, srv.URL+"/", Ready{}); !errors.Is(err, stopping) {
		t.Errorf("WaitReady with ctx cancelled = %v, want its cause", err)
	}
	if err := WaitListening(ctx, srv.Listener.Addr().String(), Ready{}); err != nil {
		t.Errorf("WaitListening = %v", err)
	}
}

func TestStop(t *testing.T) {
	p, err := Start(exec.Command("sleep", "60"), syscall.SIGKILL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if killed := p.Stop(5 * time.Second); killed || !p.Exited() {
		t.Errorf("Stop of a sleep = killed %v, exited %v; want it ended by SIGTERM", killed, p.Exited())
	}
	p, err = Start(exec.Command("sh", "-c", "trap '' TERM; sleep 60 & wait"), syscall.SIGKILL, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the shell set its trap
	p.Cmd.WaitDelay = time.Second
	if killed := p.Stop(200 * time.Millisecond); !killed {
		t.Errorf("Stop of a child ignoring SIGTERM: not killed")
	}
	if p.Stop(time.Second) {
		t.Errorf("Stop of an exited child killed it again")
	}
}

func TestLog(t *testing.T) {
	var l Log
	var lines []string
	l.Watch(func(s string) { lines = append(lines, s) })
	l.Write([]byte("one\r\ntw"))
	l.Write([]byte("o\nthree"))
	if got := strings.Join(lines, "|"); got != "one|two" {
		t.Errorf("watched %q, want one|two", got)
	}
	l.Flush()
	if got := strings.Join(lines, "|"); got != "one|two|three" {
		t.Errorf("after Flush: watched %q", got)
	}
	if got := l.Lines(2); len(got) != 2 || got[0] != "two" || got[1] != "three" {
		t.Errorf("Lines(2) = %q", got)
	}
	if got := l.Tail(4); got != "…hree" {
		t.Errorf("Tail(4) = %q", got)
	}
	if got := (&Log{}).Tail(10); got != "(no output)" {
		t.Errorf("Tail of nothing = %q", got)
	}
	kept := &Log{Keep: 10}
	for range 10 {
		kept.Write([]byte("0123456789"))
	}
	if n := len(kept.String()); n < 10 || n > 20 {
		t.Errorf("Keep 10: kept %d bytes", n)
	}
}
