package reliability

import (
	"fmt"
	"time"
)

// Options size the scenarios. Full is `make reliability`; the package's
// tests use Small.
type Options struct {
	// Events is how many events each queue scenario processes.
	Events int
	// Seed seeds every PRNG: the workload's ids, the order of copies, the
	// faults drawn and the crash points. The same seed draws the same
	// sequence; which request meets which draw still depends on timing.
	Seed uint64
	// FaultRate is the share of requests the proxies break in the faults
	// scenario (0..1).
	FaultRate float64
	// Latency is how long a slow request is held before it is forwarded.
	Latency time.Duration
	// Crashes is how many times the crash scenario kills the handler.
	Crashes int
	// Concurrency is how many events are in flight at once; the host's
	// maxConcurrentCalls is 16.
	Concurrency int
	// MaxDeliveries is Service Bus's maxDeliveryCount: a message failing
	// this many deliveries is dead-lettered.
	MaxDeliveries int
	// RetryDelay is how long a failed delivery waits before the next.
	RetryDelay time.Duration
	// GDAPEvery makes every n-th event a gdap-approved event for a seeded
	// active relationship (0: none); the others are invitation-sent.
	GDAPEvery int
	// Settle bounds how long a scenario waits for its work to finish
	// before it reports what is missing.
	Settle time.Duration
	// ReplicationDelay and ActivationDelay are how long, in the delays
	// scenario, a new guest stays invisible and an approved GDAP
	// relationship takes to become active.
	ReplicationDelay, ActivationDelay time.Duration
}

// Full is the size of `make reliability`.
func Full() Options {
	return Options{
		Events: 500, Seed: 20261127, FaultRate: 0.10, Latency: 2 * time.Second, Crashes: 10,
		Concurrency: 16, MaxDeliveries: 10, RetryDelay: 250 * time.Millisecond, GDAPEvery: 10,
		Settle: 6 * time.Minute, ReplicationDelay: 20 * time.Second, ActivationDelay: 45 * time.Second,
	}
}

// Small is the bounded version that runs inside `go test`: the same
// scenarios and invariants on a few events.
func Small() Options {
	o := Full()
	o.Events, o.FaultRate, o.Crashes, o.GDAPEvery = 20, 0.20, 2, 5
	// Every event in flight at once: a few events spend most of their time
	// waiting out injected latency and retry delays, not working.
	o.Concurrency = o.Events
	// Long enough for a handler that finishes a crashed delivery's
	// notifications once their claim lapses (2 minutes).
	o.Settle = 4 * time.Minute
	return o
}

// Check refuses options that cannot run.
func (o Options) Check() error {
	switch {
	case o.Events < 1:
		return fmt.Errorf("events %d: want at least 1", o.Events)
	case o.FaultRate < 0 || o.FaultRate > 1:
		return fmt.Errorf("fault rate %v: want 0..1", o.FaultRate)
	case o.Crashes < 0:
		return fmt.Errorf("crashes %d: want 0 or more", o.Crashes)
	case o.Concurrency < 1:
		return fmt.Errorf("concurrency %d: want at least 1", o.Concurrency)
	case o.MaxDeliveries < 1:
		return fmt.Errorf("max deliveries %d: want at least 1", o.MaxDeliveries)
	case o.RetryDelay < 0 || o.Latency < 0 || o.ReplicationDelay < 0 || o.ActivationDelay < 0:
		return fmt.Errorf("retry delay and latency must not be negative")
	case o.GDAPEvery < 0:
		return fmt.Errorf("gdap-every %d: want 0 or more", o.GDAPEvery)
	case o.Settle <= 0:
		return fmt.Errorf("settle %s: want a positive duration", o.Settle)
	}
	return nil
}
