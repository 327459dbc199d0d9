// Package funchost is the one place the Azure Functions custom-handler wire
// format is decoded and encoded, so that handlers work with typed values and
// never with map[string]any.
//
// The host POSTs an invocation {"Data":{…},"Metadata":{…}} to /<function>.
// Decode (or DecodeRequest) reads it into an Invocation, and the typed
// accessors Queue, Timer and HTTP read one trigger binding out of it, taking
// the real host's quirks into account: string metadata that arrives
// JSON-quoted twice, numbers that arrive as strings, times without a zone,
// a binary Service Bus body sent as base64, an HTTP body sent as a JSON string.
//
// The handler answers {"Outputs":…,"Logs":[…],"ReturnValue":…}. For an HTTP
// function (no request forwarding) the response to the client travels in
// Outputs.res and the outer status is always 200: see WriteHTTP. For a queue
// or timer function the outer status is the outcome the host acts on: 2xx
// completes the message, anything else fails the invocation so that Service
// Bus redelivers it: see WriteOutcome.
//
// Decoding is strict about what the app relies on (the trigger payload, the
// types of the values it reads) and lenient about what the host adds (unknown
// members are ignored, absent metadata leaves zero values).
package funchost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"
)

// InvocationIDHeader is the request header in which the host sends the
// invocation id on its POST to the handler.
const InvocationIDHeader = "X-Azure-Functions-InvocationId"

// MaxHTTPBody is the largest HTTP request body the app accepts, in bytes, as
// the client sent it (the contract answers 413 above it). HTTP enforces it.
const MaxHTTPBody = 256 << 10

// DefaultLimit is the envelope size limit used when Decode is given a limit
// of zero or less. The envelope is much larger than the body it carries: a
// body as a JSON string may grow sixfold when every byte needs a \u00XX
// escape, the host may copy the top-level members of a JSON body into
// Metadata, headers arrive twice, and a binary Service Bus body grows by a
// third as base64. 4 MiB leaves room for a MaxHTTPBody body in the worst case
// and for a 256 KiB Service Bus message (the Standard tier's maximum) many
// times over, while still bounding what one invocation can make us allocate.
const DefaultLimit = 4 << 20

// ErrTooLarge is matched (with errors.Is) by decode errors caused by a size
// limit: the envelope over Decode's limit, or an HTTP body over MaxHTTPBody.
// HTTP functions answer it with 413.
var ErrTooLarge = errors.New("funchost: too large")

// ErrMalformed is matched (with errors.Is) by every decode error that is not
// ErrTooLarge and not an I/O error: the host sent something that does not
// fit the wire format. For a queue function no retry can fix it, so the
// caller records the message as rejected.
var ErrMalformed = errors.New("funchost: malformed invocation")

// DecodeError says precisely what is wrong with an invocation, so that the
// reason recorded for a rejected message is useful on its own.
type DecodeError struct {
	// Path locates the offending value, e.g. "Data.msg" or
	// "Metadata.DeliveryCount"; empty for the envelope as a whole.
	Path string
	// Problem says what is wrong, e.g. `"abc" is not an integer`.
	Problem string
	// Err is ErrTooLarge for size limits, else the underlying cause, if any.
	Err error
}

// Error reports the path and the problem.
func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "funchost: invocation: " + e.Problem
	}
	return "funchost: " + e.Path + ": " + e.Problem
}

// Unwrap returns the cause, so that errors.Is(err, ErrTooLarge) works.
func (e *DecodeError) Unwrap() error { return e.Err }

// Is makes every DecodeError that is not about size match ErrMalformed.
func (e *DecodeError) Is(target error) bool {
	return target == ErrMalformed && !errors.Is(e.Err, ErrTooLarge)
}

func malformed(path, format string, args ...any) error {
	return &DecodeError{Path: path, Problem: fmt.Sprintf(format, args...)}
}

// Invocation is one decoded invocation envelope. Data and Metadata keep each
// member undecoded: only the accessor for the trigger's type knows how to
// read it.
type Invocation struct {
	// ID is the invocation id from the InvocationIDHeader header; empty when
	// decoded with Decode rather than DecodeRequest.
	ID string
	// FunctionName is Metadata.sys.MethodName, the function's name.
	FunctionName string
	// UtcNow is Metadata.sys.UtcNow, the host's clock when it invoked us;
	// zero if absent or unreadable. Handlers should keep using their own
	// clock: this is for logs.
	UtcNow time.Time
	// RandGUID is Metadata.sys.RandGuid, a fresh GUID from the host.
	RandGUID string
	// Data holds the input bindings by name, undecoded.
	Data map[string]json.RawMessage
	// Metadata holds the trigger metadata by name, undecoded.
	Metadata map[string]json.RawMessage
}

// Decode reads one invocation envelope of at most limit bytes from r
// (DefaultLimit if limit <= 0). It fails with an error matching ErrTooLarge
// if r holds more, with a *DecodeError matching ErrMalformed if the envelope
// is not a JSON object with a Data object, and with the read error otherwise.
// Metadata and its sys member are optional: the host always sends them, but
// nothing the app must have depends on them.
func Decode(r io.Reader, limit int64) (Invocation, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	read := limit
	if read < math.MaxInt64 {
		read++ // one byte more tells "exactly the limit" from "over it"
	}
	b, err := io.ReadAll(io.LimitReader(r, read))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Invocation{}, &DecodeError{Problem: fmt.Sprintf("over the %d-byte limit", mbe.Limit), Err: ErrTooLarge}
		}
		return Invocation{}, fmt.Errorf("funchost: read invocation: %w", err)
	}
	if int64(len(b)) > limit {
		return Invocation{}, &DecodeError{Problem: fmt.Sprintf("over the %d-byte limit", limit), Err: ErrTooLarge}
	}

	if len(bytes.TrimSpace(b)) == 0 {
		return Invocation{}, malformed("", "empty, want a JSON object")
	}
	var env map[string]json.RawMessage
	if k := kindOf(b); k != kindObject {
		if err := json.Unmarshal(b, new(json.RawMessage)); err != nil {
			return Invocation{}, notJSON(err)
		}
		return Invocation{}, malformed("", "want a JSON object, got %s", k)
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return Invocation{}, notJSON(err)
	}

	var inv Invocation
	data, ok := lookup(env, "Data")
	if !ok {
		return Invocation{}, malformed("Data", "missing")
	}
	if inv.Data, err = object(data, "Data"); err != nil {
		return Invocation{}, err
	}
	if meta, ok := lookup(env, "Metadata"); ok {
		if inv.Metadata, err = object(meta, "Metadata"); err != nil {
			return Invocation{}, err
		}
	}
	if inv.Metadata == nil {
		inv.Metadata = map[string]json.RawMessage{}
	}
	inv.readSys()
	return inv, nil
}

// DecodeRequest decodes the invocation in the body of the host's POST and
// takes its id from the InvocationIDHeader header. See Decode for the limit
// and the errors.
func DecodeRequest(req *http.Request, limit int64) (Invocation, error) {
	var body io.Reader = http.NoBody
	if req.Body != nil {
		body = req.Body
	}
	inv, err := Decode(body, limit)
	if err != nil {
		return Invocation{}, err
	}
	inv.ID = req.Header.Get(InvocationIDHeader)
	return inv, nil
}

// notJSON reports a syntax error with its offset, which is what someone
// reading a rejected record needs to find the fault.
func notJSON(err error) error {
	return &DecodeError{Problem: "not JSON: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
}

// readSys reads Metadata.sys leniently: it is host bookkeeping that only
// feeds logs, so a surprise there must not fail the invocation.
func (inv *Invocation) readSys() {
	raw, ok := lookup(inv.Metadata, "sys")
	if !ok || kindOf(raw) != kindObject {
		return
	}
	sys, err := object(raw, "Metadata.sys")
	if err != nil {
		return
	}
	if v, ok := lookup(sys, "MethodName"); ok {
		inv.FunctionName, _ = hostString(v, "")
	}
	if v, ok := lookup(sys, "RandGuid"); ok {
		inv.RandGUID, _ = hostString(v, "")
	}
	if v, ok := lookup(sys, "UtcNow"); ok {
		if s, err := hostString(v, ""); err == nil {
			inv.UtcNow, _ = parseTime(s)
		}
	}
}

// binding returns the input binding called name, or an error naming the
// bindings the host did send, which usually reveals a function.json typo.
func (inv Invocation) binding(name string) (json.RawMessage, string, error) {
	path := "Data." + name
	raw, ok := lookup(inv.Data, name)
	if !ok {
		keys := make([]string, 0, len(inv.Data))
		for k := range inv.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		const show = 5
		more := ""
		if len(keys) > show {
			more = fmt.Sprintf(" and %d more", len(keys)-show)
			keys = keys[:show]
		}
		for i, k := range keys {
			keys[i] = quoteShort(k)
		}
		has := "none"
		if len(keys) > 0 {
			has = strings.Join(keys, ", ") + more
		}
		return nil, path, malformed(path, "binding missing (Data holds: %s)", has)
	}
	return raw, path, nil
}

// kind is the JSON type of a raw value, told from its first byte.
type kind int

const (
	kindMissing kind = iota // absent or JSON null
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
)

func (k kind) String() string {
	switch k {
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	}
	return "null"
}

// kindOf assumes raw is valid JSON (or empty), which holds for every value
// cut out of an envelope that json.Unmarshal accepted.
func kindOf(raw []byte) kind {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return kindMissing
	}
	switch raw[0] {
	case '{':
		return kindObject
	case '[':
		return kindArray
	case '"':
		return kindString
	case 't', 'f':
		return kindBool
	case 'n':
		return kindMissing
	}
	return kindNumber
}

// lookup finds a member by name. The host's own names are stable, but it is
// a .NET program with case-insensitive dictionaries, and a local stand-in
// host may spell them differently: an exact match wins, then the smallest
// key equal under case folding, so that the choice never depends on map
// order. A JSON null counts as absent.
func lookup(obj map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := obj[name]
	if !ok {
		best := ""
		for k := range obj {
			if strings.EqualFold(k, name) && (!ok || k < best) {
				best, ok = k, true
			}
		}
		raw = obj[best]
	}
	if !ok || kindOf(raw) == kindMissing {
		return nil, false
	}
	return raw, true
}

// object decodes a JSON object's members, or says what the value is instead.
func object(raw json.RawMessage, path string) (map[string]json.RawMessage, error) {
	if k := kindOf(raw); k != kindObject {
		return nil, malformed(path, "want a JSON object, got %s", k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &DecodeError{Path: path, Problem: err.Error(), Err: err}
	}
	return m, nil
}
