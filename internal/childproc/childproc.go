// Package childproc starts child processes that do not outlive their
// parent: the local host's handler, Azurite under tests, the handlers of
// the benchmark and reliability harnesses. A parent killed with SIGKILL
// runs no cleanup, so on Linux the kernel's parent-death signal does it.
package childproc

import (
	"os/exec"
	"runtime"
	"syscall"
)

// Start starts cmd so that it receives sig if its parent dies, and waits
// for it in the background, calling exited with Wait's result. Linux sends
// the death signal when the thread that started the child ends, not the
// process, so the start and the wait happen on one locked thread that
// lives exactly as long as the child. Start returns once cmd has started,
// or the error that kept it from starting (exited is then not called).
// cmd.SysProcAttr is replaced.
func Start(cmd *exec.Cmd, sig syscall.Signal, exited func(error)) error {
	setDeathSignal(cmd, sig)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		if exited != nil {
			exited(err)
		}
	}()
	return <-started
}
