package testenv

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
)

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
	if err := childproc.Build(context.Background(), root, out, pkg, nil); err != nil {
		tb.Fatal(err)
	}
	binaries.built[pkg] = out
	return out
}
