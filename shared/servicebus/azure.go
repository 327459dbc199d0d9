package servicebus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// azureBackend publishes to Azure Service Bus.
type azureBackend struct {
	client *azservicebus.Client
	queues map[string]bool
	now    func() time.Time

	mu      sync.Mutex
	senders map[string]*azservicebus.Sender // created on first use, kept until Close
	closed  bool
}

var _ lifecycle.Publisher = (*azureBackend)(nil)

func newAzure(opts Options) (*azureBackend, error) {
	queues, err := queueSet(opts.Queues)
	if err != nil {
		return nil, err
	}
	var client *azservicebus.Client
	if opts.Namespace != "" {
		if opts.Credential == nil {
			return nil, errors.New("servicebus: Namespace needs a Credential")
		}
		if strings.ContainsAny(opts.Namespace, "/:") {
			return nil, fmt.Errorf("servicebus: namespace %q must be a host name such as contoso.servicebus.windows.net, not a URL", opts.Namespace)
		}
		client, err = azservicebus.NewClient(opts.Namespace, opts.Credential, nil)
	} else {
		// The SDK's parse errors name the faulty key, never its value, so
		// they are safe to return.
		client, err = azservicebus.NewClientFromConnectionString(opts.ConnectionString, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("servicebus: new client: %w", err)
	}
	return &azureBackend{
		client:  client,
		queues:  queues,
		now:     clock(opts.Clock),
		senders: map[string]*azservicebus.Sender{},
	}, nil
}

// Publish implements access.Publisher.
func (b *azureBackend) Publish(ctx context.Context, m access.Message) error {
	if err := checkMessage(m, b.queues); err != nil {
		return err
	}
	s, err := b.sender(m.Queue)
	if err != nil {
		return err
	}
	if err := s.SendMessage(ctx, azureMessage(m, b.now()), nil); err != nil {
		return azureError(err, "send message %s to %s", m.ID, m.Queue)
	}
	return nil
}

// sender returns the queue's sender, creating it once. A Sender opens its
// AMQP link lazily and recovers it itself, so one per queue serves every
// invocation of the process.
func (b *azureBackend) sender(queue string) (*azservicebus.Sender, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	if s, ok := b.senders[queue]; ok {
		return s, nil
	}
	s, err := b.client.NewSender(queue, nil)
	if err != nil {
		return nil, azureError(err, "new sender for %s", queue)
	}
	b.senders[queue] = s
	return s, nil
}

// Close closes every sender, then the client. It returns every failure,
// since each leaves a connection behind.
func (b *azureBackend) Close(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	for q, s := range b.senders {
		if err := s.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sender for %s: %w", q, err))
		}
	}
	b.senders = nil
	if err := b.client.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close service bus client: %w", err))
	}
	return errors.Join(errs...)
}

// azureMessage maps a checked message to its Service Bus form. now decides
// whether NotBefore is in the future: a past or present NotBefore is left
// out so the message is sent, not scheduled, which is cheaper and keeps
// SendMessage's plain semantics.
func azureMessage(m access.Message, now time.Time) *azservicebus.Message {
	props := withSchemaVersion(m.Properties)
	for k, v := range props {
		// AMQP has no arbitrary-precision number; a json.Number (from a
		// decoded local envelope) becomes the AMQP integer or double it
		// stands for. checkProperty has made sure it parses.
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				props[k] = i
			} else {
				f, _ := n.Float64()
				props[k] = f
			}
		}
	}
	msg := &azservicebus.Message{
		MessageID:             to.Ptr(m.ID),
		ContentType:           to.Ptr(ContentType),
		Body:                  m.Body,
		ApplicationProperties: props,
	}
	if !m.NotBefore.IsZero() && m.NotBefore.After(now) {
		msg.ScheduledEnqueueTime = to.Ptr(m.NotBefore.UTC())
	}
	return msg
}

// Service Bus's AMQP conditions for a busy or throttling namespace; the
// SDK retries them and then hands them back untranslated.
const (
	condServerBusy = amqp.ErrCond("com.microsoft:server-busy")
	condTimeout    = amqp.ErrCond("com.microsoft:timeout")
	condCancelled  = amqp.ErrCond("com.microsoft:operation-cancelled")
)

// azureError translates an azservicebus error into the app's vocabulary,
// with lowercase context. Only the SDK's documented codes and the AMQP
// conditions it leaves untranslated are relied on, never error text.
func azureError(err error, format string, args ...any) error {
	return access.WrapKind(azureKind(err), err, format, args...)
}

func azureKind(err error) access.Kind {
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) {
		switch sbErr.Code {
		case azservicebus.CodeConnectionLost, azservicebus.CodeTimeout:
			return access.KindTransient
		case azservicebus.CodeUnauthorizedAccess:
			return access.KindUnauthorized
		}
		// CodeNotFound (the queue is missing: a deployment fault), CodeClosed
		// and CodeLockLost are not the message's fault, and no amount of
		// redelivery is known to fix them: leave them unclassified.
		return access.KindInternal
	}
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		switch amqpErr.Condition {
		case condServerBusy, condTimeout, condCancelled,
			// The entity is full: it drains as consumers catch up.
			amqp.ErrCondResourceLimitExceeded,
			amqp.ErrCondInternalError, amqp.ErrCondConnectionForced, amqp.ErrCondDetachForced:
			return access.KindTransient
		case amqp.ErrCondMessageSizeExceeded:
			return access.KindInvalid
		case amqp.ErrCondUnauthorizedAccess:
			return access.KindUnauthorized
		}
	}
	var connErr *amqp.ConnError
	var sessErr *amqp.SessionError
	var linkErr *amqp.LinkError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &sessErr) || errors.As(err, &linkErr) ||
		errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) {
		return access.KindTransient
	}
	// A token request that failed at the identity endpoint.
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		return httpKind(respErr.StatusCode)
	}
	return access.KindInternal
}

// httpKind classifies an HTTP status of an Azure service met while
// publishing. A 404 or 409 here is a deployment fault, not a missing or
// conflicting grant, so it is deliberately left unclassified: reporting it
// as access.KindNotFound would let a handler reject a good message.
func httpKind(status int) access.Kind {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return access.KindTransient
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return access.KindUnauthorized
	case status == http.StatusRequestEntityTooLarge:
		return access.KindInvalid
	}
	return access.KindInternal
}
