// Package localqueue is the consumer side of the storage queues that
// stand in for Service Bus in local runs and tests (DESIGN.md section 8):
// what the local host (cmd/devhost) does with them, as the Service Bus
// trigger would, and what tests, the benchmark and the reliability
// harness use to watch them. The product only ever publishes; it does so
// through shared/servicebus, whose local backend writes the envelopes
// (servicebus.EncodeLocal) that this package reads back
// (servicebus.DecodeLocal).
//
// Receive takes messages and hides them while they are worked on; Delete
// completes one, Abandon makes it visible again after a delay (the next
// Receive counts one more delivery), Defer puts back one that arrived
// before its envelope's notBefore (a storage queue delays a message by
// seven days at most, so one due later arrives early), and Poison moves
// one to "<queue>-poison", as the Functions host's storage queue trigger
// names it, text unchanged. Peek looks without taking.
package localqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
)

// MaxDelay is the longest a message is kept invisible by Receive, Abandon
// and Defer: the publisher's own limit, within the seven days storage
// queues allow.
const MaxDelay = servicebus.MaxLocalDelay

// maxReceive is the most messages one Get Messages call returns.
const maxReceive = 32

// PoisonQueue names the queue that receives a queue's messages that
// failed too often or could not be decoded.
func PoisonQueue(queue string) string { return queue + "-poison" }

// Options configures Queues; nil means defaults.
type Options struct {
	// Queues are the queues that may be used; nil means the three of the
	// contract (servicebus.Queues). Each has a poison queue beside it,
	// which may be named here too, to be read.
	Queues []string
	// Clock returns the current time; nil means time.Now. It decides when
	// a published or deferred message is due.
	Clock func() time.Time
}

// Queues is a set of local queues, on Azurite: it publishes as the app
// does, through a servicebus.Publisher, and consumes as the Functions host
// would. Queues and their poison queues are created on first use. It is
// safe for concurrent use.
type Queues struct {
	*servicebus.Publisher
	svc    *azqueue.ServiceClient
	queues map[string]bool
	now    func() time.Time

	mu    sync.Mutex
	ready map[string]bool // queues known to exist, with their poison queue
}

// New connects to the storage queues of connectionString, a full
// connection string with a QueueEndpoint (Azurite's). It does no network
// I/O, and refuses what servicebus.New refuses.
func New(connectionString string, opts *Options) (*Queues, error) {
	if opts == nil {
		opts = &Options{}
	}
	pub, err := servicebus.New(servicebus.Options{LocalQueuesConnectionString: connectionString, Queues: opts.Queues, Clock: opts.Clock})
	if err != nil {
		return nil, err
	}
	// Azurite is local: when it is down, fail in about a second.
	svc, err := azqueue.NewServiceClientFromConnectionString(connectionString, &azqueue.ClientOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second}},
	})
	if err != nil {
		return nil, fmt.Errorf("localqueue: connection string: %w", err)
	}
	names := opts.Queues
	if names == nil {
		names = servicebus.Queues
	}
	q := &Queues{Publisher: pub, svc: svc, queues: map[string]bool{}, now: time.Now, ready: map[string]bool{}}
	if opts.Clock != nil {
		q.now = opts.Clock
	}
	for _, n := range names {
		q.queues[n] = true
	}
	return q, nil
}

// Delivery is a message received from a local queue and locked (invisible)
// until NextVisible. Pass it back to Delete, Abandon, Defer or Poison.
type Delivery struct {
	// Queue is the queue the message came from.
	Queue string
	// QueueMessageID and PopReceipt identify this delivery to the storage
	// service. QueueMessageID is the storage queue's own id, not the
	// envelope's MessageID.
	QueueMessageID string
	PopReceipt     string
	// DequeueCount counts deliveries of this message, this one included:
	// the host's DeliveryCount.
	DequeueCount int
	// InsertedAt is when the message was enqueued: the host's EnqueuedTime.
	InsertedAt time.Time
	// NextVisible is when the lock of this delivery ends.
	NextVisible time.Time
	// ExpiresAt is when the storage service would drop the message: year
	// 9999, since local messages never expire.
	ExpiresAt time.Time
	// Text is the message text exactly as stored, which Poison keeps.
	Text string
	// Envelope is the decoded Text, when DecodeErr is nil.
	Envelope servicebus.Envelope
	// DecodeErr is why Text is not an envelope (access.KindInvalid). Such a
	// message cannot be handed to a function: move it with Poison.
	DecodeErr error
}

// Due reports whether d may be handed to its function at now: a message
// due later than a storage queue can delay it arrives early, and is put
// back with Defer instead.
func (d Delivery) Due(now time.Time) bool {
	nb := d.Envelope.NotBefore
	return nb.IsZero() || !now.Before(nb)
}

// delivery describes one stored message.
func delivery(queue string, id, pop *string, count *int64, inserted, visible, expires *time.Time, text *string) Delivery {
	d := Delivery{
		Queue: queue, QueueMessageID: deref(id), PopReceipt: deref(pop), DequeueCount: int(deref(count)),
		InsertedAt: deref(inserted), NextVisible: deref(visible), ExpiresAt: deref(expires), Text: deref(text),
	}
	d.Envelope, d.DecodeErr = servicebus.DecodeLocal(d.Text)
	return d
}

// Receive takes up to n messages (1 to 32; out-of-range values are
// clamped) from queue and hides them for visibility (clamped to one second
// .. MaxDelay) while the caller works on them. It returns no messages,
// and no error, when the queue has none that are visible. A message whose
// text cannot be decoded is returned with DecodeErr set.
func (q *Queues) Receive(ctx context.Context, queue string, n int, visibility time.Duration) ([]Delivery, error) {
	var out []Delivery
	err := q.use(ctx, queue, func(c *azqueue.QueueClient) error {
		resp, err := c.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
			NumberOfMessages:  to.Ptr(int32(min(max(n, 1), maxReceive))),
			VisibilityTimeout: to.Ptr(seconds(min(max(visibility, time.Second), MaxDelay))),
		})
		for _, m := range resp.Messages {
			if m != nil {
				out = append(out, delivery(queue, m.MessageID, m.PopReceipt, m.DequeueCount, m.InsertionTime, m.TimeNextVisible, m.ExpirationTime, m.MessageText))
			}
		}
		return err
	})
	if err != nil {
		return nil, wrap(err, "receive from %s", queue)
	}
	return out, nil
}

// Peek returns up to n (1 to 32) visible messages of queue without locking
// them or counting a delivery: their PopReceipt is empty, so they cannot be
// settled. A message still delayed is invisible and not returned. It is for
// tests and diagnostics, not for consuming.
func (q *Queues) Peek(ctx context.Context, queue string, n int) ([]Delivery, error) {
	var out []Delivery
	err := q.use(ctx, queue, func(c *azqueue.QueueClient) error {
		resp, err := c.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(min(max(n, 1), maxReceive)))})
		for _, m := range resp.Messages {
			if m != nil {
				out = append(out, delivery(queue, m.MessageID, nil, m.DequeueCount, m.InsertionTime, nil, m.ExpirationTime, m.MessageText))
			}
		}
		return err
	})
	if err != nil {
		return nil, wrap(err, "peek at %s", queue)
	}
	return out, nil
}

// Delete removes a delivered message: the host completed it. It returns
// access.KindNotFound when the message is already gone and
// access.KindConflict when the lock was lost (the message became visible
// and was received again, so this PopReceipt is stale).
func (q *Queues) Delete(ctx context.Context, d Delivery) error {
	if _, err := q.svc.NewQueueClient(d.Queue).DeleteMessage(ctx, d.QueueMessageID, d.PopReceipt, nil); err != nil {
		return wrap(err, "delete message %s from %s", d.QueueMessageID, d.Queue)
	}
	return nil
}

// Abandon makes a delivered message visible again after delay (clamped to
// 0 .. MaxDelay), as Service Bus does when a function fails: the next
// Receive counts one more delivery. It returns d with the new PopReceipt
// and NextVisible, and errors as Delete does.
func (q *Queues) Abandon(ctx context.Context, d Delivery, delay time.Duration) (Delivery, error) {
	// Update Message replaces the text too: the same text keeps the message.
	resp, err := q.svc.NewQueueClient(d.Queue).UpdateMessage(ctx, d.QueueMessageID, d.PopReceipt, d.Text,
		&azqueue.UpdateMessageOptions{VisibilityTimeout: to.Ptr(seconds(min(max(delay, 0), MaxDelay)))})
	if err != nil {
		return d, wrap(err, "abandon message %s in %s", d.QueueMessageID, d.Queue)
	}
	d.PopReceipt = deref(resp.PopReceipt)
	d.NextVisible = deref(resp.TimeNextVisible)
	return d, nil
}

// Defer puts back a message that arrived before its envelope's NotBefore
// (Due is false): it enqueues the same text again, hidden for the time
// still to wait (at most MaxDelay), and deletes this delivery. A copy
// rather than a longer lock, so that the wait does not count as failed
// deliveries towards the poison queue. Should the delete fail, the message
// exists twice, which the handler's ledger absorbs as for any duplicate.
func (q *Queues) Defer(ctx context.Context, d Delivery) error {
	_, err := q.deferred(ctx, d)
	return err
}

// deferred is Defer, returning the new copy.
func (q *Queues) deferred(ctx context.Context, d Delivery) (Delivery, error) {
	if d.DecodeErr != nil {
		return Delivery{}, access.WrapKind(access.KindInvalid, d.DecodeErr, "defer message %s in %s", d.QueueMessageID, d.Queue)
	}
	wait := time.Duration(0)
	if nb, now := d.Envelope.NotBefore, q.now(); nb.After(now) {
		wait = min(nb.Sub(now), MaxDelay)
	}
	c, err := q.enqueue(ctx, d.Queue, d.Queue, d.Text, wait)
	if err != nil {
		return Delivery{}, fmt.Errorf("defer %s: %w", d.Envelope.MessageID, err)
	}
	return c, q.Delete(ctx, d)
}

// Poison moves a message to PoisonQueue(d.Queue), text unchanged, so that
// nothing is lost: it enqueues the copy first and then deletes d.
func (q *Queues) Poison(ctx context.Context, d Delivery) error {
	if _, err := q.enqueue(ctx, d.Queue, PoisonQueue(d.Queue), d.Text, 0); err != nil {
		return fmt.Errorf("poison message %s: %w", d.QueueMessageID, err)
	}
	return q.Delete(ctx, d)
}

// enqueue sends text to target (base or its poison queue), hidden for
// delay and never expiring, as the publisher does.
func (q *Queues) enqueue(ctx context.Context, base, target, text string, delay time.Duration) (Delivery, error) {
	var d Delivery
	err := q.use(ctx, base, func(*azqueue.QueueClient) error {
		resp, err := q.svc.NewQueueClient(target).EnqueueMessage(ctx, text, &azqueue.EnqueueMessageOptions{
			TimeToLive: to.Ptr(int32(-1)), VisibilityTimeout: to.Ptr(seconds(delay)),
		})
		if err != nil {
			return err
		}
		if len(resp.Messages) == 0 || resp.Messages[0] == nil {
			return access.Errorf(access.KindInternal, "the service answered without the message")
		}
		m := resp.Messages[0]
		d = delivery(target, m.MessageID, m.PopReceipt, nil, m.InsertionTime, m.TimeNextVisible, m.ExpirationTime, &text)
		return nil
	})
	if err != nil {
		return Delivery{}, wrap(err, "enqueue to %s", target)
	}
	return d, nil
}

// use runs f on queue, one of q's, once it and its poison queue exist. A
// queue deleted behind q's back (a developer resetting Azurite) is
// created again, once.
func (q *Queues) use(ctx context.Context, queue string, f func(*azqueue.QueueClient) error) error {
	if !q.queues[queue] {
		// A typo must not create a queue nobody reads.
		return access.Errorf(access.KindInvalid, "queue %q is not one of the local queues", queue)
	}
	for attempt := 0; ; attempt++ {
		if err := q.ensure(ctx, queue); err != nil {
			return err
		}
		err := f(q.svc.NewQueueClient(queue))
		if attempt == 0 && queueerror.HasCode(err, queueerror.QueueNotFound) {
			q.mu.Lock()
			delete(q.ready, queue)
			q.mu.Unlock()
			continue
		}
		return err
	}
}

// ensure creates queue and its poison queue unless q knows they exist.
// Two goroutines may both create them; the second creation is a no-op.
func (q *Queues) ensure(ctx context.Context, queue string) error {
	q.mu.Lock()
	ok := q.ready[queue]
	q.mu.Unlock()
	if ok {
		return nil
	}
	for _, name := range []string{queue, PoisonQueue(queue)} {
		if _, err := q.svc.CreateQueue(ctx, name, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
			return fmt.Errorf("create queue %s: %w", name, err)
		}
	}
	q.mu.Lock()
	q.ready[queue] = true
	q.mu.Unlock()
	return nil
}

// wrap translates a storage error into the app's vocabulary where it means
// something precise to a consumer (a message gone, a lock lost, a message
// too large); anything else is transient: Azurite busy or down, which the
// local host retries.
func wrap(err error, format string, args ...any) error {
	if errors.As(err, new(*access.Error)) {
		return fmt.Errorf(format+": %w", append(args, err)...) // already in it
	}
	kind := access.KindTransient
	switch {
	case queueerror.HasCode(err, queueerror.MessageNotFound):
		kind = access.KindNotFound
	case queueerror.HasCode(err, queueerror.PopReceiptMismatch):
		kind = access.KindConflict
	case queueerror.HasCode(err, queueerror.MessageTooLarge, queueerror.RequestBodyTooLarge):
		kind = access.KindInvalid
	}
	return access.WrapKind(kind, err, format, args...)
}

// seconds rounds d up to whole seconds, the unit of visibility timeouts:
// rounding down would show a message before it is due.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
