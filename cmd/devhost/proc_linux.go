package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel send the handler SIGTERM when devhost
// dies without stopping it (killed, or a test binary timing out), so that
// no handler is left holding its port and its queue messages.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
