// Package testenv gives tests the real backing services they run against,
// so that adapter tests exercise the wire protocol and not a mock of it.
//
// Azurite provides Table Storage (and, for local runs, the storage queues
// that stand in for Service Bus). CI starts one Azurite for the whole run and
// exports its connection string in AZURITE_CONNECTION_STRING; without it the
// first test that asks starts a private Azurite for the test process, from
// the copy the repository installs under .tools/azurite. A missing Azurite
// fails the test: a skipped adapter test is a test nobody runs.
//
// A package that uses Azurite stops it when its tests end:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
)

// EnvConnectionString names the environment variable that points tests at
// an Azurite that is already running.
const EnvConnectionString = "AZURITE_CONNECTION_STRING"

// Azurite's well-known development account. It is public, documented by
// Microsoft, and accepted only by the emulator.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// installHint tells a developer how to get the emulator the tests expect;
// 3.35.0 is the last Azurite that runs on Node 20.
const installHint = "install it with `npm install --prefix .tools/azurite azurite@3.35.0` in the repository root, " +
	"or point " + EnvConnectionString + " at a running Azurite"

// startTimeout bounds how long Azurite may take to listen; Node starts
// slowly on a busy two-core builder.
const startTimeout = 60 * time.Second

// Endpoints locates one Azurite. ConnectionString is the full form aztables
// and azqueue need ("UseDevelopmentStorage=true" is not understood by them).
type Endpoints struct {
	ConnectionString string
	BlobEndpoint     string // e.g. http://127.0.0.1:10000/devstoreaccount1
	QueueEndpoint    string
	TableEndpoint    string
}

// ConnectionStringFor builds the connection string of an Azurite whose
// services listen on the given loopback ports.
func ConnectionStringFor(blobPort, queuePort, tablePort int) string {
	return endpointsFor(blobPort, queuePort, tablePort).ConnectionString
}

func endpointsFor(blobPort, queuePort, tablePort int) Endpoints {
	ep := func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/%s", port, AccountName) }
	e := Endpoints{BlobEndpoint: ep(blobPort), QueueEndpoint: ep(queuePort), TableEndpoint: ep(tablePort)}
	e.ConnectionString = "DefaultEndpointsProtocol=http;AccountName=" + AccountName + ";AccountKey=" + AccountKey +
		";BlobEndpoint=" + e.BlobEndpoint + ";QueueEndpoint=" + e.QueueEndpoint + ";TableEndpoint=" + e.TableEndpoint + ";"
	return e
}

// ParseConnectionString reads the service endpoints out of a storage
// connection string. Endpoints it does not name are left empty.
func ParseConnectionString(cs string) (Endpoints, error) {
	e := Endpoints{ConnectionString: cs}
	for _, part := range strings.Split(cs, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Endpoints{}, fmt.Errorf("parse connection string: part %q has no '='", k)
		}
		switch strings.TrimSpace(k) {
		case "BlobEndpoint":
			e.BlobEndpoint = v
		case "QueueEndpoint":
			e.QueueEndpoint = v
		case "TableEndpoint":
			e.TableEndpoint = v
		}
	}
	if e.TableEndpoint == "" {
		return Endpoints{}, errors.New("parse connection string: no TableEndpoint (Azurite needs the full form, not UseDevelopmentStorage=true)")
	}
	for _, ep := range []string{e.BlobEndpoint, e.QueueEndpoint, e.TableEndpoint} {
		if ep == "" {
			continue
		}
		if u, err := url.Parse(ep); err != nil || u.Host == "" {
			return Endpoints{}, fmt.Errorf("parse connection string: endpoint %q is not an absolute URL", ep)
		}
	}
	return e, nil
}

// The one Azurite of this test process. Starting it once matters: Node
// takes seconds to start, and tests isolate themselves by naming.
var shared struct {
	mu      sync.Mutex
	started bool // a start was attempted; err holds its failure
	ep      Endpoints
	err     error
	proc    *azuriteProcess
	private bool // ignore AZURITE_CONNECTION_STRING: see MainPrivate
}

// Azurite returns the Azurite the test should use, starting it on first use.
// It fails the test, with the way to install Azurite, when there is none.
func Azurite(tb testing.TB) Endpoints {
	tb.Helper()
	ep, err := Start()
	if err != nil {
		tb.Fatalf("azurite: %v", err)
	}
	return ep
}

// Start is Azurite for code that has no testing.TB, such as TestMain or a
// benchmark harness. It returns the configured Azurite, or starts one for the
// process. A failed start is remembered, so that every test reports it
// without waiting for Node again.
func Start() (Endpoints, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.started {
		return shared.ep, shared.err
	}
	shared.started = true
	if cs := os.Getenv(EnvConnectionString); cs != "" && !shared.private {
		shared.ep, shared.err = ParseConnectionString(cs)
		if shared.err != nil {
			shared.err = fmt.Errorf("%s: %w", EnvConnectionString, shared.err)
		}
		return shared.ep, shared.err
	}
	shared.proc, shared.ep, shared.err = startAzurite()
	return shared.ep, shared.err
}

// Stop ends the Azurite this process started, if any. It is safe to call
// more than once and when Azurite came from the environment.
func Stop() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.proc != nil {
		shared.proc.stop()
		shared.proc = nil
	}
	// A later Start after Stop starts afresh instead of handing out the
	// endpoints of a stopped process.
	shared.started, shared.ep, shared.err = false, Endpoints{}, nil
}

// Main runs the tests of a package and stops Azurite afterwards. Use it as
// the body of TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// MainPrivate is Main for a package whose tests use the storage queues,
// whose names are fixed by the contract (invitation-sent, gdap-approved,
// grant-expiring): its test process gets an Azurite of its own, whatever
// AZURITE_CONNECTION_STRING says, so that test packages running at the
// same time never take each other's messages.
func MainPrivate(m *testing.M) {
	shared.mu.Lock()
	shared.private = true
	shared.mu.Unlock()
	Main(m)
}

// StartPrivate is Start for a program that is not a test, such as the
// benchmark, and uses the storage queues of the contract's names: it
// starts an Azurite of the process's own, whatever
// AZURITE_CONNECTION_STRING says, for the reason MainPrivate gives. Call it
// before anything calls Start, and Stop when done; after a Stop it starts a
// fresh Azurite.
func StartPrivate() (Endpoints, error) {
	shared.mu.Lock()
	shared.private = true
	shared.mu.Unlock()
	return Start()
}

// UniqueName returns a fresh name, usable as a table name or a prefix of
// one: it starts with prefix (which must start with a letter), then holds
// only letters and digits. Tests that share one Azurite isolate their data
// with it.
func UniqueName(tb testing.TB, prefix string) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("unique name: %v", err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// azuriteProcess is an Azurite this process started.
type azuriteProcess struct {
	*childproc.Process
	dir string // its working directory, removed on stop
	log *childproc.Log
}

func startAzurite() (*azuriteProcess, Endpoints, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, Endpoints{}, fmt.Errorf("find repository root: %w; %s", err, installHint)
	}
	return startFrom(root)
}

// startFrom starts the Azurite installed under root/.tools/azurite.
func startFrom(root string) (*azuriteProcess, Endpoints, error) {
	bin := filepath.Join(root, ".tools", "azurite", "node_modules", ".bin", "azurite")
	if _, err := os.Stat(bin); err != nil {
		return nil, Endpoints{}, fmt.Errorf("%s is not set and %s is missing: %s", EnvConnectionString, bin, installHint)
	}
	// Free ports are picked and then released, so another process may take
	// one before Azurite binds it: a lost race shows as an early exit, and a
	// new set of ports is tried.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := childproc.FreePorts(3)
		if err != nil {
			return nil, Endpoints{}, fmt.Errorf("pick ports for azurite: %w", err)
		}
		p, err := launch(bin, ports[0], ports[1], ports[2])
		if err == nil {
			return p, endpointsFor(ports[0], ports[1], ports[2]), nil
		}
		lastErr = err
	}
	return nil, Endpoints{}, lastErr
}

func launch(bin string, blobPort, queuePort, tablePort int) (*azuriteProcess, error) {
	dir, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		return nil, fmt.Errorf("azurite workspace: %w", err)
	}
	cmd := exec.Command(bin,
		"--silent",
		"--disableTelemetry",
		"--skipApiVersionCheck", // the SDKs may be newer than the emulator
		// In memory: nothing to clean up, and faster. Azurite 3.35 refuses
		// --location together with it, so the temporary workspace is the
		// working directory instead, catching any file it still writes.
		"--inMemoryPersistence",
		"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(blobPort),
		"--queueHost", "127.0.0.1", "--queuePort", fmt.Sprint(queuePort),
		"--tableHost", "127.0.0.1", "--tablePort", fmt.Sprint(tablePort),
	)
	cmd.Dir = dir
	// Only the end of the output explains a failure.
	log := &childproc.Log{Keep: 1 << 20}
	cmd.Stdout, cmd.Stderr = log, log
	// Azurite dies with the test process, however that ends.
	proc, err := childproc.Start(cmd, syscall.SIGKILL, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w; %s", bin, err, installHint)
	}
	p := &azuriteProcess{Process: proc, dir: dir, log: log}
	// Node starts slowly on a busy two-core builder.
	ready := childproc.Ready{Timeout: startTimeout, Poll: 50 * time.Millisecond, Exited: proc.Done()}
	for _, port := range []int{tablePort, queuePort, blobPort} {
		if err := childproc.WaitListening(context.Background(), fmt.Sprintf("127.0.0.1:%d", port), ready); err != nil {
			p.stop()
			if errors.Is(err, childproc.ErrExited) {
				return nil, fmt.Errorf("azurite exited before listening on port %d: %s", port, log.Tail(2000))
			}
			return nil, fmt.Errorf("azurite %w: %s", err, log.Tail(2000))
		}
	}
	return p, nil
}

// stop asks Azurite to end, and kills it if it does not within a few
// seconds; tests must not hang on a stuck emulator.
func (p *azuriteProcess) stop() {
	p.Stop(5 * time.Second)
	os.RemoveAll(p.dir)
}

// RepoRoot walks up from the working directory (a package directory under
// go test, or anywhere in the repository for a tool) to the directory
// holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
