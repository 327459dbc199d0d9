//go:build !linux

package main

import "os/exec"

// setDeathSignal has no portable equivalent outside Linux: there a handler
// outlives a devhost that is killed without stopping it.
func setDeathSignal(*exec.Cmd) {}
