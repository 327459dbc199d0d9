//go:build !unix

package reliability

import "errors"

// killHard needs SIGKILL, which only Unix has.
func killHard(int) error { return errors.New("the crash scenario needs SIGKILL (Unix)") }
