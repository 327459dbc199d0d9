package main

import (
	"context"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
)

// Polling: short while messages come, backing off to pollMax when a queue
// is idle, so that an idle devhost costs Azurite a request a second per
// queue and a busy one waits no more than a few milliseconds.
const (
	pollMin      = 50 * time.Millisecond
	pollMax      = time.Second
	errorBackoff = 5 * time.Second
	// maxReceive is the most messages a storage queue hands out at once.
	maxReceive = 32
	// settleTimeout bounds a delete, abandon, defer or poison.
	settleTimeout = 10 * time.Second
	// defaultMaxDeliveryCount is Service Bus's default, after which a
	// message is dead-lettered.
	defaultMaxDeliveryCount = 10
)

// poller delivers one queue's messages to its function, as the Service Bus
// trigger would: up to maxConcurrent at once, completed on a 2xx answer,
// abandoned otherwise, and dead-lettered (moved to the poison queue) after
// maxDelivery failed deliveries.
type poller struct {
	fn          *function
	queues      *localqueue.Queues
	iv          *invoker
	log         *slog.Logger
	maxDelivery int
	retryDelay  time.Duration
	// lock is how long a received message stays invisible: longer than an
	// invocation may last, since a storage queue has no lock renewal.
	lock time.Duration
	// namespace and clientID fill Metadata.Client, which the host
	// describes its Service Bus client with.
	namespace, clientID string

	sem chan struct{} // one token per invocation in flight
}

func newPoller(fn *function, queues *localqueue.Queues, iv *invoker, log *slog.Logger, maxConcurrent, maxDelivery int, retryDelay time.Duration, namespace string) *poller {
	lock := iv.timeout + time.Minute
	if iv.timeout == 0 {
		lock = 10 * time.Minute
	}
	return &poller{
		fn: fn, queues: queues, iv: iv, log: log.With("function", fn.name, "queue", fn.queue),
		maxDelivery: maxDelivery, retryDelay: retryDelay, lock: min(lock, localqueue.MaxDelay),
		namespace: namespace, clientID: namespace + "-" + hostcall.GUID()[:8],
		sem: make(chan struct{}, maxConcurrent),
	}
}

// run polls until ctx ends. Each message is handled on its own goroutine,
// tracked by inflight, with the work context: invocations outlive the poll
// loop so that shutdown lets them finish.
func (p *poller) run(ctx, work context.Context, inflight *sync.WaitGroup) {
	idle := pollMin
	failing := false
	for {
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	take:
		for n < min(cap(p.sem), maxReceive) {
			select {
			case p.sem <- struct{}{}:
				n++
			default:
				break take
			}
		}
		ds, err := p.queues.Receive(ctx, p.fn.queue, n, p.lock)
		for range n - len(ds) {
			<-p.sem
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				p.log.Error("cannot receive; retrying", "error", err.Error(), "retryInMs", errorBackoff.Milliseconds())
			}
			failing = true
			sleep(ctx, errorBackoff)
			continue
		}
		if failing {
			p.log.Info("receiving again")
			failing = false
		}
		if len(ds) == 0 {
			sleep(ctx, idle)
			idle = min(idle*2, pollMax)
			continue
		}
		idle = pollMin
		for _, d := range ds {
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				defer func() { <-p.sem }()
				p.deliver(work, d)
			}()
		}
	}
}

// deliver settles one received message.
func (p *poller) deliver(ctx context.Context, d localqueue.Delivery) {
	now := time.Now()
	switch {
	case d.DecodeErr != nil:
		// Not an envelope: no function could be handed it, and no retry
		// would change that.
		err := settle(ctx, func(c context.Context) error { return p.queues.Poison(c, d) })
		p.logSettle("poisoned", d, err, "reason", d.DecodeErr.Error())
		return
	case !d.Due(now):
		// A storage queue delays a message by seven days at most: one due
		// later arrives early and waits again, uncounted.
		err := settle(ctx, func(c context.Context) error { return p.queues.Defer(c, d) })
		p.logSettle("deferred", d, err, "messageId", d.Envelope.MessageID, "notBefore", d.Envelope.NotBefore.Format(time.RFC3339))
		return
	case d.DequeueCount > p.maxDelivery:
		// Delivered more often than allowed without being settled (devhost
		// stopped mid-invocation): dead-letter it as Service Bus would.
		err := settle(ctx, func(c context.Context) error { return p.queues.Poison(c, d) })
		p.logSettle("poisoned", d, err, "messageId", d.Envelope.MessageID, "reason", "delivery count over maxDeliveryCount")
		return
	}

	id := hostcall.GUID()
	start := time.Now()
	a, err := p.iv.invoke(ctx, p.fn.name, id, p.envelope(d, now))
	var outcome string
	var settleErr error
	switch {
	case err == nil && a.ok():
		outcome = "completed"
		settleErr = settle(ctx, func(c context.Context) error { return p.queues.Delete(c, d) })
	case d.DequeueCount >= p.maxDelivery:
		outcome = "poisoned"
		settleErr = settle(ctx, func(c context.Context) error { return p.queues.Poison(c, d) })
	default:
		outcome = "abandoned"
		delay := p.retryDelay
		if ctx.Err() != nil {
			delay = 0 // cut short by shutdown: redeliver at once next time
		}
		settleErr = settle(ctx, func(c context.Context) error { _, err := p.queues.Abandon(c, d, delay); return err })
	}
	if settleErr != nil {
		outcome += "; settling failed: " + settleErr.Error()
	}
	p.iv.logInvocation(p.fn.name, "serviceBus", id, outcome, a.status, start, a, err,
		"queue", p.fn.queue, "messageId", d.Envelope.MessageID, "deliveryCount", d.DequeueCount)
}

func (p *poller) logSettle(outcome string, d localqueue.Delivery, err error, attrs ...any) {
	args := append([]any{"outcome", outcome, "queueMessageId", d.QueueMessageID, "deliveryCount", d.DequeueCount}, attrs...)
	if err != nil {
		p.log.Error("message not settled", append(args, "error", err.Error())...)
		return
	}
	level := slog.LevelInfo
	if outcome == "poisoned" {
		level = slog.LevelWarn
	}
	p.log.Log(context.Background(), level, "message "+outcome, args...)
}

// envelope builds the invocation of a Service Bus trigger with
// "dataType": "binary" for delivery d, in the real host's shape.
func (p *poller) envelope(d localqueue.Delivery, now time.Time) []byte {
	return hostcall.Queue(hostcall.QueueArgs{
		Sys:     hostcall.Sys{Function: p.fn.name, Now: now},
		Binding: p.fn.binding, Body: d.Envelope.Body, MessageID: d.Envelope.MessageID,
		DeliveryCount: d.DequeueCount, EnqueuedAt: d.InsertedAt, ExpiresAt: d.ExpiresAt,
		SequenceNumber: sequenceNumber(d), Properties: d.Envelope.Properties,
		Namespace: p.namespace, ClientID: p.clientID,
	})
}

// sequenceNumber stands in for Service Bus's: a storage queue numbers
// nothing, so it is derived from the storage message id, which keeps it
// the same across redeliveries of one message. Unlike Service Bus's, it
// does not grow with enqueue order.
func sequenceNumber(d localqueue.Delivery) int64 {
	h := fnv.New64a()
	h.Write([]byte(d.QueueMessageID))
	return int64(h.Sum64() >> 1)
}

// queueNamespace names the storage account's queue endpoint, host and
// port, as Metadata.Client.FullyQualifiedNamespace.
func queueNamespace(connectionString string) string {
	for _, part := range strings.Split(connectionString, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "QueueEndpoint") {
			if u, err := url.Parse(strings.TrimSpace(v)); err == nil && u.Host != "" {
				return u.Host
			}
		}
	}
	return "localhost"
}

// settle runs a delete, abandon, defer or poison with its own bounded
// context, detached from ctx: when shutdown cuts an invocation short, the
// message must still be abandoned so that it is redelivered promptly.
func settle(ctx context.Context, f func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	return f(c)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
