package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// SyncBuffer collects what a server goroutine or a child process writes
// while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var binaries struct {
	mu    sync.Mutex
	dir   string
	built map[string]string
}

// Binary builds one of the project's main packages ("." for the handler,
// "./cmd/devhost", …, relative to the repository root) once per test
// process and returns the path of the executable: tests run the real
// programs, as they are deployed, not an in-process copy.
func Binary(tb testing.TB, pkg string) string {
	tb.Helper()
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if p, ok := binaries.built[pkg]; ok {
		return p
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	if binaries.dir == "" {
		if binaries.dir, err = os.MkdirTemp("", "testenv-bin"); err != nil {
			tb.Fatal(err)
		}
		binaries.built = map[string]string{}
	}
	name := filepath.Base(filepath.Clean(pkg))
	if name == "." {
		name = "handler"
	}
	out := filepath.Join(binaries.dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	binaries.built[pkg] = out
	return out
}
