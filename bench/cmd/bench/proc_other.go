//go:build !linux

package main

import "time"

// residentSet has no /proc to read outside Linux.
func residentSet(int) (peak, current int64, err error) { return 0, 0, errNoProc }

// cpuTime has no /proc to read outside Linux.
func cpuTime(int) (time.Duration, error) { return 0, errNoProc }
