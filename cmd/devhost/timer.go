package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
)

// pastDueSlack is how late an occurrence may fire and still not be past
// due: a timer wakes a few milliseconds late; a machine that slept, or an
// invocation that overran the next occurrence, makes it much later.
const pastDueSlack = time.Second

// timerRunner fires a timer function at each occurrence of its NCRONTAB
// schedule, in UTC as the host does unless told otherwise, and on demand.
type timerRunner struct {
	fn  *function
	iv  *invoker
	log *slog.Logger

	// run serialises invocations: the host holds a singleton lock per
	// timer function, so a run never overlaps the previous one.
	run sync.Mutex

	mu sync.Mutex
	// status is what the host's schedule monitor would have recorded
	// after the last scheduled run; nil before the first, which the
	// invocation shows as "ScheduleStatus": null.
	status *scheduleStatus
}

type scheduleStatus struct {
	last, lastUpdated time.Time
}

func newTimerRunner(fn *function, iv *invoker, log *slog.Logger) *timerRunner {
	return &timerRunner{fn: fn, iv: iv, log: log.With("function", fn.name)}
}

// loop fires the schedule's occurrences until ctx ends. Invocations run
// with the work context and are tracked by inflight, so that shutdown lets
// a running one finish.
func (t *timerRunner) loop(ctx, work context.Context, inflight *sync.WaitGroup) {
	fire := func(occurrence time.Time, pastDue bool, trigger string) {
		inflight.Add(1)
		defer inflight.Done()
		t.fire(work, occurrence, pastDue, true, trigger)
	}
	if t.fn.runOnStartup {
		fire(time.Now().UTC(), false, "runOnStartup")
	}
	next := t.fn.schedule.Next(time.Now().UTC())
	t.log.Info("timer scheduled", "schedule", t.fn.scheduleText, "next", next.Format(time.RFC3339))
	for {
		wait := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		occurrence := next
		late := time.Since(occurrence) > pastDueSlack
		fire(occurrence, late, "schedule")
		now := time.Now().UTC()
		next = t.fn.schedule.Next(occurrence)
		// A run that overran one or more occurrences is followed by one
		// past-due run at once, not by one per missed occurrence, as the
		// host does; after that the schedule resumes from now.
		if late && next.Before(now) {
			next = t.fn.schedule.Next(now)
		}
	}
}

// fire invokes the function once for occurrence. A scheduled run records
// the schedule status the next run will see; an on-demand run (from the
// admin endpoint) shows the current one and leaves it as it is.
func (t *timerRunner) fire(ctx context.Context, occurrence time.Time, pastDue, scheduled bool, trigger string) {
	t.run.Lock()
	defer t.run.Unlock()

	now := time.Now()
	t.mu.Lock()
	status := t.status
	t.mu.Unlock()

	id := hostcall.GUID()
	a, err := t.iv.invoke(ctx, t.fn.name, id, timerEnvelope(t.fn, status, occurrence, pastDue, now))
	outcome := "succeeded"
	if err != nil || !a.ok() {
		// The host does not retry a failed timer run: the next
		// occurrence is the retry.
		outcome = "failed"
	}
	t.iv.logInvocation(t.fn.name, "timer", id, outcome, a.status, now, a, err,
		"occurrence", occurrence.UTC().Format(time.RFC3339), "by", trigger, "isPastDue", pastDue)

	if scheduled {
		t.mu.Lock()
		t.status = &scheduleStatus{last: occurrence.UTC(), lastUpdated: time.Now().UTC()}
		t.mu.Unlock()
	}
}

// timerEnvelope builds a timerTrigger invocation in the real host's shape.
// ScheduleStatus is null without a recorded status (the first run); else
// Last is the previous run's occurrence and Next the one after this.
func timerEnvelope(fn *function, st *scheduleStatus, occurrence time.Time, pastDue bool, now time.Time) []byte {
	t := hostcall.TimerArgs{Sys: hostcall.Sys{Function: fn.name, Now: now}, Binding: fn.binding, PastDue: pastDue}
	if st != nil {
		t.Status = &hostcall.ScheduleStatus{Last: st.last, Next: fn.schedule.Next(occurrence.UTC()), LastUpdated: st.lastUpdated}
	}
	return hostcall.Timer(t)
}
