package main

import (
	"os"
	"strings"
	"sync"
	"time"
)

// fileClock is the real clock moved by the duration written in a file, for
// local runs only (LOCAL_CLOCK_FILE, refused against real Graph): it lets a
// user watch a 90-day grant's notices and expiry in minutes. The file is
// read again when it changes; a missing or unreadable file means no offset.
type fileClock struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	off  time.Duration
}

func (c *fileClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fi, err := os.Stat(c.path); err != nil {
		c.off, c.mod = 0, time.Time{}
	} else if !fi.ModTime().Equal(c.mod) {
		c.mod = fi.ModTime()
		c.off = 0
		if b, err := os.ReadFile(c.path); err == nil {
			if d, err := time.ParseDuration(strings.TrimSpace(string(b))); err == nil {
				c.off = d
			}
		}
	}
	return time.Now().Add(c.off)
}
