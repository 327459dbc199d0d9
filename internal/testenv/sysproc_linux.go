package testenv

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill Azurite when the test process dies,
// so a test binary killed by a timeout or ^C leaves no emulator behind.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
