package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// results is everything one run measured; it is the JSON file's shape.
type results struct {
	StartedAt time.Time     `json:"startedAt"`
	TotalSecs float64       `json:"totalSeconds"`
	Quick     bool          `json:"quick"`
	Machine   machine       `json:"machine"`
	Params    params        `json:"params"`
	Queue     []queueResult `json:"queue"`
	// All is both event types together: every latency sample, and the
	// events over the sum of the walls.
	All       allEvents   `json:"all"`
	Sweep     sweepResult `json:"sweep"`
	Startup   startup     `json:"startup"`
	Footprint footprint   `json:"footprint"`
	Targets   []target    `json:"targets"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	LoadStart string `json:"loadAverageStart"`
	LoadEnd   string `json:"loadAverageEnd"`
}

type params struct {
	Events      int     `json:"eventsPerType"`
	Warmup      int     `json:"warmupPerType"`
	Concurrency int     `json:"concurrency"`
	Rounds      int     `json:"rounds"`
	Tenants     int     `json:"customerTenants"`
	Grants      int     `json:"sweepGrants"`
	DuePercent  float64 `json:"duePercent"`
	Starts      int     `json:"starts"`
	PollMs      float64 `json:"pollMs"`
}

type allEvents struct {
	Handler         latency `json:"handler"`
	Floor           latency `json:"floor"`
	ThroughputRatio float64 `json:"throughputRatio"`
}

type startup struct {
	SamplesMs []float64 `json:"samplesMs"`
	MedianMs  float64   `json:"medianMs"`
	MinMs     float64   `json:"minMs"`
	MaxMs     float64   `json:"maxMs"`
}

type footprint struct {
	PeakRSS          int64   `json:"peakRssBytes"` // VmHWM after the queue phase
	RSS              int64   `json:"rssBytes"`     // VmRSS then
	MemoryNote       string  `json:"memoryNote,omitempty"`
	BinaryPackaged   int64   `json:"binaryPackagedBytes"`
	BinaryUnstripped int64   `json:"binaryUnstrippedBytes"`
	BuildSecs        float64 `json:"buildSeconds"`
	// Ran is the build the figures come from: packaged unless -binary
	// said otherwise.
	Ran string `json:"ran"`
}

// target is one of the goals and whether this run met it.
type target struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Value  string `json:"value"`
	Met    bool   `json:"met"`
}

// evaluate derives the summary figures and checks them against the targets.
func (r *results) evaluate() {
	if len(r.Queue) == 2 {
		r.All.Handler = merge(r.Queue[0].Handler, r.Queue[1].Handler)
		r.All.Floor = merge(r.Queue[0].Floor, r.Queue[1].Floor)
		if r.All.Floor.PerSec > 0 {
			r.All.ThroughputRatio = r.All.Handler.PerSec / r.All.Floor.PerSec
		}
	}
	if s := slices.Sorted(slices.Values(r.Startup.SamplesMs)); len(s) > 0 {
		r.Startup.MinMs, r.Startup.MaxMs = s[0], s[len(s)-1]
		r.Startup.MedianMs = s[len(s)/2]
		if len(s)%2 == 0 {
			r.Startup.MedianMs = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
	}

	r.Targets = nil
	for _, q := range r.Queue {
		r.Targets = append(r.Targets, target{Name: "throughput, " + q.Event, Target: ">= 80% of the floor",
			Value: fmt.Sprintf("%.0f%% (%.1f vs %.1f events/s)", 100*q.ThroughputRatio, q.Handler.PerSec, q.Floor.PerSec),
			Met:   q.ThroughputRatio >= 0.8})
	}
	for _, q := range r.Queue {
		n, unexplained := 0.0, []string{}
		for _, b := range q.BeyondFloor {
			n += b.PerEvent
			if b.Why == "" {
				unexplained = append(unexplained, b.Op)
			}
		}
		value := fmt.Sprintf("%.2f per event, all explained", n)
		if len(unexplained) > 0 {
			value = fmt.Sprintf("%.2f per event, unexplained: %s", n, strings.Join(unexplained, ", "))
		}
		r.Targets = append(r.Targets, target{Name: "requests beyond the floor, " + q.Event, Target: "none unless explained",
			Value: value, Met: len(unexplained) == 0})
	}
	r.Targets = append(r.Targets,
		target{Name: "sweep entities read per due grant", Target: "<= 1.1",
			Value: fmt.Sprintf("%.2f (%d entities for %d due grants)", r.Sweep.EntitiesPerDueGrant, r.Sweep.EntitiesFetched, r.Sweep.DueGrants),
			Met:   r.Sweep.DueGrants > 0 && r.Sweep.EntitiesPerDueGrant <= 1.1},
		target{Name: "start-up, exec to first GET / 200", Target: "< 50 ms (median)",
			Value: fmt.Sprintf("%.1f ms (median of %d)", r.Startup.MedianMs, len(r.Startup.SamplesMs)),
			Met:   len(r.Startup.SamplesMs) > 0 && r.Startup.MedianMs < 50},
		target{Name: "peak RSS under the queue load", Target: "< 64 MB",
			Value: mb(r.Footprint.PeakRSS),
			Met:   r.Footprint.PeakRSS > 0 && r.Footprint.PeakRSS < 64<<20},
	)
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// write saves the results as indented JSON, creating the directory.
func (r *results) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// print writes the human table.
func (r *results) print(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	mode := ""
	if r.Quick {
		mode = " (quick mode: too small to mean much)"
	}
	fmt.Fprintf(out, "Benchmark %s%s on %d CPUs, %s; load average %s at start, %s at end\n\n",
		r.StartedAt.Format(time.RFC3339), mode, r.Machine.CPUs, r.Machine.GoVersion, r.Machine.LoadStart, r.Machine.LoadEnd)

	fmt.Fprintf(out, "1. Queue throughput and latency: %d events per type, %d concurrent calls, %d customer tenants; floor = 1 point read, the Graph reads and writes the event requires, 1 transaction of the handler's commit size, 2 notifications\n",
		r.Params.Events, r.Params.Concurrency, r.Params.Tenants)
	p("event\thandler ev/s\tp50 ms\tp99 ms\t\tfloor ev/s\tp50 ms\tp99 ms\t\thandler/floor\t")
	row := func(name string, h, f latency, ratio float64) {
		p("%s\t%.1f\t%.1f\t%.1f\t\t%.1f\t%.1f\t%.1f\t\t%.0f%%\t", name, h.PerSec, h.P50Ms, h.P99Ms, f.PerSec, f.P50Ms, f.P99Ms, 100*ratio)
	}
	for _, q := range r.Queue {
		row(q.Event, q.Handler, q.Floor, q.ThroughputRatio)
	}
	row("all", r.All.Handler, r.All.Floor, r.All.ThroughputRatio)
	tw.Flush()

	fmt.Fprintf(out, "\n2. Round trips per event, counted on the wire\n")
	p("event\ttable\tqueue\tgraph\t\tfloor table\tfloor graph\tcommit (floor copies it)\thandler CPU ms/event\t")
	for _, q := range r.Queue {
		p("%s\t%.2f\t%.2f\t%.2f\t\t%.2f\t%.2f\t%s, %d bytes\t%.2f\t", q.Event, q.PerEvent.Table, q.PerEvent.Queue, q.PerEvent.Graph,
			q.FloorPerEvent.Table, q.FloorPerEvent.Graph, q.CommitShape, q.FloorShape.BatchBytes, q.HandlerCPUMs)
	}
	tw.Flush()
	for _, q := range r.Queue {
		if q.Undelivered > 0 {
			fmt.Fprintf(out, "  %s: %d requests failed at a proxy and were retried by their client (counted above)\n", q.Event, q.Undelivered)
		}
	}
	for _, q := range r.Queue {
		fmt.Fprintf(out, "  %s\n", q.Event)
		for _, part := range []struct {
			name string
			ops  map[string]float64
		}{{"table", q.TableOps}, {"queue", q.QueueOps}, {"graph", q.GraphOps}, {"txns", q.Batches}} {
			var items []string
			for _, k := range slices.Sorted(maps.Keys(part.ops)) {
				items = append(items, fmt.Sprintf("%s %.2f", k, part.ops[k]))
			}
			fmt.Fprintf(out, "    %-6s %s\n", part.name+":", strings.Join(items, "; "))
		}
		fmt.Fprintf(out, "    floor graph, in order: %s\n", strings.Join(q.FloorGraph, "; "))
		for _, b := range q.BeyondFloor {
			why := b.Why
			if why == "" {
				why = "UNEXPLAINED"
			}
			fmt.Fprintf(out, "    beyond the floor: %s %s %.2f: %s\n", b.Service, b.Op, b.PerEvent, why)
		}
	}

	s := r.Sweep
	due := float64(max(s.DueGrants, 1))
	fmt.Fprintf(out, "\n3. Sweep: %d grants (half B2B, half GDAP), %d due\n", s.Grants, s.DueGrants)
	p("query\ttime ms\trequests\tentities returned\tper due grant\trows examined on Azure\tper due grant\t")
	p("expiry-sweep, the handler's invocation\t%.1f\t%d\t%d\t%.2f\t%d\t%.2f\t", s.DurationMs, s.TableRequests, s.EntitiesFetched, s.EntitiesPerDueGrant,
		s.RowsExamined, float64(s.RowsExamined)/due)
	p("  its due-index query alone\t%.1f\t%d\t%d\t%.2f\t%d\t%.2f\t", s.IndexQuery.DurationMs, s.IndexQuery.Requests, s.IndexQuery.Entities,
		float64(s.IndexQuery.Entities)/due, s.IndexRowsInRange, float64(s.IndexRowsInRange)/due)
	p("full-table scan on ExpiresAt\t%.1f\t%d\t%d\t%.2f\t%d\t%.2f\t", s.FullScan.DurationMs, s.FullScan.Requests, s.FullScan.Matches,
		float64(s.FullScan.Matches)/due, s.FullScan.RowsExamined, float64(s.FullScan.RowsExamined)/due)
	tw.Flush()
	var tops []string
	for _, k := range slices.Sorted(maps.Keys(s.Table.ByOp)) {
		tops = append(tops, fmt.Sprintf("%s %d", k, s.Table.ByOp[k]))
	}
	fmt.Fprintf(out, "  the sweep read %d due-index entries, published %d, recorded %d drift; table: %s; graph %d; queue %d\n",
		s.IndexEntriesRead, s.Published, s.Drift, strings.Join(tops, "; "), s.GraphRequests, s.QueueRequests)
	fmt.Fprintf(out, "  rows examined on Azure: the index days up to today, plus one per point read; every Grants row (%d) for the scan.\n", s.FullScan.RowsExamined)
	fmt.Fprintf(out, "  Azurite evaluates every query over the whole table (due index: %d rows, %d per grant as the handler writes them), so its times do not show that difference.\n",
		s.DueIndexRows, s.DuePerGrant)

	f := r.Footprint
	fmt.Fprintf(out, "\n4. Start-up and footprint\n")
	p("start-up, exec to GET / 200\tmedian %.1f ms\tmin %.1f\tmax %.1f\t(%d starts)\t", r.Startup.MedianMs, r.Startup.MinMs, r.Startup.MaxMs, len(r.Startup.SamplesMs))
	p("peak RSS (VmHWM) after the queue load\t%s\tnow %s\t\t\t", mb(f.PeakRSS), mb(f.RSS))
	p("binary, packaged (-trimpath -s -w)\t%s\t\t\t\t", mb(f.BinaryPackaged))
	p("binary, unstripped (-trimpath)\t%s\t\t\t\t", mb(f.BinaryUnstripped))
	tw.Flush()

	fmt.Fprintf(out, "\nTargets\n")
	for _, t := range r.Targets {
		verdict := "not met"
		if t.Met {
			verdict = "met"
		}
		p("%s\t%s\t%s\t%s\t", t.Name, t.Target, t.Value, verdict)
	}
	tw.Flush()
}
