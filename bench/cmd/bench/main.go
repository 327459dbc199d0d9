// Command bench measures how fast and how lean the handler is, beside the
// floor of what an event cannot avoid: queue throughput and latency through
// the handler process, Table Storage, queue and Graph round trips per
// event counted on the wire, the expiry sweep's cost beside a full-table
// scan, start-up time, peak memory and binary size.
//
// It prints a table and writes the figures as JSON (by default to
// bench/results/latest.json). A benchmark reports; it never fails on a
// time. It fails only when the work it measures fails (an event not
// processed, a request the proxy broke), because then there is nothing to
// report. See bench/README.md for what each figure means.
//
// Everything runs on this machine: a private Azurite (Table Storage and
// the storage queues that stand in for Service Bus), the Graph simulator
// served from this process, and the handler built from the repository and
// started as the Functions host starts it.
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
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/program"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
)

func main() {
	program.Main("bench", program.Flags(func(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
		return run(ctx, args, stdout, stderr)
	}))
}

// options are the benchmark's knobs. The defaults are the figures;
// -quick shrinks every count so that a smoke test runs in seconds.
type options struct {
	quick       bool
	events      int // per event type
	warmup      int // per event type, not measured
	concurrency int
	rounds      int
	tenants     int
	grants      int
	duePercent  float64
	starts      int
	poll        time.Duration
	binary      string
	out         string
	repo        string
	timeout     time.Duration
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", false, "small counts for a smoke test (flags given explicitly still win)")
	fs.IntVar(&o.events, "events", 2000, "measured invocations per event type (invitation-sent, gdap-approved)")
	fs.IntVar(&o.warmup, "warmup", 16, "unmeasured invocations per event type before measuring (at least 1: they show the commit's shape)")
	fs.IntVar(&o.concurrency, "concurrency", 16, "concurrent invocations (host.json maxConcurrentCalls)")
	fs.IntVar(&o.rounds, "rounds", 5, "turns the floor and the handler take, each running events/rounds per turn")
	fs.IntVar(&o.tenants, "tenants", 8, "customer tenants the events and grants are spread over")
	fs.IntVar(&o.grants, "grants", 20000, "grants in the sweep's data set")
	fs.Float64Var(&o.duePercent, "due-percent", 1, "percentage of those grants with an action due")
	fs.IntVar(&o.starts, "starts", 20, "handler starts timed for the start-up figure")
	fs.DurationVar(&o.poll, "poll", time.Millisecond, "how often a start probes GET /")
	fs.StringVar(&o.binary, "binary", "packaged", "which build to run: packaged, or unstripped (which has symbols, for profiling the handler with perf)")
	fs.StringVar(&o.out, "out", "", "JSON results file (default <repo>/bench/results/latest.json)")
	fs.StringVar(&o.repo, "repo", "", "repository root (default: the directory above the working directory holding go.mod)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]*int{"events": &o.events, "warmup": &o.warmup, "tenants": &o.tenants, "grants": &o.grants, "starts": &o.starts} {
			if !set[name] {
				*v = map[string]int{"events": 20, "warmup": 4, "tenants": 2, "grants": 200, "starts": 3}[name]
			}
		}
	}
	switch {
	case o.events < 1 || o.warmup < 1 || o.concurrency < 1 || o.rounds < 1 || o.tenants < 1 || o.starts < 1:
		return o, errors.New("events, warmup, concurrency, rounds, tenants and starts must be at least 1")
	case o.binary != "packaged" && o.binary != "unstripped":
		return o, fmt.Errorf("binary %q: want packaged or unstripped", o.binary)
	case o.grants < 1 || o.duePercent <= 0 || o.duePercent > 100:
		return o, errors.New("grants must be at least 1 and due-percent in (0, 100]")
	}
	return o, nil
}

// run is the whole benchmark: it writes the table to stdout, progress to
// stderr, and the JSON results to the -out file.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if o.repo == "" {
		if o.repo, err = testenv.RepoRoot(); err != nil {
			return err
		}
	}
	if o.out == "" {
		o.out = filepath.Join(o.repo, "bench", "results", "latest.json")
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }

	began := time.Now()
	res := &results{StartedAt: began.UTC(), Quick: o.quick,
		Machine: machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, LoadStart: loadAverage()},
		Params: params{Events: o.events, Warmup: o.warmup, Concurrency: o.concurrency, Rounds: o.rounds, Tenants: o.tenants,
			Grants: o.grants, DuePercent: o.duePercent, Starts: o.starts, PollMs: ms(o.poll)}}

	w := newWorkload(o, began)

	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	progress("building the handler")
	t := time.Now()
	bins, err := buildHandler(ctx, o.repo, dir)
	if err != nil {
		return err
	}
	res.Footprint.BuildSecs = time.Since(t).Seconds()
	res.Footprint.BinaryPackaged, res.Footprint.BinaryUnstripped = fileSize(bins.Packaged), fileSize(bins.Unstripped)
	res.Footprint.Ran = o.binary
	if o.binary == "unstripped" {
		bins.Run = bins.Unstripped
	}

	graph, err := startGraph(w.seed())
	if err != nil {
		return err
	}
	defer graph.close()
	graphProxy, err := startProxy(graph.URL, graphClassifier)
	if err != nil {
		return err
	}
	defer graphProxy.close()

	if err := queuePhase(ctx, o, w, bins, graph, graphProxy, res, progress); err != nil {
		return err
	}
	if err := sweepPhase(ctx, o, w, bins, graph, graphProxy, res, progress); err != nil {
		return err
	}

	res.Machine.LoadEnd = loadAverage()
	res.TotalSecs = time.Since(began).Seconds()
	res.evaluate()
	if err := res.write(o.out); err != nil {
		return err
	}
	res.print(stdout)
	fmt.Fprintf(stdout, "\nresults: %s\n", o.out)
	return nil
}

// loadAverage is the machine's load when the run began and ended: other
// work on a shared builder moves every time figure.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
