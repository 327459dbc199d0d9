// Package childproc is the one harness for the programs the project runs
// as child processes: the local host's handler, Azurite under tests, the
// handler and the local host under the benchmark, the reliability harness
// and the process tests. It starts a child that does not outlive its
// parent (a parent killed with SIGKILL runs no cleanup, so on Linux the
// kernel's parent-death signal does it), stops it politely and then not,
// finds free loopback ports, waits for a child to answer GET / (as the
// Functions host waits for a custom handler) and keeps the end of its log.
package childproc

import (
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Process is a started child. Its fields are set once Done is closed.
type Process struct {
	// Cmd is the started command; Cmd.Process is set.
	Cmd *exec.Cmd

	done chan struct{}
	err  error
}

// Start starts cmd so that it receives sig if its parent dies, and waits
// for it in the background. onExit, if not nil, is called with Wait's
// result before Done is closed, so that what it does (flushing a log) is
// seen by whoever waits on Done. Linux sends the death signal when the
// thread that started the child ends, not the process, so the start and
// the wait happen on one locked thread that lives exactly as long as the
// child. Start returns once cmd has started, or the error that kept it
// from starting (onExit is then not called). cmd.SysProcAttr is replaced.
func Start(cmd *exec.Cmd, sig syscall.Signal, onExit func(error)) (*Process, error) {
	setDeathSignal(cmd, sig)
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		if onExit != nil {
			onExit(p.err)
		}
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Done is closed once the child has exited and been waited for.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is what Wait returned; nil before Done is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Stop ends the child as a host ends its workers: SIGTERM, and SIGKILL
// if it has not exited after grace (at once where there is no SIGTERM).
// It returns once the child has been waited for, and whether it had to be
// killed. Stopping a child that has exited does nothing.
func (p *Process) Stop(grace time.Duration) (killed bool) {
	if p.Exited() {
		return false
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.Kill()
		return true
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return false
	case <-t.C:
		p.Kill()
		return true
	}
}

// Kill ends the child at once and waits for it.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// ExitText describes how a child ended, for a log line.
func ExitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
