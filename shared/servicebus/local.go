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

// localBackend publishes to Azure Storage queues of the queues' names, on
// Azurite: the local stand-in for Service Bus. Queues are created on first
// use. The consumer side, which only the local host and tests need, is
// internal/localqueue.
type localBackend struct {
	svc    *azqueue.ServiceClient
	queues map[string]bool
	now    func() time.Time
	closed atomic.Bool

	mu    sync.Mutex
	ready map[string]bool // queues known to exist
}

// newLocal connects to the storage queues of connectionString, a full
// connection string with a QueueEndpoint (Azurite's, locally). It does no
// network I/O.
func newLocal(connectionString string, queueNames []string, now func() time.Time) (*localBackend, error) {
	queues, err := queueSet(queueNames)
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
	return &localBackend{svc: svc, queues: queues, now: now, ready: map[string]bool{}}, nil
}

// Publish enqueues the envelope of m (see EncodeLocal), invisible until
// m.NotBefore or for MaxLocalDelay, whichever is sooner, and never
// expiring. Its error contract is Publisher.Publish's.
func (q *localBackend) Publish(ctx context.Context, m access.Message) error {
	if q.closed.Load() {
		return errClosed
	}
	if err := checkMessage(m, q.queues); err != nil {
		return err
	}
	now := q.now()
	env := Envelope{MessageID: m.ID, Body: m.Body, Properties: withSchemaVersion(m.Properties)}
	if m.NotBefore.After(now) {
		env.NotBefore = m.NotBefore
	}
	text, err := EncodeLocal(env)
	if err != nil {
		return fmt.Errorf("publish %s to %s: %w", m.ID, m.Queue, err)
	}
	if err := q.enqueue(ctx, m.Queue, text, localDelay(env.NotBefore, now)); err != nil {
		return fmt.Errorf("publish %s: %w", m.ID, err)
	}
	return nil
}

// Close marks q closed; Publish fails afterwards. Storage queues hold no
// connection to release.
func (q *localBackend) Close(context.Context) error {
	q.closed.Store(true)
	return nil
}

// enqueue sends text to queue, hidden for delay and never expiring. A
// queue deleted behind q's back (a developer resetting Azurite) is created
// again once.
func (q *localBackend) enqueue(ctx context.Context, queue, text string, delay time.Duration) error {
	opts := &azqueue.EnqueueMessageOptions{
		TimeToLive:        to.Ptr(int32(-1)),
		VisibilityTimeout: to.Ptr(seconds(delay)),
	}
	for attempt := 0; ; attempt++ {
		if err := q.ensure(ctx, queue); err != nil {
			return err
		}
		_, err := q.svc.NewQueueClient(queue).EnqueueMessage(ctx, text, opts)
		if err == nil {
			return nil
		}
		if attempt == 0 && queueerror.HasCode(err, queueerror.QueueNotFound) {
			q.mu.Lock()
			delete(q.ready, queue)
			q.mu.Unlock()
			continue
		}
		return storageError(err, "enqueue to %s", queue)
	}
}

// ensure creates queue unless q already knows it exists. Two goroutines
// may both create it; the second creation is a no-op for the service.
func (q *localBackend) ensure(ctx context.Context, queue string) error {
	q.mu.Lock()
	ok := q.ready[queue]
	q.mu.Unlock()
	if ok {
		return nil
	}
	if _, err := q.svc.CreateQueue(ctx, queue, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return storageError(err, "create queue %s", queue)
	}
	q.mu.Lock()
	q.ready[queue] = true
	q.mu.Unlock()
	return nil
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
