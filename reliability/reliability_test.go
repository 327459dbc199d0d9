package reliability

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
)

// The harness uses the storage queues of the contract's names (the crash
// scenario's host polls them): its test process gets an Azurite of its own.
func TestMain(m *testing.M) { testenv.MainPrivate(m) }

// hostQueues is held by a scenario that runs the local host, which polls
// the contract's queues: two hosts at once would take each other's
// messages. The scenarios that invoke the handler directly run beside
// them; the crash scenario spends most of its time waiting for the
// handler to wait out a killed sender's claim.
var hostQueues sync.Mutex

// testEnv is the package's tests' Env: the handler and devhost built once
// per test process, and the process's own Azurite.
func testEnv(t *testing.T) Env {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins := Binaries{Root: root, Handler: testenv.Binary(t, "."), Devhost: testenv.Binary(t, "./cmd/devhost")}
	return Env{Bins: bins, Azurite: testenv.Azurite(t), Progress: t.Logf}
}

// runScenario runs one scenario at the bounded size and fails the test on
// every broken invariant, printing each.
func runScenario(t *testing.T, run func(context.Context, Env, Options) (Result, error)) Result {
	t.Helper()
	env := testEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), Small().Settle+2*time.Minute)
	defer cancel()
	res, err := run(ctx, env, Small())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Line())
	for _, v := range res.Violations {
		t.Errorf("violation: %s", v)
	}
	for _, c := range res.Checks {
		if !c.Pass {
			t.Errorf("check %q: got %s, want %s", c.Name, c.Got, c.Want)
		}
	}
	if res.Secrets != nil {
		for _, l := range res.Secrets.Leaks {
			t.Errorf("leak: %s", l)
		}
		if s := res.Secrets; s.LogLines == 0 || s.Mails+s.Sinks+s.Answers == 0 {
			t.Errorf("secret scan read %d log lines, %d mails, %d sink bodies, %d answers: it saw nothing", s.LogLines, s.Mails, s.Sinks, s.Answers)
		}
	}
	for _, n := range res.Notes {
		t.Log("note: ", n)
	}
	return res
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	res := runScenario(t, Duplicates)
	if want := 3 * Small().Events; res.Deliveries < want {
		t.Errorf("deliveries: got %d, want at least %d (three copies of each event)", res.Deliveries, want)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	res := runScenario(t, Faults)
	if res.Faults == nil || res.Faults.Injected == 0 {
		t.Errorf("faults injected: got none at rate %.2f; the scenario proved nothing", Small().FaultRate)
	}
}

func TestCrashes(t *testing.T) {
	t.Parallel()
	hostQueues.Lock()
	defer hostQueues.Unlock()
	res := runScenario(t, Crashes)
	if res.Kills == 0 {
		t.Errorf("kills: got none, want %d", Small().Crashes)
	}
	// A kill between sending a notification and recording it sent may
	// repeat it: reported, allowed.
	for _, d := range res.CrashDuplicates {
		t.Logf("after a kill: %s", d)
	}
	for _, d := range res.SentNotRecorded {
		t.Logf("after a kill: %s", d)
	}
	// A repeated Teams card or ticket comment is the same outbox entry sent
	// again, so it carries the same Idempotency-Key: a receiver that
	// dedupes sees it once. Only mail, which has no such header, can
	// still arrive twice.
	if tl := res.Tally; tl == nil {
		t.Error("no tally")
	} else {
		if tl.WithoutIdempotencyKey != 0 {
			t.Errorf("%d webhook notifications arrived without an Idempotency-Key", tl.WithoutIdempotencyKey)
		}
		for _, k := range []string{"teams card", "ticket comment"} {
			if n := tl.SeenTwiceAfterDedupe[k]; n != 0 {
				t.Errorf("a receiver deduping by Idempotency-Key still sees %d extra %s copies", n, k)
			}
		}
		t.Logf("seen twice after dedupe: %v (of %d duplicates)", tl.SeenTwiceAfterDedupe, tl.Duplicates)
	}
}

func TestHostile(t *testing.T) {
	t.Parallel()
	hostQueues.Lock()
	defer hostQueues.Unlock()
	res := runScenario(t, Hostile)
	if len(res.Checks) == 0 {
		t.Error("hostile: no checks ran")
	}
}

func TestDelays(t *testing.T) {
	t.Parallel()
	// It consumes the handler's own re-checks from the contract's queues.
	hostQueues.Lock()
	defer hostQueues.Unlock()
	res := runScenario(t, Delays)
	if res.Failed > 0 || res.DeadLettered > 0 {
		t.Errorf("deliveries: %d failed, %d dead-lettered; want none: waiting is deferred, not failed", res.Failed, res.DeadLettered)
	}
	if res.Tally == nil || !strings.Contains(strings.Join(res.Notes, " "), "re-checks delivered") {
		t.Errorf("notes %q: want the count of deferred deliveries and re-checks", res.Notes)
	}
}
