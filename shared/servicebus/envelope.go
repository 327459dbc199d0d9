package servicebus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// MaxLocalMessageSize is the largest storage queue message, in bytes of
// the queue message text (the base64 of the envelope). The service refuses
// larger ones; EncodeLocal refuses them first, with a clear error.
const MaxLocalMessageSize = 64 * 1024

// envelopeVersion is the "v" of the envelopes this package writes.
const envelopeVersion = 1

// Envelope is a local queue message: what Service Bus would carry beside
// the body, which a storage queue message has no room for. The package
// comment shows its wire format.
type Envelope struct {
	// MessageID is the Service Bus MessageId the message would have had:
	// the event id.
	MessageID string
	// Body is the exact message body.
	Body []byte
	// Properties are the application properties. After DecodeLocal, values
	// are strings, booleans and json.Number (numbers keep their exact
	// text); a time published as a property arrives as its RFC 3339 string.
	Properties map[string]any
	// NotBefore is when the message is due; zero means at once. It is kept
	// because a storage queue cannot delay a message by more than seven
	// days: the consumer puts back one that arrives early.
	NotBefore time.Time
}

// wireEnvelope is the JSON form of Envelope. Body is []byte, which
// encoding/json writes as standard base64, so any body survives exactly.
type wireEnvelope struct {
	V          int            `json:"v"`
	MessageID  string         `json:"messageId"`
	Body       []byte         `json:"body"`
	Properties map[string]any `json:"properties,omitempty"`
	NotBefore  string         `json:"notBefore,omitempty"`
}

// EncodeLocal returns the queue message text of env: the standard base64
// of its JSON envelope. It fails with access.KindInvalid when env has no
// MessageID, holds a property that is not a string, number, boolean or
// time, has a NotBefore outside years 1 to 9999, or encodes to more than
// MaxLocalMessageSize bytes.
func EncodeLocal(env Envelope) (string, error) {
	fields := map[string]string{}
	if env.MessageID == "" {
		fields["messageId"] = "required"
	}
	for k, v := range env.Properties {
		if err := checkProperty(k, v); err != nil {
			fields["properties."+k] = err.Error()
		}
	}
	w := wireEnvelope{V: envelopeVersion, MessageID: env.MessageID, Body: env.Body, Properties: env.Properties}
	if w.Body == nil {
		// "body": "" rather than null, so every envelope has a body.
		w.Body = []byte{}
	}
	if !env.NotBefore.IsZero() {
		t := env.NotBefore.UTC()
		if y := t.Year(); y < 1 || y > 9999 {
			fields["notBefore"] = "outside years 1 to 9999"
		}
		w.NotBefore = t.Format(time.RFC3339Nano)
	}
	if len(fields) > 0 {
		return "", invalid("encode local queue message", fields)
	}
	js, err := json.Marshal(w)
	if err != nil {
		return "", access.WrapKind(access.KindInvalid, err, "encode local queue message %s", env.MessageID)
	}
	if n := base64.StdEncoding.EncodedLen(len(js)); n > MaxLocalMessageSize {
		return "", access.Errorf(access.KindInvalid,
			"local queue message %s is %d bytes encoded, over the storage queue limit of %d", env.MessageID, n, MaxLocalMessageSize)
	}
	return base64.StdEncoding.EncodeToString(js), nil
}

// DecodeLocal reads a queue message text written by EncodeLocal. Anything
// else (text that is not base64, not a JSON object, another envelope
// version, no messageId, a malformed notBefore, a property that is not a
// string, number or boolean, or trailing data) fails with
// access.KindInvalid: the consumer moves such a message to the poison queue
// whole. Unknown members are ignored, so that a newer writer may add some.
func DecodeLocal(text string) (Envelope, error) {
	js, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return Envelope{}, access.WrapKind(access.KindInvalid, err, "decode local queue message: not base64")
	}
	// UseNumber keeps numeric properties exact (an int64 id would lose
	// digits as a float64) and as the text the host would show.
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var w wireEnvelope
	if err := dec.Decode(&w); err != nil {
		return Envelope{}, access.WrapKind(access.KindInvalid, err, "decode local queue message")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Envelope{}, access.Errorf(access.KindInvalid, "decode local queue message: data after the envelope")
	}
	fields := map[string]string{}
	if w.V != envelopeVersion {
		fields["v"] = fmt.Sprintf("envelope version %d, want %d", w.V, envelopeVersion)
	}
	if w.MessageID == "" {
		fields["messageId"] = "required"
	}
	env := Envelope{MessageID: w.MessageID, Body: w.Body, Properties: w.Properties}
	if env.Body == nil {
		env.Body = []byte{}
	}
	for k, v := range w.Properties {
		// Only JSON scalars: a time has already become its string.
		switch v.(type) {
		case string, bool, json.Number:
			if k != "" {
				continue
			}
			fields["properties"] = "empty property name"
		default:
			fields["properties."+k] = "not a string, number or boolean"
		}
	}
	if w.NotBefore != "" {
		t, err := time.Parse(time.RFC3339Nano, w.NotBefore)
		switch {
		case err != nil:
			fields["notBefore"] = "not an RFC 3339 time"
		case t.UTC().Year() < 1 || t.UTC().Year() > 9999:
			// An offset can push a 4-digit year out of range in UTC, where
			// EncodeLocal could not write it back.
			fields["notBefore"] = "outside years 1 to 9999"
		default:
			env.NotBefore = t.UTC()
		}
	}
	if len(fields) > 0 {
		return Envelope{}, invalid("decode local queue message", fields)
	}
	return env, nil
}
