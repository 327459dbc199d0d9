// Package servicebus publishes the app's queue messages (DESIGN.md section
// 4) to the three queues invitation-sent, gdap-approved and grant-expiring.
// It is the one access.Publisher of the app, with two backends chosen once,
// at construction:
//
//   - Azure Service Bus (azservicebus), in Azure. One client serves the
//     process and one sender is kept per queue. The MessageId is the
//     message's ID (the event id), so Service Bus duplicate detection drops
//     a message published twice; NotBefore becomes ScheduledEnqueueTime.
//   - Azure Storage queues of the same names (azqueue), for local runs and
//     tests on Azurite, when LOCAL_QUEUES_CONNECTION_STRING is set. There is
//     no duplicate detection here and none is attempted: a repeated MessageId
//     reaches the handler, whose processed-event ledger makes the second
//     delivery a no-op, as it does for any redelivery in Azure.
//
// # Local queue messages
//
// A storage queue message is only a string: it has no MessageId, content
// type or application properties of its own. The local backend therefore
// wraps each message in an envelope, and the queue message text is the
// standard base64 encoding of the envelope's JSON (base64 because it is what
// the Functions queue trigger and Storage Explorer expect, and it survives
// any byte in the body):
//
//	{
//	  "v": 1,                              // envelope version; anything else is refused
//	  "messageId": "8b1c…",                // access.Message.ID, required
//	  "body": "eyJldmVudElkIjoi…",         // standard base64 of the exact body bytes
//	  "properties": {"schemaVersion": "1"}, // application properties: strings, numbers, booleans
//	  "notBefore": "2027-02-25T08:00:00Z"  // RFC 3339, UTC; absent when due at once
//	}
//
// EncodeLocal and DecodeLocal are the only code that writes and reads this
// format. A whole queue message is at most 64 KiB (MaxLocalMessageSize); a
// larger one is refused with access.KindInvalid rather than truncated.
//
// A storage queue delays a message with its visibility timeout, which is at
// most seven days. A message due later is enqueued with the longest delay
// (MaxLocalDelay) and keeps its real due time in notBefore. The consumer
// (the local host, through internal/localqueue) checks it when a message
// arrives and, when it arrives early, enqueues it again with the remaining
// delay. Local messages never expire (time to live -1), so that a notice
// scheduled months ahead is not lost.
//
// This package only publishes, as the product does. The consumer side of
// the local queues (receive, complete, abandon, defer, poison, peek) is
// internal/localqueue, beside the local host that needs it.
package servicebus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// The queues of the contract (DESIGN.md sections 3 and 4).
const (
	QueueInvitationSent = "invitation-sent"
	QueueGDAPApproved   = "gdap-approved"
	QueueGrantExpiring  = "grant-expiring"
)

// Queues lists the queues of the contract, the default of Options.Queues.
var Queues = []string{QueueInvitationSent, QueueGDAPApproved, QueueGrantExpiring}

// SchemaVersion is the value of the "schemaVersion" application property
// that every message carries unless the caller sets its own, so that a
// consumer can tell body versions apart before decoding the body.
const SchemaVersion = "1"

// ContentType is the content type of every message body.
const ContentType = "application/json"

// maxMessageIDLength is Service Bus's limit on MessageId; the local backend
// keeps the same limit so that a message valid locally is valid in Azure.
const maxMessageIDLength = 128

// Options chooses and configures the backend of a Publisher. Exactly one of
// Namespace, ConnectionString and LocalQueuesConnectionString must be set.
type Options struct {
	// Namespace is the Service Bus namespace host,
	// "<ns>.servicebus.windows.net", reached with Credential.
	Namespace string
	// ConnectionString is a Service Bus connection string, the alternative
	// to Namespace.
	ConnectionString string
	// Credential authenticates to Namespace (a managed identity in Azure).
	// It is required with Namespace and ignored otherwise, so that the
	// caller may build one credential for the whole process and pass it
	// whatever the backend.
	Credential azcore.TokenCredential
	// LocalQueuesConnectionString selects Azure Storage queues (Azurite) in
	// place of Service Bus: a full connection string with a QueueEndpoint.
	LocalQueuesConnectionString string
	// Queues are the queues the Publisher may publish to; nil means the
	// three of the contract. Tests sharing one Azurite name their own.
	Queues []string
	// Clock returns the current time; nil means time.Now. It decides
	// whether NotBefore is in the future and, locally, by how much.
	Clock func() time.Time
}

// backend is what each transport provides to Publisher.
type backend interface {
	Publish(ctx context.Context, m access.Message) error
	Close(ctx context.Context) error
}

// Publisher publishes the app's queue messages to Service Bus or, for local
// runs, to storage queues. It is safe for concurrent use; build one per
// process and Close it on shutdown.
type Publisher struct {
	backend backend
}

var _ lifecycle.Publisher = (*Publisher)(nil)

// New builds the Publisher of the backend opts selects. It does no network
// I/O: a wrong namespace or an unreachable Azurite shows on the first
// Publish. It fails when no backend or more than one is chosen, when
// Namespace lacks a Credential, or when a connection string or queue name is
// malformed.
func New(opts Options) (*Publisher, error) {
	chosen := 0
	for _, s := range []string{opts.Namespace, opts.ConnectionString, opts.LocalQueuesConnectionString} {
		if s != "" {
			chosen++
		}
	}
	if chosen != 1 {
		return nil, errors.New("servicebus: set exactly one of Namespace, ConnectionString and LocalQueuesConnectionString")
	}
	if opts.LocalQueuesConnectionString != "" {
		q, err := newLocal(opts.LocalQueuesConnectionString, opts.Queues, clock(opts.Clock))
		if err != nil {
			return nil, err
		}
		return &Publisher{backend: q}, nil
	}
	b, err := newAzure(opts)
	if err != nil {
		return nil, err
	}
	return &Publisher{backend: b}, nil
}

// Publish sends m to its queue, to be delivered not before m.NotBefore.
// The message must name one of the Publisher's queues and carry an ID (the
// event id) and a JSON body; property values must be strings, booleans,
// numbers or times. It returns an error of kind access.KindInvalid for a
// message that no retry can send (also one over the size limit),
// access.KindTransient when the service is unavailable or throttling, and
// access.KindUnauthorized when the credentials are refused.
func (p *Publisher) Publish(ctx context.Context, m access.Message) error {
	return p.backend.Publish(ctx, m)
}

// Close releases the backend's connections; Publish fails afterwards.
func (p *Publisher) Close(ctx context.Context) error {
	return p.backend.Close(ctx)
}

// queueSet checks queue names and returns them as a set. Names are checked
// against the storage queue rules, the narrower of the two services, so that
// a configuration valid in Azure also runs locally.
func queueSet(queues []string) (map[string]bool, error) {
	if queues == nil {
		queues = Queues
	}
	if len(queues) == 0 {
		return nil, errors.New("servicebus: no queues")
	}
	set := make(map[string]bool, len(queues))
	for _, q := range queues {
		// The local host's poison queue, "<queue>-poison", must fit too.
		if !validQueueName(q) || len(q) > 56 {
			return nil, fmt.Errorf("servicebus: queue name %q: want 3 to 56 lowercase letters, digits and single hyphens, starting and ending with a letter or digit", q)
		}
		set[q] = true
	}
	return set, nil
}

// validQueueName applies the storage queue naming rules.
func validQueueName(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// checkMessage refuses, before any I/O, a message that neither backend
// could deliver as the contract wants it. Both backends apply the same
// checks so that a message that works locally also works in Azure.
func checkMessage(m access.Message, queues map[string]bool) error {
	fields := map[string]string{}
	if !queues[m.Queue] {
		known := make([]string, 0, len(queues))
		for q := range queues {
			known = append(known, q)
		}
		slices.Sort(known)
		fields["queue"] = fmt.Sprintf("%q is not one of %s", m.Queue, strings.Join(known, ", "))
	}
	switch {
	case m.ID == "":
		fields["id"] = "required: it becomes the MessageId that duplicate detection relies on"
	case len(m.ID) > maxMessageIDLength:
		fields["id"] = fmt.Sprintf("longer than %d characters", maxMessageIDLength)
	}
	if !json.Valid(m.Body) {
		fields["body"] = "not JSON"
	}
	for k, v := range m.Properties {
		if err := checkProperty(k, v); err != nil {
			fields["properties."+k] = err.Error()
		}
	}
	if len(fields) > 0 {
		return invalid("publish message", fields)
	}
	return nil
}

// invalid builds a KindInvalid error whose text lists the field problems
// too, since the text is what a log line shows.
func invalid(msg string, fields map[string]string) error {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, k := range names {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		msg += sep + k + " " + fields[k]
	}
	return &access.Error{Kind: access.KindInvalid, Msg: msg, Fields: fields}
}

// checkProperty accepts the property values that both an AMQP application
// property and a JSON envelope carry faithfully: scalars. json.Number is
// accepted because DecodeLocal produces it.
func checkProperty(k string, v any) error {
	if k == "" {
		return errors.New("empty property name")
	}
	switch v := v.(type) {
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, time.Time:
		return nil
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errors.New("not a finite number")
		}
		return nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("not a finite number")
		}
		return nil
	case json.Number:
		if _, err := v.Float64(); err != nil {
			return errors.New("not a number")
		}
		return nil
	}
	return fmt.Errorf("%T is not a string, number, boolean or time", v)
}

// withSchemaVersion returns a copy of props with "schemaVersion" set unless
// the caller set it: the caller knows its body's version best.
func withSchemaVersion(props map[string]any) map[string]any {
	out := make(map[string]any, len(props)+1)
	for k, v := range props {
		out[k] = v
	}
	if _, ok := out["schemaVersion"]; !ok {
		out["schemaVersion"] = SchemaVersion
	}
	return out
}

// clock returns c, or time.Now when c is nil.
func clock(c func() time.Time) func() time.Time {
	if c == nil {
		return time.Now
	}
	return c
}

// errClosed is returned by a backend used after Close: a bug in the caller.
var errClosed = errors.New("publisher is closed")
