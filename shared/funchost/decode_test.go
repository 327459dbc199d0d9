package funchost

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixture reads a host payload from testdata/host (copied from the
// project's shared fixtures: they are facts about real hosts).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "host", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replace edits a fixture, failing the test unless old occurs exactly once,
// so that a case never silently tests the unedited fixture.
func replace(t testing.TB, s []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(s, []byte(old)); n != 1 {
		t.Fatalf("fixture holds %q %d times, want once", old, n)
	}
	return bytes.Replace(s, []byte(old), []byte(new), 1)
}

func decode(t *testing.T, b []byte) Invocation {
	t.Helper()
	inv, err := Decode(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return inv
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestFixtures decodes every file in testdata/host and checks the typed
// values against what the file says. A new fixture without a case fails.
func TestFixtures(t *testing.T) {
	checks := map[string]func(t *testing.T, b []byte){
		"servicebus-invitation-sent.json": func(t *testing.T, b []byte) {
			inv := decode(t, b)
			checkSys(t, inv, "invitation-sent", "2026-11-27T08:00:01.8823451Z", "b2a1c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
			m, err := inv.Queue("msg")
			if err != nil {
				t.Fatalf("Queue: %v", err)
			}
			const id = "5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10"
			if m.ID != id {
				t.Errorf("ID = %q, want %q", m.ID, id)
			}
			var body struct {
				EventID    string `json:"eventId"`
				OccurredAt string `json:"occurredAt"`
			}
			if err := json.Unmarshal(m.Body, &body); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, m.Body)
			}
			if body.EventID != id {
				t.Errorf("body eventId = %q, want %q (the MessageId)", body.EventID, id)
			}
			if !bytes.HasPrefix(m.Body, []byte(`{"eventId":"5d0f4c1e`)) || !bytes.HasSuffix(m.Body, []byte(`"customerContacts":["secops@contoso.example"]}`)) {
				t.Errorf("body = %s, want the exact base64-decoded bytes", m.Body)
			}
			if m.BodyReencoded {
				t.Errorf("BodyReencoded = true, want false for a base64 body")
			}
			got := []any{m.DeliveryCount, m.SequenceNumber, m.ContentType, m.LockToken, m.CorrelationID, m.Subject}
			want := []any{1, int64(42), "application/json", "3c1e5b7a-9d2f-4e6a-8b0c-1d2e3f4a5b6c", "", ""}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DeliveryCount, SequenceNumber, ContentType, LockToken, CorrelationID, Subject = %v, want %v", got, want)
			}
			if want := mustTime(t, "2026-11-27T08:00:01Z"); !m.EnqueuedTime.Equal(want) || m.EnqueuedTime.Location() != time.UTC {
				t.Errorf("EnqueuedTime = %v, want %v", m.EnqueuedTime, want)
			}
			if want := mustTime(t, "2026-12-11T08:00:01Z"); !m.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", m.ExpiresAt, want)
			}
			if want := map[string]string{"schemaVersion": "1"}; !reflect.DeepEqual(m.Properties, want) {
				t.Errorf("Properties = %v, want %v", m.Properties, want)
			}
		},
		"timer-expiry-sweep.json": func(t *testing.T, b []byte) {
			inv := decode(t, b)
			checkSys(t, inv, "expiry-sweep", "2026-11-27T08:00:00.0031522Z", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")
			tm, err := inv.Timer("timer")
			if err != nil {
				t.Fatalf("Timer: %v", err)
			}
			want := TimerInfo{IsPastDue: false, Status: &ScheduleStatus{
				Last:        mustTime(t, "2026-11-27T07:00:00.0019877Z").UTC(),
				Next:        mustTime(t, "2026-11-27T09:00:00Z").UTC(),
				LastUpdated: mustTime(t, "2026-11-27T07:00:00.0019877Z").UTC(),
			}}
			if tm.IsPastDue != want.IsPastDue || tm.Status == nil || *tm.Status != *want.Status {
				t.Errorf("Timer = %+v (status %+v), want %+v (status %+v)", tm, tm.Status, want, want.Status)
			}
		},
		"timer-expiry-sweep-first-run.json": func(t *testing.T, b []byte) {
			tm, err := decode(t, b).Timer("timer")
			if err != nil {
				t.Fatalf("Timer: %v", err)
			}
			if !tm.IsPastDue || tm.Status != nil {
				t.Errorf("Timer = {IsPastDue:%v Status:%+v}, want {IsPastDue:true Status:<nil>}", tm.IsPastDue, tm.Status)
			}
		},
		"http-ticket-webhook.json": func(t *testing.T, b []byte) {
			inv := decode(t, b)
			checkSys(t, inv, "ticket-webhook", "2026-11-27T08:00:00.1234567Z", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
			r, err := inv.HTTP("req")
			if err != nil {
				t.Fatalf("HTTP: %v", err)
			}
			// The expected body is the JSON string's content, read here
			// without the package under test.
			var raw struct {
				Data struct {
					Req struct{ Body string }
				}
			}
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Body, []byte(raw.Data.Req.Body)) || r.BodyReencoded {
				t.Errorf("Body = %q (reencoded %v)\nwant %q (reencoded false)", r.Body, r.BodyReencoded, raw.Data.Req.Body)
			}
			if !bytes.HasPrefix(r.Body, []byte(`{"deliveryId": "d-0001", "action": "request-access",`)) {
				t.Errorf("Body = %q, want the client's bytes, spaces included", r.Body)
			}
			sig := "sha256=<hex HMAC-SHA256(secret, timestamp + '.' + body)>"
			wantHeader := http.Header{
				"Content-Type":          {"application/json"},
				"X-Signature-Timestamp": {"1795766400"},
				"X-Signature":           {sig},
				"User-Agent":            {"ServiceNow/1.0"},
			}
			if !reflect.DeepEqual(r.Header, wantHeader) {
				t.Errorf("Header = %v, want %v", r.Header, wantHeader)
			}
			if got := r.Header.Get("x-signature"); got != sig {
				t.Errorf("Header.Get(x-signature) = %q, want %q", got, sig)
			}
			if r.Method != "POST" || r.URL.String() != "https://contoso-mssp-func.azurewebsites.net/api/webhooks/ticketing" || r.URL.Path != "/api/webhooks/ticketing" {
				t.Errorf("Method, URL = %s %s, want POST https://contoso-mssp-func.azurewebsites.net/api/webhooks/ticketing", r.Method, r.URL)
			}
			if len(r.Query) != 0 || r.Query == nil || len(r.Params) != 0 || r.Params == nil {
				t.Errorf("Query, Params = %#v, %#v, want empty and non-nil", r.Query, r.Params)
			}
			if string(r.Identities) != "[]" {
				t.Errorf("Identities = %s, want []", r.Identities)
			}
		},
		"http-response-example.json": func(t *testing.T, b []byte) {
			// A response, not an invocation: TestEncodeGolden checks that
			// the encoder reproduces it. Decoding it must fail cleanly.
			_, err := Decode(bytes.NewReader(b), 0)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "Data: missing") {
				t.Errorf("Decode(response) error = %v, want ErrMalformed about Data", err)
			}
		},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "host", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		check, ok := checks[name]
		if !ok {
			t.Errorf("fixture %s has no check: add one", name)
			continue
		}
		t.Run(name, func(t *testing.T) { check(t, fixture(t, name)) })
	}
}

func checkSys(t *testing.T, inv Invocation, name, now, guid string) {
	t.Helper()
	if inv.FunctionName != name || !inv.UtcNow.Equal(mustTime(t, now)) || inv.RandGUID != guid {
		t.Errorf("sys = %q %v %q, want %q %v %q", inv.FunctionName, inv.UtcNow, inv.RandGUID, name, now, guid)
	}
}

// TestQueueLenient covers the shapes the host may use besides the
// fixture's: each must decode to the expected value.
func TestQueueLenient(t *testing.T) {
	sb := fixture(t, "servicebus-invitation-sent.json")
	for _, tc := range []struct {
		name  string
		in    []byte
		check func(m QueueMessage) (got, want any)
	}{
		{"unquoted MessageId",
			replace(t, sb, `"MessageId": "\"5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10\""`, `"MessageId": "5d0f4c1e"`),
			func(m QueueMessage) (any, any) { return m.ID, "5d0f4c1e" }},
		{"MessageId with escapes inside the quotes",
			replace(t, sb, `"MessageId": "\"5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10\""`, `"MessageId": "\"a\\\"b\""`),
			func(m QueueMessage) (any, any) { return m.ID, `a"b` }},
		{"a lone quote is kept",
			replace(t, sb, `"MessageId": "\"5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10\""`, `"MessageId": "\"abc"`),
			func(m QueueMessage) (any, any) { return m.ID, `"abc` }},
		{"DeliveryCount as a number",
			replace(t, sb, `"DeliveryCount": "1"`, `"DeliveryCount": 7`),
			func(m QueueMessage) (any, any) { return m.DeliveryCount, 7 }},
		{"DeliveryCount quoted twice",
			replace(t, sb, `"DeliveryCount": "1"`, `"DeliveryCount": "\"3\""`),
			func(m QueueMessage) (any, any) { return m.DeliveryCount, 3 }},
		{"SequenceNumber as a number",
			replace(t, sb, `"SequenceNumber": "42"`, `"SequenceNumber": 9007199254740993`),
			func(m QueueMessage) (any, any) { return m.SequenceNumber, int64(9007199254740993) }},
		{"no zoned EnqueuedTime: the Utc one, as UTC",
			replace(t, sb, `"EnqueuedTime": "2026-11-27T08:00:01+00:00",`, ``),
			func(m QueueMessage) (any, any) { return m.EnqueuedTime, mustTime(t, "2026-11-27T08:00:01Z") }},
		{"zoned time with an offset, in UTC",
			replace(t, sb, `"EnqueuedTime": "2026-11-27T08:00:01+00:00"`, `"EnqueuedTime": "2026-11-27T09:30:01.1234567+01:30"`),
			func(m QueueMessage) (any, any) { return m.EnqueuedTime, mustTime(t, "2026-11-27T08:00:01.1234567Z") }},
		{"no expiry",
			replace(t, sb, `"ExpiresAt": "2026-12-11T08:00:01+00:00"`, `"ExpiresAt": "9999-12-31T23:59:59.9999999+00:00"`),
			func(m QueueMessage) (any, any) { return m.ExpiresAt, mustTime(t, "9999-12-31T23:59:59.9999999Z") }},
		{"no metadata at all",
			[]byte(`{"Data":{"msg":"e30="}}`),
			func(m QueueMessage) (any, any) {
				return []any{m.ID, string(m.Body), m.DeliveryCount, m.EnqueuedTime.IsZero(), m.Properties == nil}, []any{"", "{}", 0, true, true}
			}},
		{"empty body",
			[]byte(`{"Data":{"msg":""},"Metadata":{}}`),
			func(m QueueMessage) (any, any) { return []any{len(m.Body), m.BodyReencoded}, []any{0, false} }},
		{"JSON object body (dataType not binary)",
			[]byte(`{"Data":{"msg":{ "eventId" : "e1", "n": [1, 2] }},"Metadata":{}}`),
			func(m QueueMessage) (any, any) {
				return []any{string(m.Body), m.BodyReencoded}, []any{`{"eventId":"e1","n":[1,2]}`, true}
			}},
		{"binding and envelope keys in another case",
			[]byte(`{"data":{"MSG":"e30="},"metadata":{"messageid":"\"x\"","deliverycount":"4"}}`),
			func(m QueueMessage) (any, any) { return []any{m.ID, m.DeliveryCount}, []any{"x", 4} }},
		{"properties of every type; UserProperties fills gaps",
			[]byte(`{"Data":{"msg":""},"Metadata":{"ApplicationProperties":{"a":"x","n":1.5,"b":true,"z":null,"o":{"k": [1]}},"UserProperties":{"a":"other","u":"only here"}}}`),
			func(m QueueMessage) (any, any) {
				return m.Properties, map[string]string{"a": "x", "n": "1.5", "b": "true", "o": `{"k":[1]}`, "u": "only here"}
			}},
		{"properties serialised as a string",
			[]byte(`{"Data":{"msg":""},"Metadata":{"UserProperties":"{\"schemaVersion\":\"2\"}"}}`),
			func(m QueueMessage) (any, any) { return m.Properties, map[string]string{"schemaVersion": "2"} }},
		{"Label is the old Subject; CorrelationId",
			[]byte(`{"Data":{"msg":""},"Metadata":{"Label":"\"grant\"","CorrelationId":"\"c-1\""}}`),
			func(m QueueMessage) (any, any) { return []any{m.Subject, m.CorrelationID}, []any{"grant", "c-1"} }},
		{"null metadata values are absent",
			[]byte(`{"Data":{"msg":""},"Metadata":{"MessageId":null,"DeliveryCount":null,"EnqueuedTime":null,"ApplicationProperties":null}}`),
			func(m QueueMessage) (any, any) {
				return []any{m.ID, m.DeliveryCount, m.EnqueuedTime.IsZero(), m.Properties == nil}, []any{"", 0, true, true}
			}},
		{"base64 with line breaks",
			[]byte(`{"Data":{"msg":"eyJh\r\nIjoxfQ=="}}`),
			func(m QueueMessage) (any, any) { return string(m.Body), `{"a":1}` }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decode(t, tc.in).Queue("msg")
			if err != nil {
				t.Fatalf("Queue: %v", err)
			}
			got, want := tc.check(m)
			if tm, ok := want.(time.Time); ok {
				if g := got.(time.Time); !g.Equal(tm) || g.Location() != time.UTC {
					t.Errorf("got %v, want %v", g, tm)
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestTimerLenient(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want TimerInfo
	}{
		{"missing members", `{"Data":{"timer":{}}}`, TimerInfo{}},
		{"IsPastDue as a string", `{"Data":{"timer":{"IsPastDue":"True"}}}`, TimerInfo{IsPastDue: true}},
		{"the object serialised as a string", `{"Data":{"timer":"{\"IsPastDue\":true,\"ScheduleStatus\":null}"}}`, TimerInfo{IsPastDue: true}},
		{"zoneless times as UTC, empty status", `{"Data":{"timer":{"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-27T09:00:00"}}}}`,
			TimerInfo{Status: &ScheduleStatus{Next: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(t, []byte(tc.in)).Timer("timer")
			if err != nil {
				t.Fatalf("Timer: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Timer = %+v (status %+v), want %+v (status %+v)", got, got.Status, tc.want, tc.want.Status)
			}
		})
	}
}

func TestHTTPLenient(t *testing.T) {
	wh := fixture(t, "http-ticket-webhook.json")
	for _, tc := range []struct {
		name  string
		in    []byte
		check func(r HTTPRequest) (got, want any)
	}{
		{"Body as a JSON object is re-encoded and flagged",
			[]byte(`{"Data":{"req":{"Method":"post","Body":{ "a" : [1, "<b>"] }}}}`),
			func(r HTTPRequest) (any, any) {
				return []any{string(r.Body), r.BodyReencoded, r.Method}, []any{`{"a":[1,"<b>"]}`, true, "POST"}
			}},
		{"no Body",
			[]byte(`{"Data":{"req":{"Method":"GET","Body":null}}}`),
			func(r HTTPRequest) (any, any) { return []any{r.Body == nil, r.BodyReencoded}, []any{true, false} }},
		{"Body with escapes keeps the exact bytes",
			[]byte(`{"Data":{"req":{"Method":"POST","Body":"a\u0000\t\"\\\u00e9\ud83d\ude00"}}}`),
			func(r HTTPRequest) (any, any) { return string(r.Body), "a\x00\t\"\\é😀" }},
		{"Headers as single strings; keys canonicalised and merged",
			[]byte(`{"Data":{"req":{"Method":"POST","Headers":{"x-signature":"s1","X-SIGNATURE":["s2"],"etag":"\"v1\"","Gone":null}}}}`),
			func(r HTTPRequest) (any, any) {
				return r.Header, http.Header{"X-Signature": {"s2", "s1"}, "Etag": {`"v1"`}}
			}},
		{"no Data.req.Headers: Metadata.Headers",
			replace(t, wh, `"Headers": {
    "Content-Type": [
     "application/json"
    ],
    "X-Signature-Timestamp": [
     "1795766400"
    ],
    "X-Signature": [
     "sha256=<hex HMAC-SHA256(secret, timestamp + '.' + body)>"
    ],
    "User-Agent": [
     "ServiceNow/1.0"
    ]
   },`, ``),
			func(r HTTPRequest) (any, any) {
				return []any{r.Header.Get("X-Signature-Timestamp"), len(r.Header)}, []any{"1795766400", 4}
			}},
		{"Query as strings and lists",
			[]byte(`{"Data":{"req":{"Method":"GET","Url":"http://h/api/grants?ignored=1","Query":{"status":"active","id":["a","b"]}}}}`),
			func(r HTTPRequest) (any, any) { return r.Query, url.Values{"status": {"active"}, "id": {"a", "b"}} }},
		{"no Query: the URL's",
			[]byte(`{"Data":{"req":{"Method":"GET","Url":"http://h/api/grants?status=active&x=1&x=2"}}}`),
			func(r HTTPRequest) (any, any) { return r.Query, url.Values{"status": {"active"}, "x": {"1", "2"}} }},
		{"Params, optional ones null; Metadata.Params as fallback",
			[]byte(`{"Data":{"req":{"Method":"GET"}},"Metadata":{"Params":{"customerTenantId":"t1","grantId":null,"n":5}}}`),
			func(r HTTPRequest) (any, any) { return r.Params, map[string]string{"customerTenantId": "t1", "n": "5"} }},
		{"body of exactly MaxHTTPBody",
			[]byte(`{"Data":{"req":{"Method":"POST","Body":"` + strings.Repeat("x", MaxHTTPBody) + `"}}}`),
			func(r HTTPRequest) (any, any) { return len(r.Body), MaxHTTPBody }},
		{"body of MaxHTTPBody control characters fits the default envelope limit",
			[]byte(`{"Data":{"req":{"Method":"POST","Body":"` + strings.Repeat(`\u0001`, MaxHTTPBody) + `"}}}`),
			func(r HTTPRequest) (any, any) { return len(r.Body), MaxHTTPBody }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decode(t, tc.in).HTTP("req")
			if err != nil {
				t.Fatalf("HTTP: %v", err)
			}
			if got, want := tc.check(r); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

// TestMalformed checks that each kind of bad input is an error that says
// where and what, matching the right sentinel, and never a panic.
func TestMalformed(t *testing.T) {
	sb := fixture(t, "servicebus-invitation-sent.json")
	wh := fixture(t, "http-ticket-webhook.json")
	tm := fixture(t, "timer-expiry-sweep.json")
	big := `{"Data":{"req":{"Method":"POST","Body":"` + strings.Repeat("x", MaxHTTPBody+1) + `"}}}`
	bigObject := `{"Data":{"req":{"Method":"POST","Body":["` + strings.Repeat("x", MaxHTTPBody) + `"]}}}`

	for _, tc := range []struct {
		name    string
		in      []byte
		limit   int64
		binding string // "msg" (Queue), "timer" (Timer), "req" (HTTP), "" (Decode only)
		is      error
		want    string // a substring of the message
	}{
		{"not JSON", []byte(`{"Data":`), 0, "", ErrMalformed, "invocation: not JSON: unexpected end of JSON input"},
		{"not JSON at an offset", []byte(`{"Data": {}, x}`), 0, "", ErrMalformed, "not JSON: invalid character 'x'"},
		{"empty", nil, 0, "", ErrMalformed, "invocation: empty"},
		{"JSON but not an object", []byte(`[{"Data":{}}]`), 0, "", ErrMalformed, "want a JSON object, got an array"},
		{"null", []byte(`null`), 0, "", ErrMalformed, "want a JSON object, got null"},
		{"trailing data", append(append([]byte{}, sb...), `{}`...), 0, "", ErrMalformed, "not JSON"},
		{"Data missing", []byte(`{"Metadata":{}}`), 0, "", ErrMalformed, "Data: missing"},
		{"Data null", []byte(`{"Data":null}`), 0, "", ErrMalformed, "Data: missing"},
		{"Data a string", []byte(`{"Data":"x"}`), 0, "", ErrMalformed, "Data: want a JSON object, got a string"},
		{"Metadata an array", []byte(`{"Data":{},"Metadata":[]}`), 0, "", ErrMalformed, "Metadata: want a JSON object, got an array"},
		{"envelope over the limit", sb, int64(len(sb) - 1), "", ErrTooLarge, "over the 1761-byte limit"},

		{"queue binding missing", []byte(`{"Data":{"message":"e30=","other":1}}`), 0, "msg", ErrMalformed, `Data.msg: binding missing (Data holds: "message", "other")`},
		{"queue binding null", []byte(`{"Data":{"msg":null}}`), 0, "msg", ErrMalformed, `Data.msg: binding missing (Data holds: "msg")`},
		{"base64 invalid", replace(t, sb, `"msg": "eyJl`, `"msg": "*yJl`), 0, "msg", ErrMalformed, `Data.msg: body is not valid base64 (illegal base64 data at input byte 0); the trigger must declare "dataType": "binary"`},
		{"text body (dataType string)", []byte(`{"Data":{"msg":"{\"eventId\":\"e1\"}"}}`), 0, "msg", ErrMalformed, "Data.msg: body is not valid base64"},
		{"body a number", []byte(`{"Data":{"msg":12}}`), 0, "msg", ErrMalformed, "Data.msg: want the base64 of the message body, got a number"},
		{"DeliveryCount abc", replace(t, sb, `"DeliveryCount": "1"`, `"DeliveryCount": "abc"`), 0, "msg", ErrMalformed, `Metadata.DeliveryCount: "abc" is not an integer`},
		{"DeliveryCount negative", replace(t, sb, `"DeliveryCount": "1"`, `"DeliveryCount": "-1"`), 0, "msg", ErrMalformed, `Metadata.DeliveryCount: -1 is out of range`},
		{"DeliveryCount fractional", replace(t, sb, `"DeliveryCount": "1"`, `"DeliveryCount": 1.5`), 0, "msg", ErrMalformed, `Metadata.DeliveryCount: "1.5" is not an integer`},
		{"DeliveryCount a boolean", replace(t, sb, `"DeliveryCount": "1"`, `"DeliveryCount": true`), 0, "msg", ErrMalformed, `Metadata.DeliveryCount: want a string, got a boolean`},
		{"SequenceNumber overflow", replace(t, sb, `"SequenceNumber": "42"`, `"SequenceNumber": "99999999999999999999"`), 0, "msg", ErrMalformed, `Metadata.SequenceNumber: "99999999999999999999" is not an integer`},
		{"MessageId an object", replace(t, sb, `"MessageId": "\"5d0f4c1e-8f7a-4a53-9d1e-0c2b7a9e1f10\""`, `"MessageId": {}`), 0, "msg", ErrMalformed, "Metadata.MessageId: want a string, got an object"},
		{"EnqueuedTime not a time", replace(t, sb, `"EnqueuedTime": "2026-11-27T08:00:01+00:00"`, `"EnqueuedTime": "yesterday"`), 0, "msg", ErrMalformed, `Metadata.EnqueuedTime: "yesterday" is not an RFC 3339 time`},
		{"ApplicationProperties an array", replace(t, sb, `"ApplicationProperties": {
   "schemaVersion": "1"
  }`, `"ApplicationProperties": ["schemaVersion"]`), 0, "msg", ErrMalformed, "Metadata.ApplicationProperties: want a JSON object, got an array"},

		{"timer binding missing", sb, 0, "timer", ErrMalformed, `Data.timer: binding missing (Data holds: "msg")`},
		{"timer an array", []byte(`{"Data":{"timer":[]}}`), 0, "timer", ErrMalformed, "Data.timer: want a JSON object, got an array"},
		{"timer a string, not JSON", []byte(`{"Data":{"timer":"soon"}}`), 0, "timer", ErrMalformed, "Data.timer: want a JSON object, got a string that is not JSON"},
		{"IsPastDue not a boolean", []byte(`{"Data":{"timer":{"IsPastDue":"maybe"}}}`), 0, "timer", ErrMalformed, `Data.timer.IsPastDue: "maybe" is not a boolean`},
		{"ScheduleStatus a string", []byte(`{"Data":{"timer":{"ScheduleStatus":"x"}}}`), 0, "timer", ErrMalformed, "Data.timer.ScheduleStatus: want a JSON object, got a string"},
		{"Last not a time", replace(t, tm, `"Last": "2026-11-27T07:00:00.0019877+00:00"`, `"Last": "07:00"`), 0, "timer", ErrMalformed, `Data.timer.ScheduleStatus.Last: "07:00" is not an RFC 3339 time`},

		{"req binding missing", []byte(`{"Data":{}}`), 0, "req", ErrMalformed, "Data.req: binding missing (Data holds: none)"},
		{"req a string", []byte(`{"Data":{"req":"GET /"}}`), 0, "req", ErrMalformed, "Data.req: want a JSON object, got a string"},
		{"Method missing", replace(t, wh, `"Method": "POST",`, ``), 0, "req", ErrMalformed, "Data.req.Method: missing"},
		{"Url does not parse", replace(t, wh, `"Url": "https://contoso-mssp-func.azurewebsites.net/api/webhooks/ticketing"`, `"Url": "http://[::1"`), 0, "req", ErrMalformed, `Data.req.Url: "http://[::1" does not parse`},
		{"Headers an array", []byte(`{"Data":{"req":{"Method":"GET","Headers":["Content-Type: x"]}}}`), 0, "req", ErrMalformed, "Data.req.Headers: want a JSON object, got an array"},
		{"Headers value a number", replace(t, wh, `"User-Agent": [
     "ServiceNow/1.0"
    ]`, `"User-Agent": 1`), 0, "req", ErrMalformed, "Data.req.Headers.User-Agent: want a string or a list of strings, got a number"},
		{"Headers list holds an object", []byte(`{"Data":{"req":{"Method":"GET","Headers":{"A":["x",{}]}}}}`), 0, "req", ErrMalformed, "Data.req.Headers.A[1]: want a string, got an object"},
		{"Metadata.Headers wrong when used", []byte(`{"Data":{"req":{"Method":"GET"}},"Metadata":{"Headers":"x"}}`), 0, "req", ErrMalformed, "Metadata.Headers: want a JSON object, got a string"},
		{"Query value an object", []byte(`{"Data":{"req":{"Method":"GET","Query":{"q":{}}}}}`), 0, "req", ErrMalformed, "Data.req.Query.q: want a string or a list of strings, got an object"},
		{"Params value a list", []byte(`{"Data":{"req":{"Method":"GET","Params":{"id":["a"]}}}}`), 0, "req", ErrMalformed, "Data.req.Params.id: want a string, got an array"},
		{"body over MaxHTTPBody", []byte(big), 0, "req", ErrTooLarge, "Data.req.Body: 262145 bytes, over the 262144-byte limit"},
		{"re-encoded body over MaxHTTPBody", []byte(bigObject), 0, "req", ErrTooLarge, "Data.req.Body: 262148 bytes, over the 262144-byte limit"},
		{"oversize body wins over a missing Method", []byte(strings.Replace(big, `"Method":"POST",`, ``, 1)), 0, "req", ErrTooLarge, "Data.req.Body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Decode(bytes.NewReader(tc.in), tc.limit)
			if err == nil {
				switch tc.binding {
				case "msg":
					_, err = inv.Queue("msg")
				case "timer":
					_, err = inv.Timer("timer")
				case "req":
					_, err = inv.HTTP("req")
				}
			}
			if err == nil {
				t.Fatalf("error = nil, want one matching %v containing %q", tc.is, tc.want)
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want one matching %v containing %q", err, tc.is, tc.want)
			}
			other := ErrTooLarge
			if tc.is == ErrTooLarge {
				other = ErrMalformed
			}
			if errors.Is(err, other) {
				t.Errorf("error %q matches %v too, want only %v", err, other, tc.is)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DecodeError", err)
			}
		})
	}
}

func TestDecodeLimitBoundary(t *testing.T) {
	sb := fixture(t, "servicebus-invitation-sent.json")
	if _, err := Decode(bytes.NewReader(sb), int64(len(sb))); err != nil {
		t.Errorf("Decode at exactly the limit: %v, want nil", err)
	}
}

func TestDecodeRequest(t *testing.T) {
	sb := fixture(t, "servicebus-invitation-sent.json")

	req := httptest.NewRequest(http.MethodPost, "/invitation-sent", bytes.NewReader(sb))
	req.Header.Set(InvocationIDHeader, "0b6f8a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b")
	inv, err := DecodeRequest(req, 0)
	if err != nil {
		t.Fatalf("DecodeRequest: %v", err)
	}
	if inv.ID != "0b6f8a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b" || inv.FunctionName != "invitation-sent" {
		t.Errorf("ID, FunctionName = %q, %q, want the header's id and invitation-sent", inv.ID, inv.FunctionName)
	}

	// A server that caps bodies with http.MaxBytesReader gets ErrTooLarge.
	rec := httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodPost, "/invitation-sent", bytes.NewReader(sb))
	req.Body = http.MaxBytesReader(rec, req.Body, 100)
	if _, err := DecodeRequest(req, 0); !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeRequest over MaxBytesReader: error = %v, want ErrTooLarge", err)
	}

	// Any other read failure is neither: the caller should not reject a
	// message it never read.
	req = httptest.NewRequest(http.MethodPost, "/invitation-sent", io.MultiReader(bytes.NewReader(sb[:10]), errReader{}))
	if _, err := DecodeRequest(req, 0); err == nil || errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) || !errors.Is(err, errBroken) {
		t.Errorf("DecodeRequest on a broken body: error = %v, want the read error, not ErrMalformed or ErrTooLarge", err)
	}

	// No body at all.
	req = httptest.NewRequest(http.MethodPost, "/invitation-sent", nil)
	req.Body = nil
	if _, err := DecodeRequest(req, 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeRequest without a body: error = %v, want ErrMalformed", err)
	}
}

var errBroken = errors.New("connection reset")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// TestQueueBodyRoundTrip checks that any bytes survive base64 through the
// envelope unchanged, which is what "binary" promises.
func TestQueueBodyRoundTrip(t *testing.T) {
	body := make([]byte, 256)
	for i := range body {
		body[i] = byte(i)
	}
	env, _ := json.Marshal(map[string]any{"Data": map[string]any{"msg": base64.StdEncoding.EncodeToString(body)}})
	m, err := decode(t, env).Queue("msg")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	if !bytes.Equal(m.Body, body) {
		t.Errorf("Body = %x, want %x", m.Body, body)
	}
}
