// Package hostcall builds the invocations the Azure Functions host sends a
// custom handler, in the real host's shapes (DESIGN.md section 3, the
// examples in testdata/ at the repository root): {"Data":…,"Metadata":…}
// for a Service Bus trigger with "dataType": "binary", an HTTP trigger
// without request forwarding, and a timer trigger, with every quirk the
// host has: string metadata JSON-quoted ("MessageId":"\"abc\""), numbers
// as strings ("DeliveryCount":"2"), *Utc times without a zone, the binary
// body base64 in Data.msg, headers as lists in Data.req and as single
// strings in Metadata. The local host (cmd/devhost) sends what it builds,
// and the tests, the benchmark and the reliability harness use it to talk
// to the handler as the host would: one builder, so that they cannot
// drift from the host, or from each other.
//
// A zero field takes the value the host would give it (a fresh GUID, the
// current time); tests that want a fixed payload set it.
package hostcall

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// DefaultOrigin is the scheme and host an HTTP invocation's URL gets when
// HTTPArgs.URL is only a path: the host fixtures' function app.
const DefaultOrigin = "https://contoso-mssp-func.azurewebsites.net"

// NeverExpires is what Service Bus reports as the expiry of a message
// without a time to live (.NET's DateTime.MaxValue).
var NeverExpires = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)

// Sys is Metadata.sys, which the host adds to every invocation.
type Sys struct {
	// Function is the function's name (MethodName).
	Function string
	// Now is the invocation's time (UtcNow); zero means time.Now().
	Now time.Time
	// RandGUID is a GUID the host makes per invocation; "" means a fresh
	// one.
	RandGUID string
}

func (s Sys) wire() map[string]string {
	now := s.Now
	if now.IsZero() {
		now = time.Now()
	}
	return map[string]string{"MethodName": s.Function, "UtcNow": NowText(now), "RandGuid": cmp.Or(s.RandGUID, GUID())}
}

// QueueArgs is one delivery of a Service Bus message to a function whose
// trigger has "dataType": "binary".
type QueueArgs struct {
	Sys
	// Binding is the trigger's binding name (the key in Data); "" means
	// "msg".
	Binding string
	// Body is the message body, sent as its base64.
	Body []byte
	// MessageID is the Service Bus MessageId: the event id.
	MessageID string
	// DeliveryCount counts this delivery; 0 means 1, the first.
	DeliveryCount int
	// EnqueuedAt is when the message was enqueued; zero means Sys.Now.
	EnqueuedAt time.Time
	// ExpiresAt is when it expires; zero, or year 9999 and later, means
	// never (NeverExpires).
	ExpiresAt time.Time
	// SequenceNumber is the message's Service Bus sequence number; 0
	// means 1.
	SequenceNumber int64
	// LockToken is the delivery's lock; "" means a fresh GUID.
	LockToken string
	// ContentType is the message's content type; "" means
	// application/json.
	ContentType string
	// Properties are the application properties (sent twice, as
	// ApplicationProperties and UserProperties); nil means none.
	Properties map[string]any
	// Namespace is the Service Bus namespace host the host's client
	// names (Metadata.Client); "" means "localhost". ClientID is that
	// client's identifier; "" means Namespace and a random suffix.
	Namespace, ClientID string
}

// Queue returns the invocation of q, as the host POSTs it.
func Queue(q QueueArgs) []byte {
	ns := cmp.Or(q.Namespace, "localhost")
	props := q.Properties
	if props == nil {
		props = map[string]any{}
	}
	expires := q.ExpiresAt
	if expires.IsZero() || expires.Year() >= 9999 {
		expires = NeverExpires
	}
	enqueued := q.EnqueuedAt
	if enqueued.IsZero() {
		enqueued = q.Now
		if enqueued.IsZero() {
			enqueued = time.Now()
		}
	}
	return encode(map[string]any{
		cmp.Or(q.Binding, "msg"): base64.StdEncoding.EncodeToString(q.Body),
	}, map[string]any{
		// The host serialises its SDK objects too; they arrive empty.
		"MessageReceiver": struct{}{},
		"MessageSession":  struct{}{},
		"MessageActions":  struct{}{},
		"SessionActions":  struct{}{},
		"ReceiveActions":  struct{}{},
		"Client": map[string]any{
			"FullyQualifiedNamespace": ns,
			"IsClosed":                false,
			"TransportType":           0,
			"Identifier":              cmp.Or(q.ClientID, ns+"-"+GUID()[:8]),
		},
		"DeliveryCount":         strconv.Itoa(max(q.DeliveryCount, 1)),
		"LockToken":             Quoted(cmp.Or(q.LockToken, GUID())),
		"ExpiresAtUtc":          UTCText(expires),
		"ExpiresAt":             ZonedText(expires),
		"EnqueuedTimeUtc":       UTCText(enqueued),
		"EnqueuedTime":          ZonedText(enqueued),
		"MessageId":             Quoted(q.MessageID),
		"ContentType":           Quoted(cmp.Or(q.ContentType, "application/json")),
		"SequenceNumber":        strconv.FormatInt(max(q.SequenceNumber, 1), 10),
		"ApplicationProperties": props,
		"UserProperties":        props,
		"sys":                   q.Sys.wire(),
	})
}

// HTTPArgs is one request to an HTTP trigger, which the host sends without
// request forwarding.
type HTTPArgs struct {
	Sys
	// Binding is the trigger's binding name; "" means "req".
	Binding string
	// Method is the request's method; "" means POST.
	Method string
	// URL is the request's absolute URL; one that is only a path is taken
	// on DefaultOrigin. Its query becomes Query, each name's values
	// joined with ",", as the host joins them.
	URL string
	// Header is the request's header, Host included if it should be:
	// lists in Data.req.Headers, the values joined with "," in
	// Metadata.Headers.
	Header http.Header
	// Body is the raw request body, sent as a JSON string.
	Body []byte
	// Params are the route parameters; nil means none.
	Params map[string]string
}

// HTTP returns the invocation of h, as the host POSTs it.
func HTTP(h HTTPArgs) []byte {
	raw := h.URL
	if strings.HasPrefix(raw, "/") {
		raw = DefaultOrigin + raw
	}
	query := map[string]string{}
	if u, err := url.Parse(raw); err == nil {
		for k, vs := range u.Query() {
			query[k] = strings.Join(vs, ",")
		}
	}
	headers, flat := map[string][]string{}, map[string]string{}
	for k, vs := range h.Header {
		headers[k] = vs
		flat[k] = strings.Join(vs, ",")
	}
	params := h.Params
	if params == nil {
		params = map[string]string{}
	}
	return encode(map[string]any{cmp.Or(h.Binding, "req"): map[string]any{
		"Url":        raw,
		"Method":     cmp.Or(h.Method, http.MethodPost),
		"Query":      query,
		"Headers":    headers,
		"Params":     params,
		"Identities": []any{},
		"Body":       string(h.Body),
	}}, map[string]any{
		"Headers": flat,
		"Query":   query,
		"Params":  params,
		"sys":     h.Sys.wire(),
	})
}

// TimerArgs is one run of a timer trigger.
type TimerArgs struct {
	Sys
	// Binding is the trigger's binding name; "" means "timer".
	Binding string
	// PastDue says the run is late (IsPastDue).
	PastDue bool
	// Status is what the host's schedule monitor recorded; nil (the first
	// run) is sent as "ScheduleStatus": null.
	Status *ScheduleStatus
}

// ScheduleStatus is a timer's Data.<binding>.ScheduleStatus: the previous
// run's occurrence, the next one after this run, and when the monitor
// last wrote it.
type ScheduleStatus struct {
	Last, Next, LastUpdated time.Time
}

// Timer returns the invocation of t, as the host POSTs it.
func Timer(t TimerArgs) []byte {
	var status any // JSON null
	if st := t.Status; st != nil {
		status = map[string]string{
			"Last":        ZonedText(st.Last),
			"Next":        ZonedText(st.Next),
			"LastUpdated": ZonedText(st.LastUpdated),
		}
	}
	return encode(map[string]any{cmp.Or(t.Binding, "timer"): map[string]any{
		"Schedule":       map[string]bool{"AdjustForDST": true},
		"ScheduleStatus": status,
		"IsPastDue":      t.PastDue,
	}}, map[string]any{"sys": t.Sys.wire()})
}

// Invoke POSTs payload to base + "/" + function as the host does
// (Content-Type application/json, the invocation id header; a fresh GUID
// when invocationID is ""), with client (nil means http.DefaultClient).
// The caller closes the answer's body.
func Invoke(ctx context.Context, client *http.Client, base, function, invocationID string, payload []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/"+function, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(funchost.InvocationIDHeader, cmp.Or(invocationID, GUID()))
	if client == nil {
		client = http.DefaultClient
	}
	return client.Do(req)
}

// encode writes an invocation as the host's serializer does: no HTML
// escaping.
func encode(data, metadata map[string]any) []byte {
	b, err := funchost.Marshal(struct {
		Data     map[string]any `json:"Data"`
		Metadata map[string]any `json:"Metadata"`
	}{data, metadata})
	if err != nil {
		// Only strings, maps of them, times as text and numbers go in;
		// a property that cannot encode is the caller's bug.
		panic(fmt.Sprintf("hostcall: encode an invocation: %v", err))
	}
	return b
}

// Quoted renders s as a JSON string, which is how the host sends string
// metadata: "MessageId":"\"abc\"".
func Quoted(s string) string {
	b, _ := funchost.Marshal(s) // a string always encodes
	return string(b)
}

// Times in the host's formats (.NET's round-trip format): sys.UtcNow with
// seven fraction digits and a Z (NowText), *Utc metadata without a zone
// (UTCText), the other times with +00:00 (ZonedText).
func NowText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// UTCText is a time as the host writes the *Utc metadata: no zone.
func UTCText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.9999999") }

// ZonedText is a time as the host writes the others: +00:00.
func ZonedText(t time.Time) string { return UTCText(t) + "+00:00" }

// GUID returns a random (version 4) GUID, the form of the host's
// invocation ids, RandGuid and lock tokens.
func GUID() string { return uuid.NewString() }

// FormatGUID lays 16 bytes out as a version 4 GUID, for callers that draw
// the bytes from a seeded generator.
func FormatGUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}
