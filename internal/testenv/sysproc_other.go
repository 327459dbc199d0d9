//go:build !linux

package testenv

import "os/exec"

// setDeathSignal has no portable equivalent outside Linux: there, Stop (from
// TestMain) is what ends Azurite.
func setDeathSignal(*exec.Cmd) {}
