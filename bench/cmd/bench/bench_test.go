package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the whole benchmark with tiny counts and checks that
// every figure is present and consistent with the work asked for. It
// compares no time with a threshold: a benchmark reports times, it does not
// judge them.
func TestQuickRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "latest.json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // builds the handler: minutes on a cold cache
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-events", "20", "-grants", "200", "-starts", "3", "-out", out}
	if err := run(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r results
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("results file: %v", err)
	}

	if len(r.Queue) != 2 {
		t.Fatalf("queue results: got %d event types, want 2", len(r.Queue))
	}
	for _, q := range r.Queue {
		for name, l := range map[string]latency{"handler": q.Handler, "floor": q.Floor} {
			if l.N != 20 || l.PerSec <= 0 || l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.Concurrency != 16 {
				t.Errorf("%s %s: got %+v, want 20 timed events at concurrency 16 with positive rate and p99 >= p50", q.Event, name, l)
			}
		}
		if q.Outcomes["processed"] != 20 || len(q.Outcomes) != 1 {
			t.Errorf("%s outcomes: got %v, want 20 processed", q.Event, q.Outcomes)
		}
		if q.PerEvent.Table < 1 || q.PerEvent.Queue <= 0 || q.PerEvent.Graph < 1 {
			t.Errorf("%s round trips per event: got %+v, want table, queue and Graph requests counted", q.Event, q.PerEvent)
		}
		// The floor is exactly one point read and one transaction, and in
		// Graph the event's required read and write plus two notifications:
		// the proxies' count of it checks the counting.
		if q.FloorPerEvent.Table != 2 || q.FloorPerEvent.Graph != 4 {
			t.Errorf("%s floor: got %.2f table and %.2f Graph requests per event, want 2 and 4", q.Event, q.FloorPerEvent.Table, q.FloorPerEvent.Graph)
		}
		if want := append(append([]string{}, requiredGraph[q.Event]...), notifyOp, notifyOp); !slices.Equal(q.FloorGraph, want) {
			t.Errorf("%s floor Graph requests: got %v, want %v", q.Event, q.FloorGraph, want)
		}
		if q.FloorGraphOps[notifyOp] != 2 {
			t.Errorf("%s floor: got %.2f notifications per event, want 2", q.Event, q.FloorGraphOps[notifyOp])
		}
		// Every request the handler makes beyond the floor says why it
		// cannot be avoided.
		for _, b := range q.BeyondFloor {
			if b.Why == "" || b.PerEvent <= 0 {
				t.Errorf("%s: %s %s %.2f per event beyond the floor, unexplained", q.Event, b.Service, b.Op, b.PerEvent)
			}
		}
		if !strings.Contains(q.CommitShape, "insert") || q.FloorShape.Ops < 2 || q.FloorShape.BatchBytes <= 0 {
			t.Errorf("%s commit: got %q %+v, want the handler's inserting transaction with its size", q.Event, q.CommitShape, q.FloorShape)
		}
		if q.ThroughputRatio <= 0 || (runtime.GOOS == "linux" && q.HandlerCPUMs <= 0) {
			t.Errorf("%s: got ratio %.2f and %.2f handler CPU ms per event, want both", q.Event, q.ThroughputRatio, q.HandlerCPUMs)
		}
	}
	if r.All.Handler.N != 40 || r.All.Floor.N != 40 {
		t.Errorf("all events: got %d handler and %d floor samples, want 40 each", r.All.Handler.N, r.All.Floor.N)
	}

	s := r.Sweep
	if s.Grants != 200 || s.DueGrants != 2 || s.IndexEntriesRead != 2 || s.Published != 2 || s.Drift != 0 {
		t.Errorf("sweep: got %d grants, %d due, read %d, published %d, drift %d; want 200, 2, 2, 2, 0",
			s.Grants, s.DueGrants, s.IndexEntriesRead, s.Published, s.Drift)
	}
	if s.EntitiesFetched < s.DueGrants || s.EntitiesPerDueGrant <= 0 || s.DurationMs <= 0 || s.IndexRowsInRange < s.DueGrants {
		t.Errorf("sweep: got %d entities fetched (%.2f per due grant) in %.1f ms, %d index rows in range; want at least one per due grant",
			s.EntitiesFetched, s.EntitiesPerDueGrant, s.DurationMs, s.IndexRowsInRange)
	}
	if s.IndexQuery.Entities != 2 || s.IndexQuery.Requests < 1 {
		t.Errorf("due-index query: got %+v, want the 2 due entries", s.IndexQuery)
	}
	if s.FullScan.Matches != 2 || s.FullScan.RowsExamined != 600 || s.FullScan.Requests < 1 || s.FullScan.DurationMs <= 0 {
		t.Errorf("full scan: got %+v, want 2 matches among 600 rows", s.FullScan)
	}

	if len(r.Startup.SamplesMs) != 3 || r.Startup.MedianMs <= 0 || r.Startup.MinMs > r.Startup.MaxMs {
		t.Errorf("start-up: got %+v, want 3 positive samples", r.Startup)
	}
	f := r.Footprint
	if f.BinaryPackaged <= 0 || f.BinaryUnstripped <= f.BinaryPackaged {
		t.Errorf("binary sizes: got packaged %d, unstripped %d; want both, the stripped one smaller", f.BinaryPackaged, f.BinaryUnstripped)
	}
	if runtime.GOOS == "linux" && (f.PeakRSS <= 0 || f.PeakRSS < f.RSS) {
		t.Errorf("memory: got peak %d, current %d; want a peak at least the current size", f.PeakRSS, f.RSS)
	}
	if len(r.Targets) != 7 {
		t.Errorf("targets: got %d, want 7", len(r.Targets))
	}
	for _, heading := range []string{"1. Queue throughput", "2. Round trips", "3. Sweep", "4. Start-up", "Targets"} {
		if !strings.Contains(stdout.String(), heading) {
			t.Errorf("table: no %q section in\n%s", heading, stdout.String())
		}
	}
}

// TestClassify checks how the proxy names requests, on the shapes the
// Azure SDKs send.
func TestClassify(t *testing.T) {
	batch := "--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n" +
		"--changeset_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"POST http://127.0.0.1:1/devstoreaccount1/Grants HTTP/1.1\r\nAccept: application/json\r\n\r\n{}\r\n" +
		"--changeset_1\r\nContent-Type: application/http\r\n\r\n" +
		"PUT http://127.0.0.1:1/devstoreaccount1/Grants(PartitionKey='a',RowKey='grant%7Cb') HTTP/1.1\r\nIf-Match: *\r\n\r\n{}\r\n" +
		"--changeset_1\r\nContent-Type: application/http\r\n\r\n" +
		"POST http://127.0.0.1:1/devstoreaccount1/Grants HTTP/1.1\r\n\r\n{}\r\n--changeset_1--\r\n--batch_1--\r\n"
	for _, c := range []struct {
		cls    classifier
		method string
		url    string
		body   string
		want   request
	}{
		{tableClassifier, "POST", "/devstoreaccount1/$batch", batch, request{op: "Grants batch", batch: "Grants: 2 insert, 1 replace", ops: 3}},
		{tableClassifier, "GET", "/devstoreaccount1/Grants(PartitionKey='a',RowKey='event%7Cx')", "", request{op: "Grants point read", point: true}},
		{tableClassifier, "GET", "/devstoreaccount1/DueIndex()?$filter=PartitionKey%20le%20'2026-11-27'", "", request{op: "DueIndex query", query: true}},
		{tableClassifier, "PUT", "/devstoreaccount1/DueIndex(PartitionKey='2026-12-27',RowKey='x')", "", request{op: "DueIndex upsert"}},
		{tableClassifier, "POST", "/devstoreaccount1/Tables", "", request{op: "create table"}},
		{queueClassifier, "POST", "/devstoreaccount1/grant-expiring/messages?visibilitytimeout=60", "", request{op: "enqueue grant-expiring"}},
		{queueClassifier, "PUT", "/devstoreaccount1/grant-expiring", "", request{op: "create queue"}},
		{graphClassifier, "GET", "/v1.0/users/0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b", "", request{op: "GET /users/{id}"}},
		{graphClassifier, "POST", "/v1.0/users/copilot-access@fabrikam.example/sendMail", "", request{op: "POST /users/{id}/sendMail"}},
		{graphClassifier, "GET", "/v1.0/roleManagement/directory/roleAssignments?$filter=x", "", request{op: "GET /roleManagement/directory/roleAssignments"}},
	} {
		r := httptest.NewRequest(c.method, c.url, nil)
		if got := c.cls.op(r, []byte(c.body)); got != c.want {
			t.Errorf("%s %s: got %+v, want %+v", c.method, c.url, got, c.want)
		}
	}
}
