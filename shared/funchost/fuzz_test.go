package funchost

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzz targets read their seeds from testdata/fuzz/<target>/, which
// `go test` runs as ordinary cases too. fuzzSeeds is where those files come
// from: TestFuzzSeeds fails when they are out of step and rewrites them
// with -update. Inputs the fuzzer finds failing land in the same folders
// and stay there as regression cases.
func fuzzSeeds(t testing.TB) map[string]map[string][]any {
	seeds := map[string]map[string][]any{
		"FuzzDecode": {
			"not-json":           {[]byte(`{"Data":`)},
			"data-missing":       {[]byte(`{"Metadata":{}}`)},
			"deep":               {[]byte(strings.Repeat(`{"Data":`, 50) + `{}` + strings.Repeat(`}`, 50))},
			"case-folded":        {[]byte(`{"data":{"MSG":"e30=","Timer":{},"REQ":{"method":"get"}},"DATA":{}}`)},
			"quoted-twice":       {[]byte(`{"Data":{"msg":""},"Metadata":{"MessageId":"\"\\\"x\\\"\"","DeliveryCount":"\"2\""}}`)},
			"headers-wrong-type": {[]byte(`{"Data":{"req":{"Method":"GET","Headers":{"A":[1]}}}}`)},
		},
		"FuzzDecodeQueue": {
			"fixture-shape": {"eyJldmVudElkIjoiZTEifQ==", `"e1"`, "1", "2026-11-27T08:00:01+00:00", []byte(`{"schemaVersion":"1"}`)},
			"bad-base64":    {"*", "e1", "abc", "yesterday", []byte(`[]`)},
			"unpadded":      {"e30", "", "-1", "2026-11-27T08:00:01", []byte(`"x"`)},
		},
		"FuzzDecodeHTTP": {
			"fixture-shape": {`{"deliveryId": "d-0001"}`, []byte(`{"Content-Type":["application/json"],"x-signature":["sha256=00"]}`), []byte(`{}`), []byte(`{}`)},
			"single-values": {"a\x00\u00e9", []byte(`{"etag":"\"v\""}`), []byte(`{"q":"1","r":["2","3"]}`), []byte(`{"id":"g","opt":null}`)},
			"wrong-types":   {"", []byte(`{"A":1}`), []byte(`[]`), []byte(`{"id":[]}`)},
		},
		"FuzzDecodeTimer": {
			"first-run":    {[]byte(`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":true}`)},
			"as-string":    {[]byte(`"{\"IsPastDue\":\"false\"}"`)},
			"bad-time":     {[]byte(`{"ScheduleStatus":{"Last":"07:00","Next":1}}`)},
			"zoneless-max": {[]byte(`{"ScheduleStatus":{"Last":"9999-12-31T23:59:59.9999999"}}`)},
		},
		"FuzzEncodeHTTP": {
			"example":  {202, "Content-Type", "application/json", `{"grantId":"b2b:pending:d-0001","status":"requested"}`},
			"no-code":  {0, "", "", ""},
			"not-utf8": {-7, "X-\xff", "\xfe", "<\xff&>"},
		},
	}
	// Every host fixture seeds the envelope decoder.
	files, err := filepath.Glob(filepath.Join("testdata", "host", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		seeds["FuzzDecode"]["fixture-"+strings.TrimSuffix(filepath.Base(f), ".json")] = []any{fixture(t, filepath.Base(f))}
	}
	return seeds
}

// corpusFile renders values in the format of `go test fuzz v1` files.
func corpusFile(values []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		default:
			panic(fmt.Sprintf("corpusFile: unsupported %T", v))
		}
	}
	return b.Bytes()
}

func TestFuzzSeeds(t *testing.T) {
	for target, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, values := range seeds {
			path := filepath.Join(dir, name)
			want := corpusFile(values)
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale (run go test -update): %v", path, err)
			}
		}
	}
}

// checkDecodeError holds for every error a decoder returns on input that
// was read whole: it is a *DecodeError and exactly one of the two sentinels.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %T %q is not a *DecodeError", err, err)
	}
	if errors.Is(err, ErrMalformed) == errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %q matches ErrMalformed %v and ErrTooLarge %v, want exactly one", err, errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLarge))
	}
}

func checkRequest(t *testing.T, r HTTPRequest) {
	t.Helper()
	if r.URL == nil || r.Query == nil || r.Header == nil || r.Params == nil {
		t.Fatalf("HTTPRequest has nil members: %+v", r)
	}
	if r.Method == "" || r.Method != strings.ToUpper(r.Method) {
		t.Fatalf("Method = %q, want non-empty upper case", r.Method)
	}
	if len(r.Body) > MaxHTTPBody {
		t.Fatalf("len(Body) = %d, want at most %d", len(r.Body), MaxHTTPBody)
	}
	for k := range r.Header {
		if k != http.CanonicalHeaderKey(k) {
			t.Fatalf("header key %q, want canonical %q", k, http.CanonicalHeaderKey(k))
		}
	}
}

func checkUTC(t *testing.T, name string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Fatalf("%s = %v in %v, want UTC", name, tm, tm.Location())
	}
}

// FuzzDecode feeds arbitrary envelopes to Decode and every accessor.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Decode(bytes.NewReader(data), DefaultLimit)
		checkDecodeError(t, err)
		if err != nil {
			return
		}
		if inv.Data == nil || inv.Metadata == nil {
			t.Fatalf("Data, Metadata = %v, %v, want non-nil", inv.Data, inv.Metadata)
		}
		checkUTC(t, "UtcNow", inv.UtcNow)
		m, err := inv.Queue("msg")
		checkDecodeError(t, err)
		if err == nil {
			if m.DeliveryCount < 0 {
				t.Fatalf("DeliveryCount = %d, want >= 0", m.DeliveryCount)
			}
			checkUTC(t, "EnqueuedTime", m.EnqueuedTime)
			checkUTC(t, "ExpiresAt", m.ExpiresAt)
		}
		checkTimer(t, inv)
		r, err := inv.HTTP("req")
		checkDecodeError(t, err)
		if err == nil {
			checkRequest(t, r)
		}
	})
}

// checkTimer decodes the timer binding of inv, which may fail only as
// Decode documents, and checks that its times are in UTC.
func checkTimer(t *testing.T, inv Invocation) {
	t.Helper()
	tm, err := inv.Timer("timer")
	checkDecodeError(t, err)
	if err == nil && tm.Status != nil {
		checkUTC(t, "Last", tm.Status.Last)
		checkUTC(t, "Next", tm.Status.Next)
		checkUTC(t, "LastUpdated", tm.Status.LastUpdated)
	}
}

// FuzzDecodeQueue builds well-formed envelopes around arbitrary values, to
// reach the metadata and base64 paths that random bytes rarely do. The body
// must come out exactly as an independent base64 decoder sees it.
func FuzzDecodeQueue(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg, messageID, deliveryCount, enqueued string, props []byte) {
		md := map[string]any{"MessageId": messageID, "DeliveryCount": deliveryCount, "EnqueuedTime": enqueued}
		if json.Valid(props) {
			md["ApplicationProperties"] = json.RawMessage(props)
		}
		env, err := json.Marshal(map[string]any{"Data": map[string]any{"msg": msg}, "Metadata": md})
		if err != nil {
			t.Skip()
		}
		inv, err := Decode(bytes.NewReader(env), DefaultLimit)
		if err != nil {
			t.Fatalf("Decode of a well-formed envelope: %v\n%s", err, env)
		}
		m, err := inv.Queue("msg")
		checkDecodeError(t, err)

		// json.Marshal turned invalid UTF-8 into U+FFFD: compare with the
		// string the envelope actually holds.
		var sent string
		if err := json.Unmarshal(env, &struct{ Data struct{ Msg *string } }{struct{ Msg *string }{&sent}}); err != nil {
			t.Fatal(err)
		}
		want, b64err := base64.StdEncoding.DecodeString(sent)
		if err == nil && (b64err != nil || !bytes.Equal(m.Body, want) || m.BodyReencoded) {
			t.Fatalf("Body = %q (reencoded %v), want %q (base64 error %v)", m.Body, m.BodyReencoded, want, b64err)
		}
		if err != nil && b64err == nil && strings.HasPrefix(err.Error(), "funchost: Data.msg") {
			t.Fatalf("error = %v for valid base64 %q", err, sent)
		}
		if err == nil {
			checkUTC(t, "EnqueuedTime", m.EnqueuedTime)
			if m.DeliveryCount < 0 {
				t.Fatalf("DeliveryCount = %d, want >= 0", m.DeliveryCount)
			}
		}
	})
}

// FuzzDecodeHTTP builds well-formed envelopes around an arbitrary body and
// arbitrary header, query and parameter objects. The body must come out as
// the exact bytes of the JSON string, or as ErrTooLarge when over the limit.
func FuzzDecodeHTTP(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string, headers, query, params []byte) {
		req := map[string]any{"Method": "post", "Url": "https://h.example/api/webhooks/ticketing", "Body": body}
		for name, raw := range map[string][]byte{"Headers": headers, "Query": query, "Params": params} {
			if json.Valid(raw) {
				req[name] = json.RawMessage(raw)
			}
		}
		env, err := json.Marshal(map[string]any{"Data": map[string]any{"req": req}})
		if err != nil {
			t.Skip()
		}
		inv, err := Decode(bytes.NewReader(env), DefaultLimit)
		if err != nil {
			t.Fatalf("Decode of a well-formed envelope: %v", err)
		}
		r, err := inv.HTTP("req")
		checkDecodeError(t, err)
		if utf8.ValidString(body) && len(body) > MaxHTTPBody && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error = %v for a %d-byte body, want ErrTooLarge", err, len(body))
		}
		if err != nil {
			return
		}
		checkRequest(t, r)
		if utf8.ValidString(body) && (!bytes.Equal(r.Body, []byte(body)) || r.BodyReencoded) {
			t.Fatalf("Body = %q (reencoded %v), want %q exactly", r.Body, r.BodyReencoded, body)
		}
	})
}

// FuzzDecodeTimer puts arbitrary JSON where the timer binding goes.
func FuzzDecodeTimer(f *testing.F) {
	f.Fuzz(func(t *testing.T, timer []byte) {
		inv, err := Decode(bytes.NewReader([]byte(`{"Data":{"timer":`+string(timer)+`}}`)), DefaultLimit)
		checkDecodeError(t, err)
		if err != nil {
			return
		}
		checkTimer(t, inv)
	})
}

// FuzzEncodeHTTP checks that whatever a handler answers reaches the host as
// valid JSON with the status as a string and UTF-8 bodies and headers
// intact.
func FuzzEncodeHTTP(f *testing.F) {
	f.Fuzz(func(t *testing.T, status int, key, value, body string) {
		rec := httptest.NewRecorder()
		res := HTTPResponse{StatusCode: status, Headers: map[string]string{key: value}, Body: []byte(body)}
		want := status
		if want == 0 {
			want = 200
		}
		err := WriteHTTP(rec, res, []string{body})
		if want < 100 || want > 599 {
			// A handler bug: the invocation fails, the host answers 500.
			if err == nil || rec.Code != http.StatusInternalServerError || !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("WriteHTTP(status %d) = %v, outer %d, body %s; want an error, 500 and JSON", status, err, rec.Code, rec.Body)
			}
			return
		}
		if err != nil || rec.Code != http.StatusOK {
			t.Fatalf("WriteHTTP = %v, outer status %d, want nil, 200", err, rec.Code)
		}
		var got struct {
			Outputs struct {
				Res struct {
					StatusCode string            `json:"statusCode"`
					Headers    map[string]string `json:"headers"`
					Body       string            `json:"body"`
				} `json:"res"`
			}
			Logs        []string
			ReturnValue json.RawMessage
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("response is not JSON: %v\n%s", err, rec.Body)
		}
		if got.Outputs.Res.StatusCode != strconv.Itoa(want) || string(got.ReturnValue) != "null" || len(got.Logs) != 1 {
			t.Fatalf("statusCode, ReturnValue, Logs = %q, %s, %q, want %q, null, one line", got.Outputs.Res.StatusCode, got.ReturnValue, got.Logs, strconv.Itoa(want))
		}
		if utf8.ValidString(body) && got.Outputs.Res.Body != body {
			t.Fatalf("body = %q, want %q", got.Outputs.Res.Body, body)
		}
		if utf8.ValidString(key) && utf8.ValidString(value) && got.Outputs.Res.Headers[key] != value {
			t.Fatalf("headers = %q, want %q: %q", got.Outputs.Res.Headers, key, value)
		}
	})
}
