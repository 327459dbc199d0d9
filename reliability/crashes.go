package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// clearQueues empties the event queues of what earlier scenarios left
// (a handler may schedule follow-ups of its own), so that the host
// delivers only this scenario's messages.
func (s *stack) clearQueues(ctx context.Context) error {
	return testenv.ClearQueues(ctx, s.env.Azurite.ConnectionString, []string{fnInvitationSent, fnGDAPApproved})
}

// pending counts the messages in the event queues, invisible ones (being
// delivered, waiting for a redelivery, scheduled) included.
func (s *stack) pending(ctx context.Context) (int, error) {
	n := 0
	for _, q := range []string{fnInvitationSent, fnGDAPApproved} {
		c, err := azqueue.NewQueueClientFromConnectionString(s.env.Azurite.ConnectionString, q, nil)
		if err != nil {
			return 0, err
		}
		p, err := c.GetProperties(ctx, nil)
		if err != nil {
			return 0, fmt.Errorf("queue %s: %w", q, err)
		}
		if p.ApproximateMessagesCount != nil {
			n += int(*p.ApproximateMessagesCount)
		}
	}
	return n, nil
}

// inFlight is how long after a kill a notification the killed handler
// had already sent may reach its receiver (through the proxy) and be
// recorded there.
const inFlight = 2 * time.Second

// extraCopies counts the copies beyond the first of duplicated
// notifications.
func extraCopies(fs []Finding) int {
	n := 0
	for _, f := range fs {
		n += max(len(f.Arrivals)-1, 0)
	}
	return n
}

// hostLog follows the local host's output: which handler process is
// ready, and how each delivery of a queue message ended.
type hostLog struct {
	// events are the scenario's event ids. A message with another id is
	// one the handler published itself; it is told apart by the event id
	// it starts with ("<event id>/…"), if any.
	events map[string]bool

	mu        sync.Mutex
	pid       int // the handler that is ready, 0 while none is
	readies   int
	delivered int                 // invitation-sent and gdap-approved invocations
	abandoned map[string]int      // event id → abandoned deliveries
	settled   map[string]string   // event id → completed or poisoned
	counts    map[string][]string // event id → outcomes in order
	// record, if set, is told how each delivery of an event ended.
	record func(eventID, outcome string)
}

func newHostLog(events []event) *hostLog {
	l := &hostLog{events: map[string]bool{}, abandoned: map[string]int{}, settled: map[string]string{}, counts: map[string][]string{}}
	for _, e := range events {
		l.events[e.ID] = true
	}
	return l
}

// line reads one line of devhost's output: its own slog JSON lines, not
// the handler's (those are prefixed "[handler] ").
func (l *hostLog) line(line string) {
	if _, ok := handlerLine(line); ok {
		return
	}
	var v struct {
		Msg       string `json:"msg"`
		PID       int    `json:"pid"`
		Function  string `json:"function"`
		Outcome   string `json:"outcome"`
		MessageID string `json:"messageId"`
		Status    int    `json:"status"`
		Error     string `json:"error"`
		Duration  int64  `json:"durationMs"`
	}
	if json.Unmarshal([]byte(line), &v) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch v.Msg {
	case "handler ready":
		l.pid = v.PID
		l.readies++
	case "handler exited; restarting":
		l.pid = 0
	case "invocation":
		if v.Function != fnInvitationSent && v.Function != fnGDAPApproved {
			return
		}
		l.delivered++
		id, outcome := v.MessageID, v.Outcome
		detail := fmt.Sprintf("%s after %d ms", outcome, v.Duration)
		if v.Status != 0 {
			detail += fmt.Sprintf(", status %d", v.Status)
		}
		if v.Error != "" {
			e := v.Error
			if len(e) > 100 {
				e = e[:100] + "…"
			}
			detail += ": " + e
		}
		if !l.events[id] {
			prefix, _, _ := strings.Cut(id, "/")
			if !l.events[prefix] {
				return
			}
			// A follow-up the handler scheduled: it counts in the event's
			// history, not as the event's own message.
			l.counts[prefix] = append(l.counts[prefix], outcome)
			if l.record != nil {
				l.record(prefix, fmt.Sprintf("#%d %s (%s)", len(l.counts[prefix]), detail, id))
			}
			return
		}
		l.counts[id] = append(l.counts[id], outcome)
		if l.record != nil {
			l.record(id, fmt.Sprintf("#%d %s", len(l.counts[id]), detail))
		}
		switch {
		case outcome == "abandoned":
			l.abandoned[id]++
		case outcome == "completed" || outcome == "poisoned":
			l.settled[id] = outcome
		}
	}
}

func (l *hostLog) snapshot() (pid, settled, delivered int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid, len(l.settled), l.delivered
}

// Crashes publishes every event to its storage queue (invitation-sent,
// and gdap-approved for the GDAP share) and lets the local host
// (cmd/devhost) feed them to the handler, killing the handler with SIGKILL
// at random points of the run (once a number of messages drawn from the
// seed are done and the restarted handler has made a drawn number of
// requests); the host restarts it and redelivers what it was doing. Once
// nothing is left in the queues, the final state must be what the events
// lead to without crashes: the same grants active, the same role
// assignments, each notification once. A duplicate notification of an
// event whose delivery a kill cut short, each copy after a kill that
// followed the one before, is reported apart: a kill between sending a
// notification and recording it sent is the one case at-least-once
// delivery may repeat it.
func Crashes(ctx context.Context, env Env, opts Options) (Result, error) {
	start := time.Now()
	s, err := newStack(ctx, env, opts, "crashes", opts.Events, nil)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	res := Result{Name: "crashes", Seed: opts.Seed}

	if err := s.clearQueues(ctx); err != nil {
		return res, err
	}
	log := newHostLog(s.events())
	log.record = s.record
	out := s.output("devhost output")
	out.Watch(log.line)
	dh, err := startDevhost(ctx, env.Bins, s.dir, s.settings, out,
		"-retry-delay", opts.RetryDelay.String(), "-max-delivery-count", strconv.Itoa(opts.MaxDeliveries),
		"-shutdown-timeout", "20s", "-stop-grace", "10s")
	if err != nil {
		return res, err
	}
	defer dh.Stop(40 * time.Second)

	// Kill points: after how many settled messages each kill comes, drawn
	// over the first three fifths of the run, so that work is in flight
	// and the host's growing restart backoff leaves room for every kill;
	// and how many requests the restarted handler has made by then (1 to
	// 80, counted at the proxies): a point in its own work, whatever its
	// speed, and never the moment it is ready, which would only ever cut
	// the same few redeliveries short, a crash loop rather than crashes.
	points := make([]int, opts.Crashes)
	span := max(1, len(s.events())*3/5)
	for i := range points {
		points[i] = 1 + s.rng.IntN(span)
	}
	slices.Sort(points)
	work := make([]int, len(points))
	for i := range work {
		work[i] = 1 + s.rng.IntN(80)
	}

	// Publish from a few goroutines, as producers would; the host starts
	// consuming at once.
	pubErr := make(chan error, 1)
	go func() {
		var once sync.Once
		forEach(ctx, s.events(), 4, func(e event) {
			err := s.queues.Publish(ctx, access.Message{Queue: e.Function, ID: e.ID, Body: e.Body,
				Properties: map[string]any{"grantId": e.GrantID}})
			if err != nil {
				once.Do(func() { pubErr <- fmt.Errorf("publish %s: %w", e.ID, err) })
			}
		})
		close(pubErr)
	}()

	deadline := time.Now().Add(opts.Settle)
	killed := map[int]bool{}
	var kills []time.Time // when each SIGKILL was sent
	next := 0
	// current is the handler last seen ready, and base the proxies'
	// request count then.
	current, base := 0, 0
	lastProgress := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		select {
		case err, ok := <-pubErr:
			if ok && err != nil {
				return res, err
			}
			pubErr = nil
		default:
		}
		pid, settled, _ := log.snapshot()
		if settled >= len(s.events()) && pubErr == nil {
			break
		}
		if pid != 0 && pid != current {
			current, base = pid, s.in.total()
		}
		if next < len(points) && settled >= points[next] && pid != 0 && !killed[pid] && s.in.total()-base >= work[next] {
			if err := killHard(pid); err != nil {
				return res, fmt.Errorf("kill handler %d: %w", pid, err)
			}
			killed[pid] = true
			kills = append(kills, time.Now())
			next++
			res.Kills++
			env.progress("crashes: SIGKILL handler %d after %d settled messages (%d/%d)", pid, settled, res.Kills, opts.Crashes)
		}
		if time.Since(lastProgress) > 10*time.Second {
			lastProgress = time.Now()
			env.progress("crashes: %d/%d messages settled, %d kills", settled, len(s.events()), res.Kills)
		}
		if time.Now().After(deadline) {
			res.Notes = append(res.Notes, fmt.Sprintf("not settled within %s: %d of %d messages completed", opts.Settle, settled, len(s.events())))
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Settled means nothing left to deliver, visible or not: the handler
	// may have scheduled follow-up messages of its own (a design that
	// retries its outbox later would), and their work counts too. Then
	// the host must have been idle for a while.
	for {
		left, err := s.pending(ctx)
		if err != nil {
			return res, err
		}
		_, _, delivered := log.snapshot()
		if left == 0 {
			time.Sleep(2 * time.Second)
			if _, _, again := log.snapshot(); again == delivered {
				break
			}
			continue
		}
		if time.Now().After(deadline) {
			res.Notes = append(res.Notes, fmt.Sprintf("not settled within %s: %d message(s) still in the queues", opts.Settle, left))
			break
		}
		if time.Since(lastProgress) > 10*time.Second {
			lastProgress = time.Now()
			env.progress("crashes: waiting for %d message(s) still in the queues", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	dh.Stop(40 * time.Second)

	log.mu.Lock()
	res.Restarts = log.readies - 1
	d := &deliveries{}
	d.total.Store(int64(log.delivered))
	failed := 0
	for _, n := range log.abandoned {
		failed += n
	}
	d.failed.Store(int64(failed))
	poisoned := 0
	for _, o := range log.settled {
		if o == "poisoned" {
			poisoned++
		}
	}
	d.deadLettered.Store(int64(poisoned))
	interrupted := map[string]bool{}
	for id, n := range log.abandoned {
		interrupted[id] = n > 0
	}
	log.mu.Unlock()

	// A duplicate is a kill's doing when its first copy arrived before a
	// kill and the next after it, for an event whose delivery a kill cut
	// short: the kill fell between sending and recording it sent, and the
	// redelivery sent it again once the claim lapsed. Anything else is a
	// violation.
	explained := func(f Finding) bool {
		if !interrupted[f.Event] {
			return false
		}
		if f.Kind != kindDupNotification {
			return true
		}
		// Every copy after the first needs a kill between it and the one
		// before. A copy the handler had sent when it died may still be on
		// its way through the proxy when the kill is noted, so the one
		// before may be recorded up to inFlight after the kill.
		for i := 1; i < len(f.Arrivals); i++ {
			if !slices.ContainsFunc(kills, func(k time.Time) bool {
				return !f.Arrivals[i-1].After(k.Add(inFlight)) && f.Arrivals[i].After(k)
			}) {
				return false
			}
		}
		return len(f.Arrivals) >= 2
	}
	res, err = s.conclude(ctx, res, start, d, explained)
	if err != nil {
		return res, err
	}
	if n := len(res.CrashDuplicates); n > 0 {
		events := map[string]bool{}
		for _, f := range res.CrashDuplicates {
			events[f.Event] = true
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%d extra copies of %d notification(s) of %d event(s): every copy but the first arrived after a kill that followed the copy before it (the kill fell between sending and recording it sent; the redelivery sent it again once the claim lapsed)",
			extraCopies(res.CrashDuplicates), n, len(events)))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d message(s) had a delivery abandoned (cut short by a kill, or failed) and were delivered again", len(interrupted)))
	if res.Kills < opts.Crashes {
		res.Notes = append(res.Notes, fmt.Sprintf("only %d of %d kills happened before the work was done", res.Kills, opts.Crashes))
	}
	return res, nil
}
