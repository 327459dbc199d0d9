//go:build unix

package reliability

import "syscall"

// killHard sends SIGKILL to pid: the handler gets no chance to finish
// anything, as when its host's machine dies.
func killHard(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
