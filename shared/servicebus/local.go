package servicebus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// MaxLocalDelay is the longest a local message is kept invisible, whether
// at publication or by Abandon and Defer. Storage queues allow seven days;
// the minute of margin absorbs the rounding up to whole seconds, so the
// service never sees a timeout over its limit.
const MaxLocalDelay = 7*24*time.Hour - time.Minute

// maxReceive is the most messages one Get Messages call returns.
const maxReceive = 32

// PoisonQueue names the queue that receives a queue's messages that
// failed too often or could not be decoded: "<queue>-poison", as the
// Functions host's storage queue trigger names it.
func PoisonQueue(queue string) string { return queue + "-poison" }

// LocalOptions configures LocalQueues; nil means defaults.
type LocalOptions struct {
	// Queues are the queues that may be used; nil means the three of the
	// contract. Each has a poison queue beside it.
	Queues []string
	// Clock returns the current time; nil means time.Now. It computes the
	// delay of a message with a NotBefore.
	Clock func() time.Time
}

// LocalQueues is the local stand-in for Service Bus: Azure Storage queues
// of the same names, on Azurite. It publishes (as an access.Publisher) and
// offers the consumer side the local Functions host needs. Queues and their
// poison queues are created on first use. It is safe for concurrent use.
type LocalQueues struct {
	svc    *azqueue.ServiceClient
	queues map[string]bool
	now    func() time.Time
	closed atomic.Bool

	mu    sync.Mutex
	ready map[string]bool // queues known to exist, with their poison queue
}

var _ access.Publisher = (*LocalQueues)(nil)

// NewLocalQueues connects to the storage queues of connectionString, a full
// connection string with a QueueEndpoint (Azurite's, locally). It does no
// network I/O.
func NewLocalQueues(connectionString string, opts *LocalOptions) (*LocalQueues, error) {
	if opts == nil {
		opts = &LocalOptions{}
	}
	queues, err := queueSet(opts.Queues)
	if err != nil {
		return nil, err
	}
	if strings.Contains(connectionString, "UseDevelopmentStorage") {
		return nil, errors.New("servicebus: local queues connection string: use Azurite's full connection string with a QueueEndpoint; the SDK does not understand UseDevelopmentStorage=true")
	}
	// Azurite is local: when it is down, fail in about a second, so the
	// caller reports a transient failure instead of hanging in retries.
	copts := &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{
		MaxRetries: 2, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second,
	}}}
	// The SDK's parse errors do not quote the connection string, whose
	// account key is a secret.
	svc, err := azqueue.NewServiceClientFromConnectionString(connectionString, copts)
	if err != nil {
		return nil, fmt.Errorf("servicebus: local queues connection string: %w", err)
	}
	return &LocalQueues{svc: svc, queues: queues, now: clock(opts.Clock), ready: map[string]bool{}}, nil
}

// Publish implements access.Publisher for storage queues: it enqueues the
// envelope of m (see EncodeLocal), invisible until m.NotBefore or for
// MaxLocalDelay, whichever is sooner, and never expiring. Its error contract
// is Publisher.Publish's.
func (q *LocalQueues) Publish(ctx context.Context, m access.Message) error {
	_, err := q.publish(ctx, m)
	return err
}

// publish is Publish, returning the enqueued message as a Delivery (no
// DequeueCount) so that tests can follow a message they cannot receive yet.
func (q *LocalQueues) publish(ctx context.Context, m access.Message) (Delivery, error) {
	if q.closed.Load() {
		return Delivery{}, errClosed
	}
	if err := checkMessage(m, q.queues); err != nil {
		return Delivery{}, err
	}
	now := q.now()
	env := Envelope{MessageID: m.ID, Body: m.Body, Properties: withSchemaVersion(m.Properties)}
	if m.NotBefore.After(now) {
		env.NotBefore = m.NotBefore
	}
	text, err := EncodeLocal(env)
	if err != nil {
		return Delivery{}, fmt.Errorf("publish %s to %s: %w", m.ID, m.Queue, err)
	}
	d, err := q.enqueue(ctx, m.Queue, m.Queue, text, localDelay(env.NotBefore, now))
	if err != nil {
		return Delivery{}, fmt.Errorf("publish %s: %w", m.ID, err)
	}
	return d, nil
}

// Close marks q closed; Publish fails afterwards. Storage queues hold no
// connection to release, and the consumer methods keep working so that a
// host shutting down can still settle what it holds.
func (q *LocalQueues) Close(context.Context) error {
	q.closed.Store(true)
	return nil
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
	Envelope Envelope
	// DecodeErr is why Text is not an envelope (access.KindInvalid). Such a
	// message cannot be handed to a function: move it with Poison.
	DecodeErr error
}

// Receive takes up to n messages (1 to 32; out-of-range values are
// clamped) from queue and hides them for visibility (clamped to one second
// .. MaxLocalDelay) while the caller works on them. It returns no messages,
// and no error, when the queue has none that are visible. A message whose
// text cannot be decoded is returned with DecodeErr set.
func (q *LocalQueues) Receive(ctx context.Context, queue string, n int, visibility time.Duration) ([]Delivery, error) {
	if err := q.known(queue); err != nil {
		return nil, err
	}
	if err := q.ensure(ctx, queue); err != nil {
		return nil, err
	}
	n = min(max(n, 1), maxReceive)
	visibility = min(max(visibility, time.Second), MaxLocalDelay)
	resp, err := q.svc.NewQueueClient(queue).DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
		NumberOfMessages:  to.Ptr(int32(n)),
		VisibilityTimeout: to.Ptr(seconds(visibility)),
	})
	if err != nil {
		if queueerror.HasCode(err, queueerror.QueueNotFound) {
			q.forget(queue)
		}
		return nil, storageError(err, "receive from %s", queue)
	}
	out := make([]Delivery, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		if m == nil {
			continue
		}
		d := Delivery{
			Queue:          queue,
			QueueMessageID: deref(m.MessageID),
			PopReceipt:     deref(m.PopReceipt),
			DequeueCount:   int(deref(m.DequeueCount)),
			InsertedAt:     deref(m.InsertionTime),
			NextVisible:    deref(m.TimeNextVisible),
			ExpiresAt:      deref(m.ExpirationTime),
			Text:           deref(m.MessageText),
		}
		d.Envelope, d.DecodeErr = DecodeLocal(d.Text)
		out = append(out, d)
	}
	return out, nil
}

// Peek returns up to n (1 to 32) visible messages of queue without locking
// them or counting a delivery: their PopReceipt is empty, so they cannot be
// settled. A message still delayed by its NotBefore is invisible and not
// returned. It is for tests and diagnostics, not for consuming.
func (q *LocalQueues) Peek(ctx context.Context, queue string, n int) ([]Delivery, error) {
	if err := q.known(queue); err != nil {
		return nil, err
	}
	if err := q.ensure(ctx, queue); err != nil {
		return nil, err
	}
	n = min(max(n, 1), maxReceive)
	resp, err := q.svc.NewQueueClient(queue).PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(n))})
	if err != nil {
		if queueerror.HasCode(err, queueerror.QueueNotFound) {
			q.forget(queue)
		}
		return nil, storageError(err, "peek at %s", queue)
	}
	out := make([]Delivery, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		if m == nil {
			continue
		}
		d := Delivery{
			Queue:          queue,
			QueueMessageID: deref(m.MessageID),
			DequeueCount:   int(deref(m.DequeueCount)),
			InsertedAt:     deref(m.InsertionTime),
			ExpiresAt:      deref(m.ExpirationTime),
			Text:           deref(m.MessageText),
		}
		d.Envelope, d.DecodeErr = DecodeLocal(d.Text)
		out = append(out, d)
	}
	return out, nil
}

// Delete removes a delivered message: the host completed it. It returns
// access.KindNotFound when the message is already gone and
// access.KindConflict when the lock was lost (the message became visible
// and was received again, so this PopReceipt is stale).
func (q *LocalQueues) Delete(ctx context.Context, d Delivery) error {
	_, err := q.svc.NewQueueClient(d.Queue).DeleteMessage(ctx, d.QueueMessageID, d.PopReceipt, nil)
	if err != nil {
		return settleError(err, "delete message %s from %s", d.QueueMessageID, d.Queue)
	}
	return nil
}

// Abandon makes a delivered message visible again after delay (clamped to
// 0 .. MaxLocalDelay), as Service Bus does when a function fails: the next
// Receive counts one more delivery. It returns d with the new PopReceipt and
// NextVisible, and errors as Delete does.
func (q *LocalQueues) Abandon(ctx context.Context, d Delivery, delay time.Duration) (Delivery, error) {
	delay = min(max(delay, 0), MaxLocalDelay)
	// Update Message replaces the text too: the same text keeps the message.
	resp, err := q.svc.NewQueueClient(d.Queue).UpdateMessage(ctx, d.QueueMessageID, d.PopReceipt, d.Text,
		&azqueue.UpdateMessageOptions{VisibilityTimeout: to.Ptr(seconds(delay))})
	if err != nil {
		return d, settleError(err, "abandon message %s in %s", d.QueueMessageID, d.Queue)
	}
	d.PopReceipt = deref(resp.PopReceipt)
	d.NextVisible = deref(resp.TimeNextVisible)
	return d, nil
}

// Defer puts back a message that arrived before its envelope's NotBefore
// (Due is false): it enqueues the same text again, hidden for the time
// still to wait (at most MaxLocalDelay), and deletes this delivery. A copy
// rather than a longer lock, so that the wait does not count as failed
// deliveries towards the poison queue. Should the delete fail, the message
// exists twice, which the handler's ledger absorbs as for any duplicate.
func (q *LocalQueues) Defer(ctx context.Context, d Delivery) error {
	_, err := q.deferred(ctx, d)
	return err
}

// deferred is Defer, returning the new copy.
func (q *LocalQueues) deferred(ctx context.Context, d Delivery) (Delivery, error) {
	if d.DecodeErr != nil {
		return Delivery{}, access.WrapKind(access.KindInvalid, d.DecodeErr, "defer message %s in %s", d.QueueMessageID, d.Queue)
	}
	if err := q.known(d.Queue); err != nil {
		return Delivery{}, err
	}
	c, err := q.enqueue(ctx, d.Queue, d.Queue, d.Text, localDelay(d.Envelope.NotBefore, q.now()))
	if err != nil {
		return Delivery{}, fmt.Errorf("defer %s: %w", d.Envelope.MessageID, err)
	}
	return c, q.Delete(ctx, d)
}

// Poison moves a message to PoisonQueue(d.Queue), text unchanged, so that
// nothing is lost: it enqueues the copy first and then deletes d.
func (q *LocalQueues) Poison(ctx context.Context, d Delivery) error {
	if err := q.known(d.Queue); err != nil {
		return err
	}
	if _, err := q.enqueue(ctx, d.Queue, PoisonQueue(d.Queue), d.Text, 0); err != nil {
		return fmt.Errorf("poison message %s: %w", d.QueueMessageID, err)
	}
	return q.Delete(ctx, d)
}

// known refuses a queue outside q's set, so that a typo does not create a
// queue nobody reads.
func (q *LocalQueues) known(queue string) error {
	if !q.queues[queue] {
		return access.Errorf(access.KindInvalid, "queue %q is not one of the local queues", queue)
	}
	return nil
}

// enqueue sends text to target, which is base or its poison queue, hidden
// for delay and never expiring, and describes the new message as a
// Delivery. A queue deleted behind q's back (a developer resetting Azurite)
// is created again once.
func (q *LocalQueues) enqueue(ctx context.Context, base, target, text string, delay time.Duration) (Delivery, error) {
	opts := &azqueue.EnqueueMessageOptions{
		TimeToLive:        to.Ptr(int32(-1)),
		VisibilityTimeout: to.Ptr(seconds(delay)),
	}
	for attempt := 0; ; attempt++ {
		if err := q.ensure(ctx, base); err != nil {
			return Delivery{}, err
		}
		resp, err := q.svc.NewQueueClient(target).EnqueueMessage(ctx, text, opts)
		if err == nil {
			if len(resp.Messages) == 0 || resp.Messages[0] == nil {
				return Delivery{}, access.Errorf(access.KindInternal, "enqueue to %s: the service answered without the message", target)
			}
			m := resp.Messages[0]
			d := Delivery{
				Queue:          target,
				QueueMessageID: deref(m.MessageID),
				PopReceipt:     deref(m.PopReceipt),
				InsertedAt:     deref(m.InsertionTime),
				NextVisible:    deref(m.TimeNextVisible),
				ExpiresAt:      deref(m.ExpirationTime),
				Text:           text,
			}
			d.Envelope, d.DecodeErr = DecodeLocal(text)
			return d, nil
		}
		if attempt == 0 && queueerror.HasCode(err, queueerror.QueueNotFound) {
			q.forget(base)
			continue
		}
		return Delivery{}, storageError(err, "enqueue to %s", target)
	}
}

// ensure creates queue and its poison queue unless q already knows they
// exist. Two goroutines may both create them; the second creation is a
// no-op for the service.
func (q *LocalQueues) ensure(ctx context.Context, queue string) error {
	q.mu.Lock()
	ok := q.ready[queue]
	q.mu.Unlock()
	if ok {
		return nil
	}
	for _, name := range []string{queue, PoisonQueue(queue)} {
		if _, err := q.svc.CreateQueue(ctx, name, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
			return storageError(err, "create queue %s", name)
		}
	}
	q.mu.Lock()
	q.ready[queue] = true
	q.mu.Unlock()
	return nil
}

func (q *LocalQueues) forget(queue string) {
	q.mu.Lock()
	delete(q.ready, queue)
	q.mu.Unlock()
}

// localDelay is how long a message due at notBefore stays invisible when
// enqueued at now: until it is due, but no longer than the service allows.
func localDelay(notBefore, now time.Time) time.Duration {
	if notBefore.IsZero() || !notBefore.After(now) {
		return 0
	}
	return min(notBefore.Sub(now), MaxLocalDelay)
}

// seconds rounds d up to whole seconds, the unit of visibility timeouts:
// rounding down would show a message before it is due.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}

// storageError translates an azqueue error into the app's vocabulary.
func storageError(err error, format string, args ...any) error {
	return access.WrapKind(storageKind(err), err, format, args...)
}

func storageKind(err error) access.Kind {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) {
		return access.KindTransient
	}
	if queueerror.HasCode(err, queueerror.MessageTooLarge, queueerror.RequestBodyTooLarge) {
		return access.KindInvalid
	}
	// A queue being deleted comes back shortly, when ensure creates it.
	if queueerror.HasCode(err, queueerror.QueueBeingDeleted) {
		return access.KindTransient
	}
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		return httpKind(respErr.StatusCode)
	}
	return access.KindInternal
}

// settleError translates an error of Delete or Abandon, where a missing
// message and a stale pop receipt mean something precise to the consumer.
func settleError(err error, format string, args ...any) error {
	switch {
	case queueerror.HasCode(err, queueerror.MessageNotFound):
		return access.WrapKind(access.KindNotFound, err, format, args...)
	case queueerror.HasCode(err, queueerror.PopReceiptMismatch):
		return access.WrapKind(access.KindConflict, err, format, args...)
	}
	return storageError(err, format, args...)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
