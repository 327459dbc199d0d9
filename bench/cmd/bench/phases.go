package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
)

// queueResult is one event type through the handler, beside the floor.
type queueResult struct {
	Event   string  `json:"event"`
	Handler latency `json:"handler"`
	Floor   latency `json:"floor"`
	// ThroughputRatio is handler events per second over the floor's.
	ThroughputRatio float64 `json:"throughputRatio"`
	// CommitShape is the handler's state-change transaction, which the
	// floor copies (operations and body size).
	CommitShape string     `json:"commitShape"`
	FloorShape  floorShape `json:"floorShape"`
	// Requests per event, counted at the proxies.
	PerEvent      roundTrips `json:"perEvent"`
	FloorPerEvent roundTrips `json:"floorPerEvent"`
	// FloorGraph is the floor's Graph requests of one event, in order;
	// FloorTableOps and FloorGraphOps its requests per event, by operation.
	FloorGraph    []string           `json:"floorGraph"`
	FloorTableOps map[string]float64 `json:"floorTableOpsPerEvent"`
	FloorGraphOps map[string]float64 `json:"floorGraphOpsPerEvent"`
	// BeyondFloor is every request the handler makes that the floor does
	// not, per event, with why it cannot be avoided.
	BeyondFloor []beyond           `json:"beyondFloor"`
	TableOps    map[string]float64 `json:"tableOpsPerEvent"`
	QueueOps    map[string]float64 `json:"queueOpsPerEvent"`
	GraphOps    map[string]float64 `json:"graphOpsPerEvent"`
	Batches     map[string]float64 `json:"batchesPerEvent"`
	Outcomes    map[string]int     `json:"outcomes"`
	// Undelivered counts requests the proxies could not pass on (and the
	// clients retried); each adds one to the counts above.
	Undelivered int `json:"undelivered"`
	// PeakRSS is the VmHWM of the handler process that took these events.
	PeakRSS int64 `json:"peakRssBytes"`
	// HandlerCPUMs is the handler process's CPU time (user + system) per
	// event: its own work, apart from the services it waits for.
	HandlerCPUMs float64 `json:"handlerCpuMsPerEvent"`
}

// roundTrips are requests per event by service.
type roundTrips struct {
	Table float64 `json:"table"`
	Queue float64 `json:"queue"`
	Graph float64 `json:"graph"`
}

// queuePhase times the handler's start-up, then measures each event type
// through its own handler process, beside the floor. Each event type gets a
// fresh Azurite: the emulator slows down as its tables grow, and the second
// type would otherwise pay for the rows the first one left.
func queuePhase(ctx context.Context, o options, w *workload, bins binaries, graph *graphServer, graphProxy *countingProxy, res *results, progress func(string, ...any)) error {
	for i, fn := range []string{fnInvitationSent, fnGDAPApproved} {
		progress("starting a fresh Azurite for %s", fn)
		st, err := startStorage()
		if err != nil {
			return err
		}
		if i == 0 {
			err = timeStarts(ctx, o, bins, st, graph, res, progress)
		}
		if err == nil {
			err = queueEvents(ctx, o, w, bins, st, graph, graphProxy, fn, res, progress)
		}
		st.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// timeStarts starts and stops the handler o.starts times. It talks
// straight to Azurite and the simulator, as in production, where nothing
// stands between the handler and its services.
func timeStarts(ctx context.Context, o options, bins binaries, st *storage, graph *graphServer, res *results, progress func(string, ...any)) error {
	progress("timing %d starts", o.starts)
	for range o.starts {
		h, d, err := startHandler(ctx, bins.Run, handlerEnv(st.direct(), graph.URL), o.poll)
		if err != nil {
			return err
		}
		h.stop()
		res.Startup.SamplesMs = append(res.Startup.SamplesMs, ms(d))
	}
	return nil
}

// queueEvents measures one event type: a warm-up, then the floor and the
// handler taking turns, then the handler's memory.
func queueEvents(ctx context.Context, o options, w *workload, bins binaries, st *storage, graph *graphServer, graphProxy *countingProxy, fn string, res *results, progress func(string, ...any)) error {
	h, _, err := startHandler(ctx, bins.Run, handlerEnv(st.proxied(), graphProxy.URL), o.poll)
	if err != nil {
		return err
	}
	defer h.stop()
	svc, err := aztables.NewServiceClientFromConnectionString(st.proxied(), nil)
	if err != nil {
		return err
	}
	grants := svc.NewClient(tablestore.TableGrants)

	r := queueResult{Event: fn, Outcomes: map[string]int{}}

	// Warm-up: connections, queue creation, and the commit's shape,
	// which the floor copies.
	progress("%s: %d warm-up invocations", fn, o.warmup)
	warm := envelopes(w.events(fn, 0, w.warm))
	before := st.tables.snapshot()
	if _, err := invokeAll(ctx, h, fn, warm[:len(warm)-1], o.concurrency, map[string]int{}); err != nil {
		return err
	}
	// The last warm-up event alone, its Graph requests recorded whole:
	// the floor replays those the contract requires.
	graphProxy.record()
	_, err = invokeAll(ctx, h, fn, warm[len(warm)-1:], 1, map[string]int{})
	recorded := graphProxy.stopRecording()
	if err != nil {
		return err
	}
	last := w.warm - 1
	recID, recTenant := w.guests[last].id, w.guests[last].tenant
	subject := func(i int) (string, string) { return w.floorGuests[i].id, w.floorGuests[i].tenant }
	if fn == fnGDAPApproved {
		recID, recTenant = w.rels[last].id, testenv.PartnerTenant
		subject = func(i int) (string, string) { return w.floorRels[i].id, testenv.PartnerTenant }
	}
	fg, err := newFloorGraph(fn, graphProxy.URL, recorded, recID, recTenant)
	if err != nil {
		return err
	}
	r.FloorGraph = ops(slices.Concat(fg.before, fg.after))
	shape, commit, ok := commitShape(st.tables.snapshot().minus(before))
	if !ok {
		return fmt.Errorf("%s: the warm-up committed no transaction", fn)
	}
	r.CommitShape = shape
	r.FloorShape = floorShape{Ops: commit.Ops / commit.N, BatchBytes: commit.Bytes / commit.N}

	if r.FloorShape.PadBytes, err = calibrateFloor(ctx, grants, st.tables, w.customers[0], fn, r.FloorShape.Ops, r.FloorShape.BatchBytes); err != nil {
		return err
	}
	measured := envelopes(w.events(fn, w.warm, w.warm+o.events))
	// Floor and handler take turns, in rounds, so that both meet the
	// same table sizes (Azurite slows down as its tables grow) and the
	// same load from whatever else runs on the machine.
	rounds := max(1, min(o.rounds, o.events/o.concurrency))
	progress("%s: floor and handler, %d events each in %d rounds", fn, o.events, rounds)
	var floorRuns, handlerRuns []latency
	var cpu time.Duration
	var cpuErr error
	floorCounts, floorGraphCounts, tc, qc, gc := newCounts(), newCounts(), newCounts(), newCounts(), newCounts()
	for k := range rounds {
		from, to := k*o.events/rounds, (k+1)*o.events/rounds
		t0, fg0 := st.tables.snapshot(), graphProxy.snapshot()
		l, err := runFloor(ctx, grants, fg, subject, fn, w.customers, from+w.warm, to+w.warm, o.concurrency, r.FloorShape)
		if err != nil {
			return err
		}
		floorRuns, floorCounts = append(floorRuns, l), floorCounts.plus(st.tables.snapshot().minus(t0))
		floorGraphCounts = floorGraphCounts.plus(graphProxy.snapshot().minus(fg0))

		t0, q0, g0, s0 := st.tables.snapshot(), st.queues.snapshot(), graphProxy.snapshot(), graph.sim.State().Requests.Total
		c0, err0 := h.cpu()
		if l, err = invokeAll(ctx, h, fn, measured[from:to], o.concurrency, r.Outcomes); err != nil {
			return err
		}
		c1, err1 := h.cpu()
		cpu, cpuErr = cpu+c1-c0, errors.Join(cpuErr, err0, err1)
		handlerRuns = append(handlerRuns, l)
		g := graphProxy.snapshot().minus(g0)
		if served := graph.sim.State().Requests.Total - s0; served != g.Requests {
			return fmt.Errorf("%s: the Graph proxy counted %d requests, the simulator served %d", fn, g.Requests, served)
		}
		tc, qc, gc = tc.plus(st.tables.snapshot().minus(t0)), qc.plus(st.queues.snapshot().minus(q0)), gc.plus(g)
	}
	r.Floor, r.Handler = merge(floorRuns...), merge(handlerRuns...)
	r.FloorPerEvent = roundTrips{Table: float64(floorCounts.Requests) / float64(o.events), Graph: float64(floorGraphCounts.Requests) / float64(o.events)}
	r.FloorTableOps, r.FloorGraphOps = floorCounts.perEvent(o.events), floorGraphCounts.perEvent(o.events)
	for name, c := range map[string]counts{"floor table": floorCounts, "floor graph": floorGraphCounts, "table": tc, "queue": qc, "graph": gc} {
		if n := c.refused(); n > 0 {
			return fmt.Errorf("%s: %d %s requests refused through the proxy (signature?): %v", fn, n, name, c.Status)
		}
		r.Undelivered += c.undelivered()
	}
	n := float64(o.events)
	if cpuErr == nil {
		r.HandlerCPUMs = ms(cpu) / n
	}
	r.PerEvent = roundTrips{Table: float64(tc.Requests) / n, Queue: float64(qc.Requests) / n, Graph: float64(gc.Requests) / n}
	r.TableOps, r.QueueOps, r.GraphOps = tc.perEvent(o.events), qc.perEvent(o.events), gc.perEvent(o.events)
	r.Batches = map[string]float64{}
	for shape, b := range tc.Batches {
		r.Batches[shape] = float64(b.N) / n
	}
	if r.Floor.PerSec > 0 {
		r.ThroughputRatio = r.Handler.PerSec / r.Floor.PerSec
	}
	r.BeyondFloor = beyondFloor(r)
	// The peak over the process's life: start, warm-up and all
	// the measured events.
	peak, current, err := h.memory()
	if err != nil {
		res.Footprint.MemoryNote = err.Error()
	}
	r.PeakRSS = peak
	if peak > res.Footprint.PeakRSS {
		res.Footprint.PeakRSS, res.Footprint.RSS = peak, current
	}
	res.Queue = append(res.Queue, r)
	return nil
}

// envelopes renders events in the host's Service Bus shape, before any
// timing starts.
func envelopes(evs []event) [][]byte {
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = queueEnvelope(e)
	}
	return out
}

// invokeAll sends the envelopes to function at the given concurrency and
// counts the outcomes the handler reports. Anything but a processed event
// stops the run: the figures would not be those of the work described.
func invokeAll(ctx context.Context, h *handlerProc, function string, envs [][]byte, concurrency int, outcomes map[string]int) (latency, error) {
	got := make([]string, len(envs))
	l, err := drive(ctx, len(envs), concurrency, func(ctx context.Context, i int) error {
		status, logs, err := h.invoke(ctx, function, envs[i])
		if err != nil {
			return err
		}
		outcome := ""
		if len(logs) > 0 {
			last := logs[len(logs)-1]
			outcome = last[strings.LastIndex(last, ": ")+2:]
		}
		got[i] = outcome
		if status != http.StatusOK || outcome != "processed" {
			return fmt.Errorf("%s answered %d, outcome %q: %v\nhandler log: %s", function, status, outcome, logs, h.logTail())
		}
		return nil
	})
	for _, o := range got {
		if o != "" {
			outcomes[o]++
		}
	}
	return l, err
}

// sweepPhase seeds a fresh Azurite with the sweep's data set, invokes the
// handler's expiry-sweep once, and runs a full-table scan over the same
// data.
func sweepPhase(ctx context.Context, o options, w *workload, bins binaries, graph *graphServer, graphProxy *countingProxy, res *results, progress func(string, ...any)) error {
	progress("starting a fresh Azurite for the sweep phase")
	st, err := startStorage()
	if err != nil {
		return err
	}
	defer st.close()
	// Seeding goes straight to Azurite: it is set-up, not measured.
	store, err := tablestore.New(ctx, tablestore.Options{ConnectionString: st.direct()})
	if err != nil {
		return err
	}
	direct, err := aztables.NewServiceClientFromConnectionString(st.direct(), nil)
	if err != nil {
		return err
	}
	// As many due-index entries per grant as the handler wrote per
	// activation.
	perGrant := 1
	if len(res.Queue) > 0 {
		perGrant = max(1, int(math.Round(res.Queue[0].TableOps[tablestore.TableDueIndex+" upsert"])))
	}
	progress("seeding %d grants (%d due), %d due-index entries each", len(w.sweep.grants), w.sweep.due, perGrant)
	t := time.Now()
	rows, dueEntries, err := seedSweep(ctx, store, direct.NewClient(tablestore.TableDueIndex), w.sweep, perGrant, 2*o.concurrency)
	if err != nil {
		return err
	}
	seedSecs := time.Since(t).Seconds()

	h, _, err := startHandler(ctx, bins.Run, handlerEnv(st.proxied(), graphProxy.URL), o.poll)
	if err != nil {
		return err
	}
	defer h.stop()
	progress("sweeping")
	r, err := runSweep(ctx, h, st, graphProxy)
	if err != nil {
		return err
	}
	r.Grants, r.DueGrants, r.SeedSecs, r.DueIndexRows, r.DuePerGrant = len(w.sweep.grants), w.sweep.due, seedSecs, dueEntries, perGrant
	if r.DueGrants > 0 {
		r.EntitiesPerDueGrant = float64(r.EntitiesFetched) / float64(r.DueGrants)
	}

	progress("due-index query and full-table scan")
	indexStore, err := tablestore.New(ctx, tablestore.Options{ConnectionString: st.proxied()})
	if err != nil {
		return err
	}
	if r.IndexQuery, err = indexQuery(ctx, indexStore, st.tables); err != nil {
		return err
	}
	proxied, err := aztables.NewServiceClientFromConnectionString(st.proxied(), nil)
	if err != nil {
		return err
	}
	if r.FullScan, err = fullScan(ctx, proxied.NewClient(tablestore.TableGrants), st.tables, w.sweep.cutoff); err != nil {
		return err
	}
	if r.FullScan.Matches != w.sweep.due {
		return fmt.Errorf("full scan found %d grants expiring before %s, want the %d due ones", r.FullScan.Matches, w.sweep.cutoff, w.sweep.due)
	}

	// Bookkeeping after the timings: how many rows each query covers.
	if r.FullScan.RowsExamined, err = countRows(ctx, direct.NewClient(tablestore.TableGrants), ""); err != nil {
		return err
	}
	if r.FullScan.RowsExamined != rows {
		return fmt.Errorf("Grants holds %d rows, the seed wrote %d", r.FullScan.RowsExamined, rows)
	}
	if r.IndexRowsInRange, err = countRows(ctx, direct.NewClient(tablestore.TableDueIndex), dayFilter(time.Now())); err != nil {
		return err
	}
	r.RowsExamined = r.IndexRowsInRange + r.Table.ByOp[tablestore.TableGrants+" point read"]
	res.Sweep = r
	return nil
}
