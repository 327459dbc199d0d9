package servicebus

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// envelopesEqual compares envelopes as the wire sees them: a nil and an
// empty map or body are the same, and times are equal instants.
func envelopesEqual(a, b Envelope) bool {
	if a.MessageID != b.MessageID || string(a.Body) != string(b.Body) || !a.NotBefore.Equal(b.NotBefore) {
		return false
	}
	if len(a.Properties) != len(b.Properties) {
		return false
	}
	for k, v := range a.Properties {
		w, ok := b.Properties[k]
		if !ok || !reflect.DeepEqual(v, w) {
			return false
		}
	}
	return true
}

func TestEncodeDecodeLocal(t *testing.T) {
	due := time.Date(2027, 2, 25, 8, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		env  Envelope
	}{
		{"minimal", Envelope{MessageID: "e1", Body: []byte(`{}`)}},
		{"empty body", Envelope{MessageID: "e1", Body: []byte{}}},
		// Bytes that JSON text would mangle: invalid UTF-8, NUL, and the
		// characters encoding/json escapes.
		{"exact bytes", Envelope{MessageID: "e1", Body: []byte("{\"a\": \"<&>\"}\n\x00\xff\xfe")}},
		{"properties", Envelope{MessageID: "e1", Body: []byte(`{}`), Properties: map[string]any{
			"schemaVersion": "1", "noticeDays": json.Number("7"), "big": json.Number("9007199254740993"),
			"ratio": json.Number("0.25"), "urgent": true,
		}}},
		{"not before", Envelope{MessageID: "e1", Body: []byte(`{}`), NotBefore: due}},
		{"not before with offset", Envelope{MessageID: "e1", Body: []byte(`{}`), NotBefore: due.In(time.FixedZone("X", 3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := EncodeLocal(tt.env)
			if err != nil {
				t.Fatalf("EncodeLocal: %v", err)
			}
			got, err := DecodeLocal(text)
			if err != nil {
				t.Fatalf("DecodeLocal(EncodeLocal): %v", err)
			}
			if !envelopesEqual(got, tt.env) {
				t.Errorf("round trip = %+v, want %+v", got, tt.env)
			}
			if got.NotBefore.Location() != time.UTC {
				t.Errorf("NotBefore location = %v, want UTC", got.NotBefore.Location())
			}
		})
	}
}

// TestEncodeLocalWire pins the documented format, which cmd/devhost and
// anyone reading a queue in Storage Explorer rely on.
func TestEncodeLocalWire(t *testing.T) {
	text, err := EncodeLocal(Envelope{
		MessageID:  "8b1c",
		Body:       []byte(`{"eventId":"8b1c"}`),
		Properties: map[string]any{"schemaVersion": "1"},
		NotBefore:  time.Date(2027, 2, 25, 9, 0, 0, 0, time.FixedZone("CET", 3600)),
	})
	if err != nil {
		t.Fatal(err)
	}
	js, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		t.Fatalf("text is not standard base64: %v", err)
	}
	want := `{"v":1,"messageId":"8b1c","body":"eyJldmVudElkIjoiOGIxYyJ9","properties":{"schemaVersion":"1"},"notBefore":"2027-02-25T08:00:00Z"}`
	if string(js) != want {
		t.Errorf("envelope JSON =\n%s\nwant\n%s", js, want)
	}
}

func TestEncodeLocalRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  Envelope
	}{
		{"no message id", Envelope{Body: []byte(`{}`)}},
		{"object property", Envelope{MessageID: "e1", Properties: map[string]any{"a": map[string]any{}}}},
		{"malformed number property", Envelope{MessageID: "e1", Properties: map[string]any{"a": json.Number("x")}}},
		{"empty property name", Envelope{MessageID: "e1", Properties: map[string]any{"": "x"}}},
		{"year 10000", Envelope{MessageID: "e1", NotBefore: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"over 64 KiB", Envelope{MessageID: "e1", Body: make([]byte, MaxLocalMessageSize)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := EncodeLocal(tt.env)
			wantInvalid(t, "EncodeLocal", text, err)
		})
	}
}

// wantInvalid fails the test unless a call that returned got refused
// with an error of kind invalid.
func wantInvalid(t *testing.T, call string, got any, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s = %#v, nil; want an error", call, got)
	}
	if k := access.KindOf(err); k != access.KindInvalid {
		t.Errorf("kind = %v (%v), want invalid", k, err)
	}
}

// TestEncodeLocalSizeLimit finds the largest body that fits and checks
// that one more byte is refused: the limit is on the encoded text.
func TestEncodeLocalSizeLimit(t *testing.T) {
	text, body := largestLocal(t, "e1")
	if len(text) > MaxLocalMessageSize || len(text) < MaxLocalMessageSize-4 {
		t.Errorf("largest text is %d bytes, want just under %d", len(text), MaxLocalMessageSize)
	}
	over := Envelope{MessageID: "e1", Body: append(body, 'x'), Properties: map[string]any{"schemaVersion": SchemaVersion}}
	if _, err := EncodeLocal(over); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("one byte more: err = %v, want invalid", err)
	}
}

// largestLocal returns the largest envelope text, and its body (a JSON
// string), for message id id and the properties Publish adds.
func largestLocal(t testing.TB, id string) (string, []byte) {
	t.Helper()
	// Base64 of base64 grows by 16/9, so the body is a little under 9/16 of
	// 64 KiB, the envelope taking the rest.
	n := MaxLocalMessageSize*9/16 - 300
	var text string
	var body []byte
	for {
		b := []byte(`"` + strings.Repeat("a", n) + `"`)
		s, err := EncodeLocal(Envelope{MessageID: id, Body: b, Properties: map[string]any{"schemaVersion": SchemaVersion}})
		if err != nil {
			if text == "" {
				t.Fatalf("a body of %d bytes is already too large: %v", len(b), err)
			}
			return text, body
		}
		text, body = s, b
		n++
	}
}

func TestDecodeLocalRefuses(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"not base64", "{not base64}"},
		{"raw JSON", `{"v":1,"messageId":"e1","body":""}`},
		{"not an object", b64(`[1,2]`)},
		{"null", b64(`null`)},
		{"no version", b64(`{"messageId":"e1","body":""}`)},
		{"other version", b64(`{"v":2,"messageId":"e1","body":""}`)},
		{"no message id", b64(`{"v":1,"body":""}`)},
		{"body not base64", b64(`{"v":1,"messageId":"e1","body":"%%%"}`)},
		{"bad notBefore", b64(`{"v":1,"messageId":"e1","body":"","notBefore":"tomorrow"}`)},
		{"notBefore past year 9999 in UTC", b64(`{"v":1,"messageId":"e1","body":"","notBefore":"9999-12-31T23:00:00-02:00"}`)},
		{"object property", b64(`{"v":1,"messageId":"e1","body":"","properties":{"a":{}}}`)},
		{"null property", b64(`{"v":1,"messageId":"e1","body":"","properties":{"a":null}}`)},
		{"empty property name", b64(`{"v":1,"messageId":"e1","body":"","properties":{"":"x"}}`)},
		{"trailing data", b64(`{"v":1,"messageId":"e1","body":""} {}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeLocal(tt.text)
			wantInvalid(t, "DecodeLocal", got, err)
		})
	}
}

func TestDecodeLocalIgnoresUnknownMembers(t *testing.T) {
	text := base64.StdEncoding.EncodeToString([]byte(`{"v":1,"messageId":"e1","body":"e30=","future":{"x":1}}`))
	got, err := DecodeLocal(text)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Envelope{MessageID: "e1", Body: []byte(`{}`)}); !envelopesEqual(got, want) {
		t.Errorf("DecodeLocal = %+v, want %+v", got, want)
	}
}

func TestLocalDelay(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		notBefore time.Time
		want      time.Duration
		wantSecs  int32
	}{
		{"none", time.Time{}, 0, 0},
		{"past", now.Add(-time.Hour), 0, 0},
		{"now", now, 0, 0},
		{"a fraction of a second rounds up", now.Add(1500 * time.Millisecond), 1500 * time.Millisecond, 2},
		{"a day", now.Add(24 * time.Hour), 24 * time.Hour, 86400},
		{"30 days is capped", now.Add(30 * 24 * time.Hour), MaxLocalDelay, 7*86400 - 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := localDelay(tt.notBefore, now)
			if got != tt.want {
				t.Errorf("localDelay = %v, want %v", got, tt.want)
			}
			if s := seconds(got); s != tt.wantSecs {
				t.Errorf("seconds = %d, want %d", s, tt.wantSecs)
			}
		})
	}
}

// FuzzDecodeLocal feeds DecodeLocal arbitrary queue text: it must not
// panic, and whatever it accepts must encode and decode to the same
// envelope, so that Defer and Poison never turn a good message bad.
func FuzzDecodeLocal(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		env, err := DecodeLocal(text)
		if err != nil {
			if k := access.KindOf(err); k != access.KindInvalid {
				t.Fatalf("kind = %v (%v), want invalid", k, err)
			}
			return
		}
		again, err := EncodeLocal(env)
		if err != nil {
			// JSON escaping can make the re-encoded text longer than the
			// input, so only a small input must re-encode.
			if len(text) < MaxLocalMessageSize/6 {
				t.Fatalf("EncodeLocal(DecodeLocal(%q)): %v", text, err)
			}
			return
		}
		back, err := DecodeLocal(again)
		if err != nil {
			t.Fatalf("DecodeLocal(EncodeLocal(%+v)): %v", env, err)
		}
		if !envelopesEqual(back, env) {
			t.Fatalf("round trip = %+v, want %+v", back, env)
		}
	})
}
