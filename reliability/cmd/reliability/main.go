// Command reliability runs the reliability harness (package reliability)
// at full size: duplicates, faults, crashes and hostile input against the
// handler built from this repository, on a private Azurite, graphsim and
// local webhook sinks. It prints one line per scenario with its figures
// and writes every figure and finding to reliability/results/latest.json.
// It exits non-zero when a scenario finds a broken invariant, after
// writing the report: the report is the evidence.
//
//	go run ./reliability/cmd/reliability [-events 500] [-seed N] [-fault-rate 0.1] [-crashes 10] [-scenarios duplicates,faults,crashes,hostile]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/program"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/reliability"
)

func main() { program.Main("reliability", run) }

// run parses the flags, starts Azurite, builds the binaries, runs the
// scenarios one after the other and writes the report.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o := reliability.Full()
	fs := flag.NewFlagSet("reliability", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Events, "events", o.Events, "events per queue scenario")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of every PRNG (workload ids, copy order, faults, crash points)")
	fs.Float64Var(&o.FaultRate, "fault-rate", o.FaultRate, "share of requests the proxies break in the faults scenario")
	fs.DurationVar(&o.Latency, "latency", o.Latency, "delay of a slow request")
	fs.IntVar(&o.Crashes, "crashes", o.Crashes, "SIGKILLs of the handler in the crash scenario")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "events in flight at once")
	fs.IntVar(&o.MaxDeliveries, "max-deliveries", o.MaxDeliveries, "deliveries before a message is dead-lettered (maxDeliveryCount)")
	fs.DurationVar(&o.RetryDelay, "retry-delay", o.RetryDelay, "wait before a failed message is delivered again")
	fs.IntVar(&o.GDAPEvery, "gdap-every", o.GDAPEvery, "every n-th event is gdap-approved (0: none)")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "how long the crash scenario waits for every message to settle")
	scenarios := fs.String("scenarios", "all", "comma list of scenarios: duplicates, faults, crashes, hostile")
	out := fs.String("out", "", "where to write the JSON report (default <repo>/reliability/results/latest.json)")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if len(args) > 0 {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.Check(); err != nil {
		return err
	}
	list, err := reliability.Select(*scenarios)
	if err != nil {
		return err
	}
	_ = getenv // the harness sets every setting of what it starts itself

	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(root, "reliability", "results", "latest.json")
	}
	progress := func(format string, args ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}

	progress("seed %d: starting a private Azurite and building the handler and devhost", o.Seed)
	az, err := testenv.StartPrivate()
	if err != nil {
		return fmt.Errorf("azurite: %w", err)
	}
	defer testenv.Stop()
	dir, err := os.MkdirTemp("", "reliability-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := reliability.Build(ctx, root, dir)
	if err != nil {
		return err
	}
	env := reliability.Env{Bins: bins, Azurite: az, Progress: progress}

	fmt.Fprintf(stdout, "reliability: seed=%d events=%d faultRate=%.2f latency=%s crashes=%d concurrency=%d maxDeliveries=%d\n",
		o.Seed, o.Events, o.FaultRate, o.Latency, o.Crashes, o.Concurrency, o.MaxDeliveries)
	report := reliability.NewReport(o, fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()))
	for _, sc := range list {
		progress("%s: running", sc.Name)
		res, err := sc.Run(ctx, env, o)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		report.Add(res)
		fmt.Fprintln(stdout, res.Line())
		for i, v := range res.Violations {
			if i == 10 {
				fmt.Fprintf(stdout, "    … %d more in the report\n", res.ViolationsTotal-10)
				break
			}
			fmt.Fprintf(stdout, "    %s\n", v)
		}
		for _, c := range res.Checks {
			if !c.Pass {
				fmt.Fprintf(stdout, "    check failed: %s: want %s, got %s\n", c.Name, c.Want, c.Got)
			}
		}
		if res.Secrets != nil {
			for _, l := range res.Secrets.Leaks {
				fmt.Fprintf(stdout, "    leak: %s\n", l)
			}
		}
		for i, d := range res.CrashDuplicates {
			if i == 5 {
				fmt.Fprintf(stdout, "    … %d more in the report\n", len(res.CrashDuplicates)-5)
				break
			}
			fmt.Fprintf(stdout, "    after a kill (allowed): %s\n", d)
		}
		if n := len(res.SentNotRecorded); n > 0 {
			fmt.Fprintf(stdout, "    after a kill (allowed): %d notification(s) arrived but are still unsent in the outbox (killed between sending and recording)\n", n)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(stdout, "    note: %s\n", n)
		}
	}
	if err := reliability.WriteReport(*out, report); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s\n", *out)
	if !report.Pass {
		return errors.New("a scenario found a broken invariant (see the report)")
	}
	return nil
}
