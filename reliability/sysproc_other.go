//go:build !linux

package reliability

import "os/exec"

// setDeathSignal has no portable equivalent outside Linux: there, the
// scenarios' own clean-up is what ends their children.
func setDeathSignal(*exec.Cmd) {}
