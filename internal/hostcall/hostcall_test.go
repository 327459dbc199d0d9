package hostcall

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// fixture reads a real host payload from the repository's copy of the
// shared fixtures (testdata/ at the root).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameShape(t *testing.T, what string, got []byte, name string) {
	t.Helper()
	if err := SameShape(got, fixture(t, name)); err != nil {
		t.Errorf("%s against %s: %v", what, name, err)
	}
}

func decode(t *testing.T, b []byte) funchost.Invocation {
	t.Helper()
	inv, err := funchost.Decode(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatalf("funchost cannot read the invocation: %v\n%s", err, b)
	}
	return inv
}

// metadata returns the invocation's Metadata as sent.
func metadata(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var raw struct{ Metadata map[string]any }
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return raw.Metadata
}

func TestQueue(t *testing.T) {
	body := []byte(`{"eventId":"5d0f4c1e","x":"<é>"}`)
	enqueued := time.Date(2026, 11, 27, 8, 0, 1, 0, time.UTC)
	b := Queue(QueueArgs{
		Sys:  Sys{Function: "invitation-sent", Now: enqueued.Add(time.Second)},
		Body: body, MessageID: "5d0f4c1e", DeliveryCount: 2, EnqueuedAt: enqueued, SequenceNumber: 42,
		Properties: map[string]any{"schemaVersion": "1", "n": json.Number("7")},
		Namespace:  "127.0.0.1:10001",
	})
	sameShape(t, "queue", b, "servicebus-invitation-sent.json")
	inv := decode(t, b)
	m, err := inv.Queue("msg")
	if err != nil {
		t.Fatalf("Queue: %v\n%s", err, b)
	}
	got := []any{m.ID, string(m.Body), m.BodyReencoded, m.DeliveryCount, m.ContentType, m.EnqueuedTime, m.ExpiresAt.Year(), m.SequenceNumber, m.Properties, inv.FunctionName, len(m.LockToken)}
	want := []any{"5d0f4c1e", string(body), false, 2, "application/json", enqueued, 9999, int64(42), map[string]string{"schemaVersion": "1", "n": "7"}, "invitation-sent", 36}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded ID, Body, BodyReencoded, DeliveryCount, ContentType, EnqueuedTime, ExpiresAt year, SequenceNumber, Properties, FunctionName, lock token length =\n%v\nwant\n%v", got, want)
	}
	// The quirks of the real host, literally.
	md := metadata(t, b)
	for k, want := range map[string]any{
		"MessageId": `"5d0f4c1e"`, "ContentType": `"application/json"`, "DeliveryCount": "2", "SequenceNumber": "42",
		"EnqueuedTimeUtc": "2026-11-27T08:00:01", "EnqueuedTime": "2026-11-27T08:00:01+00:00",
		"ExpiresAtUtc": "9999-12-31T23:59:59.9999999",
	} {
		if got := md[k]; got != want {
			t.Errorf("Metadata.%s = %#v, want %#v", k, got, want)
		}
	}
	if c := md["Client"].(map[string]any); c["FullyQualifiedNamespace"] != "127.0.0.1:10001" || !strings.HasPrefix(c["Identifier"].(string), "127.0.0.1:10001-") {
		t.Errorf("Metadata.Client = %v, want the namespace and an identifier from it", c)
	}

	// The zero arguments: a first delivery, now, of an empty body.
	first := Queue(QueueArgs{Sys: Sys{Function: "f"}, MessageID: "m"})
	sameShape(t, "queue with defaults", first, "servicebus-invitation-sent.json")
	m, err = decode(t, first).Queue("msg")
	if err != nil || m.DeliveryCount != 1 || len(m.Body) != 0 || time.Since(m.EnqueuedTime) > time.Minute || m.SequenceNumber != 1 {
		t.Errorf("defaults: %+v, %v; want a first delivery of an empty body enqueued now", m, err)
	}
}

func TestHTTP(t *testing.T) {
	body := `{"deliveryId": "d-0001", "note": "<b> & é"}`
	h := http.Header{"Content-Type": {"application/json"}, "X-Multi": {"one", "two"}, "Host": {"127.0.0.1:7071"}}
	b := HTTP(HTTPArgs{
		Sys:    Sys{Function: "ticket-webhook"},
		Method: "POST", URL: "http://127.0.0.1:7071/api/webhooks/ticketing?a=1&a=2&b=x",
		Header: h, Body: []byte(body), Params: map[string]string{"id": "b2b:1"},
	})
	sameShape(t, "http", b, "http-ticket-webhook.json")
	inv := decode(t, b)
	req, err := inv.HTTP("req")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{inv.FunctionName, req.Method, req.URL.String(), string(req.Body), req.BodyReencoded, req.Header["X-Multi"], req.Header.Get("Host"), req.Query["a"], req.Params}
	want := []any{"ticket-webhook", "POST", "http://127.0.0.1:7071/api/webhooks/ticketing?a=1&a=2&b=x", body, false, []string{"one", "two"}, "127.0.0.1:7071", []string{"1,2"}, map[string]string{"id": "b2b:1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded FunctionName, Method, URL, Body, BodyReencoded, X-Multi, Host, Query[a], Params =\n%#v\nwant\n%#v", got, want)
	}
	if got := metadata(t, b)["Headers"].(map[string]any)["X-Multi"]; got != "one,two" {
		t.Errorf("Metadata.Headers.X-Multi = %q, want a single string", got)
	}
	if !bytes.Contains(b, []byte(`<b> & é`)) {
		t.Errorf("the body is HTML-escaped, as the host's serializer does not: %s", b)
	}

	// A path alone is taken on the fixtures' function app; the method is
	// POST unless said.
	b = HTTP(HTTPArgs{Sys: Sys{Function: "grants"}, URL: "/api/grants/t1?x=1"})
	sameShape(t, "http with defaults", b, "http-ticket-webhook.json")
	req, err = decode(t, b).HTTP("req")
	if err != nil || req.URL.String() != DefaultOrigin+"/api/grants/t1?x=1" || req.Method != "POST" || len(req.Params) != 0 {
		t.Errorf("defaults: %+v, %v", req, err)
	}
}

func TestTimer(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	first := Timer(TimerArgs{Sys: Sys{Function: "expiry-sweep", Now: at}, PastDue: true})
	sameShape(t, "first run", first, "timer-expiry-sweep-first-run.json")
	ti, err := decode(t, first).Timer("timer")
	if err != nil || !ti.IsPastDue || ti.Status != nil {
		t.Errorf("first run: %+v, %v; want past due without a status", ti, err)
	}

	st := funchost.ScheduleStatus{Last: at.Add(-time.Hour), Next: at.Add(time.Hour), LastUpdated: at.Add(-time.Hour + 2*time.Millisecond)}
	later := Timer(TimerArgs{Sys: Sys{Function: "expiry-sweep", Now: at}, Status: &ScheduleStatus{Last: st.Last, Next: st.Next, LastUpdated: st.LastUpdated}})
	sameShape(t, "later run", later, "timer-expiry-sweep.json")
	inv := decode(t, later)
	ti, err = inv.Timer("timer")
	if err != nil || ti.IsPastDue || ti.Status == nil || *ti.Status != st || inv.FunctionName != "expiry-sweep" {
		t.Errorf("Timer = %+v (status %+v), %v; want not past due, status %+v", ti, ti.Status, err, st)
	}
	if !strings.Contains(string(later), `"Next":"2026-11-27T09:00:00+00:00"`) || !strings.Contains(string(later), `"UtcNow":"2026-11-27T08:00:00.0000000Z"`) {
		t.Errorf("times not in the host's format: %s", later)
	}
}

func TestInvoke(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		funchost.WriteOutcome(w, http.StatusOK, nil)
	}))
	defer srv.Close()
	payload := Timer(TimerArgs{Sys: Sys{Function: "expiry-sweep"}})
	resp, err := Invoke(t.Context(), nil, srv.URL, "expiry-sweep", "", payload)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Method != "POST" || got.URL.Path != "/expiry-sweep" || got.Header.Get("Content-Type") != "application/json" ||
		len(got.Header.Get(funchost.InvocationIDHeader)) != 36 || !bytes.Equal(body, payload) {
		t.Errorf("the host's POST: %s %s %v %q", got.Method, got.URL, got.Header, body)
	}
}

func TestFormats(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 1, 882345100, time.FixedZone("x", 3600))
	if got, want := NowText(at), "2026-11-27T07:00:01.8823451Z"; got != want {
		t.Errorf("NowText = %q, want %q", got, want)
	}
	if got, want := UTCText(at), "2026-11-27T07:00:01.8823451"; got != want {
		t.Errorf("UTCText = %q, want %q", got, want)
	}
	if got, want := ZonedText(at.Truncate(time.Second)), "2026-11-27T07:00:01+00:00"; got != want {
		t.Errorf("ZonedText = %q, want %q", got, want)
	}
	if got, want := Quoted(`a"<b>`), `"a\"<b>"`; got != want {
		t.Errorf("Quoted = %s, want %s", got, want)
	}
	if g := GUID(); len(g) != 36 || g[14] != '4' || g == GUID() {
		t.Errorf("GUID = %q, want a fresh version 4 GUID", g)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
