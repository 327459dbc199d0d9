//go:build !linux

package childproc

import (
	"os/exec"
	"syscall"
)

// setDeathSignal does nothing where the kernel has no parent-death signal:
// there, callers stop their children on the way out.
func setDeathSignal(*exec.Cmd, syscall.Signal) {}
