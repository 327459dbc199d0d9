package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
)

// fixture reads a real host payload: the project's copy of the shared
// fixtures, which funchost's tests keep identical to them.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "funchost", "testdata", "host", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameShape checks got against the host fixture name (hostcall.SameShape).
func sameShape(t *testing.T, what string, got []byte, fixtureName string) {
	t.Helper()
	if err := hostcall.SameShape(got, fixture(t, fixtureName)); err != nil {
		t.Errorf("%s against %s: %v", what, fixtureName, err)
	}
}

// decoded checks env against the host's fixture, as sameShape does, and
// decodes it as the handler will.
func decoded(t *testing.T, what string, env []byte, fixtureName string) funchost.Invocation {
	t.Helper()
	sameShape(t, what, env, fixtureName)
	inv, err := funchost.Decode(bytes.NewReader(env), 0)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestQueueEnvelope(t *testing.T) {
	body := []byte(`{"eventId":"5d0f4c1e","x":"<é>"}`)
	inserted := time.Date(2026, 11, 27, 8, 0, 1, 0, time.UTC)
	d := localqueue.Delivery{
		Queue: "invitation-sent", QueueMessageID: "storage-id-1", PopReceipt: "pop", DequeueCount: 2, InsertedAt: inserted,
		ExpiresAt: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		Envelope:  servicebus.Envelope{MessageID: "5d0f4c1e", Body: body, Properties: map[string]any{"schemaVersion": "1", "n": json.Number("7")}},
	}
	p := &poller{fn: &function{name: "invitation-sent", kind: queueTrigger, binding: "msg", queue: "invitation-sent"},
		namespace: "127.0.0.1:10001", clientID: "127.0.0.1:10001-abcd1234"}
	env := p.envelope(d, time.Now())
	inv := decoded(t, "queue envelope", env, "servicebus-invitation-sent.json")
	m, err := inv.Queue("msg")
	if err != nil {
		t.Fatalf("funchost cannot read the envelope: %v\n%s", err, env)
	}
	got := []any{m.ID, string(m.Body), m.BodyReencoded, m.DeliveryCount, m.ContentType, m.EnqueuedTime, m.ExpiresAt.Year(), m.Properties, inv.FunctionName}
	want := []any{"5d0f4c1e", string(body), false, 2, "application/json", inserted, 9999, map[string]string{"schemaVersion": "1", "n": "7"}, "invitation-sent"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded ID, Body, BodyReencoded, DeliveryCount, ContentType, EnqueuedTime, ExpiresAt year, Properties, FunctionName =\n%v\nwant\n%v", got, want)
	}
	if m.SequenceNumber <= 0 || len(m.LockToken) != 36 {
		t.Errorf("SequenceNumber, LockToken = %d, %q, want a positive number and a GUID", m.SequenceNumber, m.LockToken)
	}
	// The quirks of the real host, literally.
	var raw struct{ Metadata map[string]any }
	json.Unmarshal(env, &raw)
	for k, want := range map[string]any{
		"MessageId": `"5d0f4c1e"`, "ContentType": `"application/json"`, "DeliveryCount": "2",
		"EnqueuedTimeUtc": "2026-11-27T08:00:01", "EnqueuedTime": "2026-11-27T08:00:01+00:00",
	} {
		if got := raw.Metadata[k]; got != want {
			t.Errorf("Metadata.%s = %#v, want %#v", k, got, want)
		}
	}
	// Redeliveries keep the sequence number; other messages get others.
	d2 := d
	d2.DequeueCount = 3
	if sequenceNumber(d) != sequenceNumber(d2) {
		t.Error("sequence number changed across deliveries of one message")
	}
	d2.QueueMessageID = "storage-id-2"
	if sequenceNumber(d) == sequenceNumber(d2) {
		t.Error("two messages share a sequence number")
	}
}

func TestTimerEnvelope(t *testing.T) {
	sched, _ := parseSchedule("0 0 * * * *")
	fn := &function{name: "expiry-sweep", kind: timerTrigger, binding: "timer", schedule: sched}
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

	first := timerEnvelope(fn, nil, at, true, at)
	sameShape(t, "first run", first, "timer-expiry-sweep-first-run.json")

	st := &scheduleStatus{last: at.Add(-time.Hour), lastUpdated: at.Add(-time.Hour + 2*time.Millisecond)}
	later := timerEnvelope(fn, st, at, false, at)
	inv := decoded(t, "later run", later, "timer-expiry-sweep.json")
	ti, err := inv.Timer("timer")
	if err != nil {
		t.Fatal(err)
	}
	want := funchost.ScheduleStatus{Last: at.Add(-time.Hour), Next: at.Add(time.Hour), LastUpdated: st.lastUpdated}
	if ti.IsPastDue || ti.Status == nil || *ti.Status != want {
		t.Errorf("Timer = %+v (status %+v), want not past due, status %+v", ti, ti.Status, want)
	}
	if !strings.Contains(string(later), `"Next":"2026-11-27T09:00:00+00:00"`) {
		t.Errorf("Next not in the host's format: %s", later)
	}
}

func TestHTTPEnvelope(t *testing.T) {
	body := `{"deliveryId": "d-0001", "note": "<b> & é"}`
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:7071/api/webhooks/ticketing?a=1&a=2&b=x", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two")
	fn := &function{name: "ticket-webhook", kind: httpTrigger, binding: "req"}
	env := httpEnvelope(fn, r, []byte(body), map[string]string{"id": "b2b:1"}, time.Now())
	inv := decoded(t, "http envelope", env, "http-ticket-webhook.json")
	req, err := inv.HTTP("req")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{req.Method, req.URL.String(), string(req.Body), req.BodyReencoded, req.Header["X-Multi"], req.Header.Get("Host"), req.Query["a"], req.Params}
	want := []any{"POST", "http://127.0.0.1:7071/api/webhooks/ticketing?a=1&a=2&b=x", body, false, []string{"one", "two"}, "127.0.0.1:7071", []string{"1,2"}, map[string]string{"id": "b2b:1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded Method, URL, Body, BodyReencoded, X-Multi, Host, Query[a], Params =\n%#v\nwant\n%#v", got, want)
	}
	var raw struct {
		Metadata struct{ Headers map[string]string }
	}
	json.Unmarshal(env, &raw)
	if got := raw.Metadata.Headers["X-Multi"]; got != "one,two" {
		t.Errorf("Metadata.Headers.X-Multi = %q, want a single string", got)
	}
}

func TestParseHTTPOutput(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		status   int
		headers  http.Header
		body     string
	}{
		{"host example", string(outputOf(t, fixture(t, "http-response-example.json"))), 202,
			http.Header{"Content-Type": {"application/json"}}, `{"grantId":"b2b:pending:d-0001","status":"requested"}`},
		{"numeric status, JSON body", `{"statusCode":404,"body":{"a":1}}`, 404, http.Header{"Content-Type": {"application/json"}}, `{"a":1}`},
		{"status alias, list header", `{"status":"201","headers":{"X-A":["1","2"],"X-N":5}}`, 201, http.Header{"X-A": {"1", "2"}, "X-N": {"5"}}, ""},
		{"nothing", `{}`, 200, http.Header{}, ""},
		{"serialised as a string", `"{\"statusCode\":\"418\",\"body\":\"tea\"}"`, 418, http.Header{}, "tea"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := parseHTTPOutput(json.RawMessage(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tc.status || !reflect.DeepEqual(res.headers, tc.headers) || string(res.body) != tc.body {
				t.Errorf("got %d %v %q, want %d %v %q", res.status, res.headers, res.body, tc.status, tc.headers, tc.body)
			}
		})
	}
	for _, in := range []string{`{"statusCode":"abc"}`, `{"statusCode":99}`, `{"statusCode":"600"}`, `[]`, `{"headers":{"X":{"a":1}}}`} {
		if res, err := parseHTTPOutput(json.RawMessage(in)); err == nil {
			t.Errorf("parseHTTPOutput(%s) = %+v, want an error", in, res)
		}
	}
}

func outputOf(t *testing.T, answer []byte) json.RawMessage {
	var a struct{ Outputs map[string]json.RawMessage }
	if err := json.Unmarshal(answer, &a); err != nil {
		t.Fatal(err)
	}
	return a.Outputs["res"]
}
