package childproc

import (
	"bytes"
	"strings"
	"sync"
)

// maxPartial is how long a line may grow without a newline before it is
// handed to the watchers anyway, so that a child that never writes one
// does not grow the buffer without bound.
const maxPartial = 64 << 10

// Log collects what a child (or a server goroutine) writes while the
// parent reads it: it is safe for concurrent use. It keeps everything, or
// with Keep set only about the last Keep bytes (a child that logs every
// request would not fit a long run), and hands each whole line to its
// watchers. The zero value keeps everything and has no watchers.
type Log struct {
	// Keep bounds what String and Tail can return; 0 means everything.
	Keep int

	mu       sync.Mutex
	buf      []byte
	partial  []byte
	watchers []func(line string)
}

// Write keeps p and calls the watchers with each line it completes,
// without the newline (or a trailing carriage return), outside the lock.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	if l.Keep > 0 && len(l.buf) > 2*l.Keep {
		l.buf = append([]byte(nil), l.buf[len(l.buf)-l.Keep:]...)
	}
	var lines []string
	if len(l.watchers) > 0 {
		l.partial = append(l.partial, p...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			lines = append(lines, string(bytes.TrimSuffix(l.partial[:i], []byte("\r"))))
			l.partial = l.partial[i+1:]
		}
		if len(l.partial) > maxPartial {
			lines = append(lines, string(l.partial))
			l.partial = nil
		}
	}
	ws := l.watchers
	l.mu.Unlock()
	for _, line := range lines {
		for _, w := range ws {
			w(line)
		}
	}
	return len(p), nil
}

// Flush hands a last line without a newline to the watchers: call it when
// the writer has gone (the child exited), so that its last words are not
// joined to the next one's first.
func (l *Log) Flush() {
	l.mu.Lock()
	line, ws := string(l.partial), l.watchers
	l.partial = nil
	if n := len(l.buf); n > 0 && l.buf[n-1] != '\n' {
		l.buf = append(l.buf, '\n')
	}
	l.mu.Unlock()
	if line == "" {
		return
	}
	for _, w := range ws {
		w(line)
	}
}

// Watch calls f with every line written from now on.
func (l *Log) Watch(f func(line string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watchers = append(l.watchers, f)
}

// String returns what is kept of everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// Tail returns the last n bytes written, marked "…" when cut, or
// "(no output)" when nothing but white space was written: the part that
// explains a failure, for an error message.
func (l *Log) Tail(n int) string {
	s := strings.TrimSpace(l.String())
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// Lines returns the last n complete or partial lines kept.
func (l *Log) Lines(n int) []string {
	s := strings.TrimRight(l.String(), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, line := range lines {
		lines[i] = strings.TrimSuffix(line, "\r")
	}
	return lines
}
