package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// maxFindings bounds how many findings a result lists; the count of all is
// kept beside them.
const maxFindings = 200

// Result is what one scenario did and found.
type Result struct {
	Name    string  `json:"name"`
	Pass    bool    `json:"pass"`
	Seconds float64 `json:"seconds"`
	Seed    uint64  `json:"seed"`
	// Deliveries counts invocations of the queue functions; Failed those
	// the handler did not answer 2xx (each was delivered again, as Service
	// Bus would); DeadLettered messages that failed every delivery.
	Deliveries   int `json:"deliveries,omitempty"`
	Failed       int `json:"failedDeliveries,omitempty"`
	DeadLettered int `json:"deadLettered,omitempty"`
	// FaultRate and Faults: what the proxies injected.
	FaultRate float64       `json:"faultRate,omitempty"`
	Faults    *FaultFigures `json:"faults,omitempty"`
	// Kills and Restarts: the crash scenario's SIGKILLs and the host's
	// restarts of the handler.
	Kills    int `json:"kills,omitempty"`
	Restarts int `json:"restarts,omitempty"`
	// Tally is the final state beside what the events must have led to.
	Tally *Tally `json:"tally,omitempty"`
	// CrashDuplicates are duplicated notifications (the line counts their
	// extra copies) of events whose delivery
	// a kill interrupted: a kill between sending a notification and
	// recording it sent is the one case where at-least-once delivery may
	// legitimately repeat it. SentNotRecorded are the notifications such a
	// kill left arrived but still unsent in the outbox: the same window,
	// where a later redelivery would send them again. Both are reported,
	// not counted as violations.
	CrashDuplicates []Finding `json:"crashDuplicates,omitempty"`
	SentNotRecorded []Finding `json:"sentNotRecorded,omitempty"`
	// Checks are the hostile scenario's named checks.
	Checks []Check `json:"checks,omitempty"`
	// Secrets is the scan of every output of the scenario.
	Secrets *SecretScan `json:"secrets,omitempty"`
	// Violations are broken invariants (at most maxFindings of them).
	Violations      []Finding `json:"violations,omitempty"`
	ViolationsTotal int       `json:"violationsTotal"`
	// Notes explain figures that need it.
	Notes []string `json:"notes,omitempty"`
}

// Check is one named expectation of the hostile scenario.
type Check struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
}

// finish sets the violations and the verdict.
func (r *Result) finish(start time.Time, findings []Finding) {
	r.Seconds = time.Since(start).Seconds()
	r.ViolationsTotal = len(findings)
	if len(findings) > maxFindings {
		findings = findings[:maxFindings]
	}
	r.Violations = findings
	r.Pass = r.ViolationsTotal == 0
	for _, c := range r.Checks {
		r.Pass = r.Pass && c.Pass
	}
	if r.Secrets != nil && len(r.Secrets.Leaks) > 0 {
		r.Pass = false
	}
}

// Line renders the result on one line: the scenario, its verdict and its
// figures.
func (r Result) Line() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%-10s %s", r.Name, verdict)
	if t := r.Tally; t != nil {
		fmt.Fprintf(&b, " events=%d deliveries=%d failed=%d", t.Events, r.Deliveries, r.Failed)
		if r.DeadLettered > 0 {
			fmt.Fprintf(&b, " deadLettered=%d", r.DeadLettered)
		}
	}
	if r.Faults != nil {
		fmt.Fprintf(&b, " seed=%d faultRate=%.2f faults=%d/%d requests (%s)", r.Seed, r.FaultRate, r.Faults.Injected, r.Faults.Requests, kinds(r.Faults.ByKind))
	}
	if r.Kills > 0 || r.Name == "crashes" {
		fmt.Fprintf(&b, " kills=%d restarts=%d", r.Kills, r.Restarts)
	}
	if t := r.Tally; t != nil {
		fmt.Fprintf(&b, " final=%s changes=%d/%d roles=%d/%d access=%d/%d notifications=%d/%d duplicates=%d losses=%d pendingOutbox=%d",
			kinds(t.FinalStates), t.StateChanges, t.StateChangesWant, t.RoleAssignments, t.RoleAssignmentsWant,
			t.AccessAssignments, t.AccessAssignmentsWant, t.Notifications, t.NotificationsWant, t.Duplicates, t.Losses, t.PendingOutbox)
		if r.Name == "crashes" {
			fmt.Fprintf(&b, " crashDuplicates=%d sentNotRecorded=%d", extraCopies(r.CrashDuplicates), len(r.SentNotRecorded))
		}
		if t.Duplicates > 0 || r.Name == "crashes" {
			seen := kinds(t.SeenTwiceAfterDedupe)
			if seen == "" {
				seen = "0"
			}
			fmt.Fprintf(&b, " seenTwiceAfterDedupe=%s withoutIdempotencyKey=%d", seen, t.WithoutIdempotencyKey)
		}
	}
	if len(r.Checks) > 0 {
		passed := 0
		for _, c := range r.Checks {
			if c.Pass {
				passed++
			}
		}
		fmt.Fprintf(&b, " checks=%d/%d", passed, len(r.Checks))
	}
	if s := r.Secrets; s != nil {
		fmt.Fprintf(&b, " scanned=%d lines+%d mails+%d sinks+%d answers leaks=%d", s.LogLines, s.Mails, s.Sinks, s.Answers, len(s.Leaks))
	}
	fmt.Fprintf(&b, " violations=%d %.1fs", r.ViolationsTotal, r.Seconds)
	return b.String()
}

// kinds renders a count map as "a:1,b:2" in key order.
func kinds(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, ",")
}

// Report is a whole run, as written to results/latest.json.
type Report struct {
	StartedAt time.Time `json:"startedAt"`
	Seconds   float64   `json:"seconds"`
	Pass      bool      `json:"pass"`
	Options   struct {
		Events        int     `json:"events"`
		Seed          uint64  `json:"seed"`
		FaultRate     float64 `json:"faultRate"`
		LatencyMs     int64   `json:"latencyMs"`
		Crashes       int     `json:"crashes"`
		Concurrency   int     `json:"concurrency"`
		MaxDeliveries int     `json:"maxDeliveries"`
		RetryDelayMs  int64   `json:"retryDelayMs"`
		GDAPEvery     int     `json:"gdapEvery"`
	} `json:"options"`
	Machine   string   `json:"machine"`
	Scenarios []Result `json:"scenarios"`
}

// NewReport starts a report for opts.
func NewReport(opts Options, machine string) *Report {
	r := &Report{StartedAt: time.Now().UTC(), Machine: machine, Pass: true}
	o := &r.Options
	o.Events, o.Seed, o.FaultRate, o.Crashes = opts.Events, opts.Seed, opts.FaultRate, opts.Crashes
	o.LatencyMs, o.RetryDelayMs = opts.Latency.Milliseconds(), opts.RetryDelay.Milliseconds()
	o.Concurrency, o.MaxDeliveries, o.GDAPEvery = opts.Concurrency, opts.MaxDeliveries, opts.GDAPEvery
	return r
}

// Add records a scenario's result.
func (r *Report) Add(res Result) {
	r.Scenarios = append(r.Scenarios, res)
	r.Pass = r.Pass && res.Pass
	r.Seconds = time.Since(r.StartedAt).Seconds()
}

// WriteReport writes the report as indented JSON, creating its folder.
func WriteReport(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
