package funchost

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// QueueMessage is a Service Bus message delivered by a serviceBusTrigger.
type QueueMessage struct {
	// ID is the MessageId. The app's publishers set it to the event id.
	ID string
	// Body is the message body: the exact bytes the sender sent when the
	// binding declares "dataType": "binary" (the contract).
	Body []byte
	// BodyReencoded is true when the host sent the body as a JSON object or
	// array instead of base64 (the binding is not binary and the body was
	// JSON). Body then holds the host's re-serialisation, compacted: the same
	// JSON value, but not necessarily the sender's bytes.
	BodyReencoded bool
	// DeliveryCount counts deliveries of this message, this one included.
	DeliveryCount int
	// EnqueuedTime is when Service Bus accepted the message, in UTC.
	EnqueuedTime time.Time
	// ExpiresAt is when the message expires, in UTC; year 9999 when it has
	// no time to live.
	ExpiresAt time.Time
	// SequenceNumber is the unique number Service Bus gave the message.
	SequenceNumber int64
	// ContentType, CorrelationID and Subject are the sender's, if set.
	ContentType, CorrelationID, Subject string
	// LockToken identifies the lock this delivery holds; for logs.
	LockToken string
	// Properties are the application properties (UserProperties on older
	// hosts): strings as they are, numbers and booleans as their JSON text;
	// nil when there are none.
	Properties map[string]string
}

// Queue reads the serviceBusTrigger binding called binding (the contract
// names it "msg") and the message's metadata.
//
// Data.<binding> must be a string holding the standard base64 encoding of
// the body, which is what the host sends for "dataType": "binary"; anything
// else in a string fails, because with another dataType the host sends the
// body as text that cannot be told apart from base64 reliably. A JSON object
// or array is accepted, with BodyReencoded set, so that a function.json that
// lost its dataType still processes JSON messages instead of rejecting every
// one of them. An empty string is an empty body, not an error: whether that
// is a valid message is for the caller to say.
//
// Metadata members are optional (zero values when absent) but must be
// readable when present: a MessageId that is an object, or a DeliveryCount
// of "abc", is an error naming the member.
func (inv Invocation) Queue(binding string) (QueueMessage, error) {
	raw, path, err := inv.binding(binding)
	if err != nil {
		return QueueMessage{}, err
	}
	var m QueueMessage
	switch k := kindOf(raw); k {
	case kindString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return QueueMessage{}, &DecodeError{Path: path, Problem: err.Error(), Err: err}
		}
		if m.Body, err = base64.StdEncoding.DecodeString(s); err != nil {
			return QueueMessage{}, &DecodeError{Path: path,
				Problem: fmt.Sprintf(`body is not valid base64 (%v); the trigger must declare "dataType": "binary"`, err),
				Err:     err}
		}
	case kindObject, kindArray:
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return QueueMessage{}, &DecodeError{Path: path, Problem: err.Error(), Err: err}
		}
		m.Body, m.BodyReencoded = b.Bytes(), true
	default:
		return QueueMessage{}, malformed(path, "want the base64 of the message body, got %s", k)
	}

	md := inv.Metadata
	strs := []struct {
		dst   *string
		names []string
	}{
		{&m.ID, []string{"MessageId"}},
		{&m.ContentType, []string{"ContentType"}},
		{&m.CorrelationID, []string{"CorrelationId"}},
		{&m.Subject, []string{"Subject", "Label"}}, // Label is the pre-2020 SDK's name
		{&m.LockToken, []string{"LockToken"}},
	}
	for _, f := range strs {
		for _, name := range f.names {
			if v, ok := lookup(md, name); ok {
				if *f.dst, err = hostString(v, "Metadata."+name); err != nil {
					return QueueMessage{}, err
				}
				break
			}
		}
	}

	if v, ok := lookup(md, "DeliveryCount"); ok {
		const path = "Metadata.DeliveryCount"
		n, err := hostInt(v, path)
		if err != nil {
			return QueueMessage{}, err
		}
		// A count is never negative, and one that does not fit an int32
		// (Service Bus's own type) is not a count.
		if n < 0 || n > 1<<31-1 {
			return QueueMessage{}, malformed(path, "%d is out of range", n)
		}
		m.DeliveryCount = int(n)
	}
	if v, ok := lookup(md, "SequenceNumber"); ok {
		if m.SequenceNumber, err = hostInt(v, "Metadata.SequenceNumber"); err != nil {
			return QueueMessage{}, err
		}
	}

	// The zoned times are exact; the *Utc ones lack a zone and serve only
	// when an older host sends nothing else.
	times := []struct {
		dst        *time.Time
		zoned, utc string
	}{
		{&m.EnqueuedTime, "EnqueuedTime", "EnqueuedTimeUtc"},
		{&m.ExpiresAt, "ExpiresAt", "ExpiresAtUtc"},
	}
	for _, f := range times {
		for _, name := range []string{f.zoned, f.utc} {
			v, ok := lookup(md, name)
			if !ok {
				continue
			}
			t, _, err := hostTime(v, "Metadata."+name)
			if err != nil {
				return QueueMessage{}, err
			}
			*f.dst = t
			break
		}
	}

	// ApplicationProperties wins; UserProperties, its legacy alias, fills
	// in what it lacks.
	for _, name := range []string{"ApplicationProperties", "UserProperties"} {
		v, ok := lookup(md, name)
		if !ok {
			continue
		}
		props, err := properties(v, "Metadata."+name)
		if err != nil {
			return QueueMessage{}, err
		}
		for k, p := range props {
			if m.Properties == nil {
				m.Properties = map[string]string{}
			}
			if _, dup := m.Properties[k]; !dup {
				m.Properties[k] = p
			}
		}
	}
	return m, nil
}

// properties reads an application properties object. Values are the
// sender's and may be of any JSON type; they are kept as text rather than
// refused, since the app reads only a few of them. A host that sends the
// object serialised as a string is tolerated.
func properties(raw json.RawMessage, path string) (map[string]string, error) {
	if kindOf(raw) == kindString {
		s, err := hostString(raw, path)
		if err != nil {
			return nil, err
		}
		if kindOf([]byte(s)) == kindMissing {
			return nil, nil
		}
		if !json.Valid([]byte(s)) {
			return nil, malformed(path, "want a JSON object, got a string that is not JSON")
		}
		raw = json.RawMessage(s)
	}
	obj, err := object(raw, path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		if kindOf(v) != kindMissing {
			out[k] = text(v)
		}
	}
	return out, nil
}
