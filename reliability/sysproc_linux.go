package reliability

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill a child when the harness dies, so
// that a run cut short by a timeout or ^C leaves no handler or host behind.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
