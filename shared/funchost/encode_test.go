package funchost

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and testdata/fuzz seeds from the code")

// golden compares got with testdata/golden/name, or rewrites the file with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestEncodeGolden records what the handler writes back to the host for
// each kind of answer: the outer status and content type are checked here,
// the body against a golden file (indented for review; the wire is
// compact).
func TestEncodeGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		write  func(w http.ResponseWriter) error
		status int
	}{
		{"http-response-example.json", func(w http.ResponseWriter) error {
			res := JSON(http.StatusAccepted, struct {
				GrantID string `json:"grantId"`
				Status  string `json:"status"`
			}{"b2b:pending:d-0001", "requested"})
			return WriteHTTP(w, res, []string{"ticket SEC-42: request-access accepted"})
		}, 200},
		{"http-problem-400.json", func(w http.ResponseWriter) error {
			res := Problem(http.StatusBadRequest, "", "the request body is invalid", map[string]string{
				"roles":         "Global Administrator is never granted",
				"invitee.email": "missing",
			})
			return WriteHTTP(w, res, nil)
		}, 200},
		{"http-problem-413.json", func(w http.ResponseWriter) error {
			return WriteHTTP(w, Problem(http.StatusRequestEntityTooLarge, "", "", nil), []string{"body over 256 KiB"})
		}, 200},
		{"http-no-headers-no-status.json", func(w http.ResponseWriter) error {
			return WriteHTTP(w, HTTPResponse{Body: []byte("ok <&>")}, nil)
		}, 200},
		{"http-invalid-status.json", func(w http.ResponseWriter) error {
			if err := WriteHTTP(w, HTTPResponse{StatusCode: 1000}, []string{"a bug"}); err == nil {
				return errors.New("WriteHTTP of status 1000 succeeded, want an error")
			}
			return nil
		}, 500},
		{"outcome-completed.json", func(w http.ResponseWriter) error {
			return WriteOutcome(w, http.StatusOK, []string{"grant b2b:0f9e8d7c active"})
		}, 200},
		{"outcome-retry.json", func(w http.ResponseWriter) error {
			return WriteOutcome(w, http.StatusServiceUnavailable, []string{"graph throttled: retry"})
		}, 503},
		{"outcome-invalid-status.json", func(w http.ResponseWriter) error {
			return WriteOutcome(w, 42, []string{"a bug"})
		}, 500},
		{"write-unencodable.json", func(w http.ResponseWriter) error {
			err := Write(w, http.StatusOK, Response{Outputs: map[string]any{"bad": make(chan int)}, Logs: []string{"before"}})
			if err == nil {
				return errors.New("Write of a channel succeeded, want an encoding error")
			}
			return nil
		}, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := tc.write(rec); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("status, Content-Type = %d, %q, want %d, application/json", rec.Code, rec.Header().Get("Content-Type"), tc.status)
			}
			if !json.Valid(rec.Body.Bytes()) || bytes.ContainsAny(rec.Body.Bytes(), "\n") {
				t.Errorf("body is not compact JSON: %s", rec.Body)
			}
			var out bytes.Buffer
			if err := json.Indent(&out, rec.Body.Bytes(), "", " "); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, out.Bytes())
		})
	}
}

// TestGoldenMatchesHostExample ties the golden file to the host's own
// example, so that -update cannot drift away from the real shape.
func TestGoldenMatchesHostExample(t *testing.T) {
	got, err := os.ReadFile(filepath.Join("testdata", "golden", "http-response-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := fixture(t, "http-response-example.json")
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("encoded response differs from the host example\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestResponseShape(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"zero Response", Response{}, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"ReturnValue kept", Response{ReturnValue: 3}, `{"Outputs":{},"Logs":[],"ReturnValue":3}`},
		{"pointer to HTTPResponse", Response{Outputs: map[string]any{"res": &HTTPResponse{StatusCode: 404}}},
			`{"Outputs":{"res":{"statusCode":"404","headers":{},"body":""}},"Logs":[],"ReturnValue":null}`},
		{"body kept as text", HTTPResponse{StatusCode: 201, Headers: map[string]string{"Location": "/api/grants/t/g"}, Body: []byte(`{"a":"<\"é\">"}`)},
			`{"statusCode":"201","headers":{"Location":"/api/grants/t/g"},"body":"{\"a\":\"<\\\"é\\\">\"}"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			// json.Marshal escapes HTML in the outer pass; compare values.
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestProblem(t *testing.T) {
	res := Problem(http.StatusUnprocessableEntity, "Refused by policy", "role not allowed", map[string]string{"roles[0]": "not allowed", "durationDays": "over 365"})
	if res.StatusCode != 422 || res.Headers["Content-Type"] != "application/problem+json" {
		t.Errorf("StatusCode, Content-Type = %d, %q, want 422, application/problem+json", res.StatusCode, res.Headers["Content-Type"])
	}
	var got ProblemDetails
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := ProblemDetails{Type: "about:blank", Title: "Refused by policy", Status: 422, Detail: "role not allowed",
		Errors: []FieldProblem{{"durationDays", "over 365"}, {"roles[0]", "not allowed"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problem = %+v, want %+v", got, want)
	}

	var bare map[string]json.RawMessage
	if err := json.Unmarshal(Problem(404, "", "", nil).Body, &bare); err != nil {
		t.Fatal(err)
	}
	if _, ok := bare["errors"]; ok || string(bare["title"]) != `"Not Found"` || len(bare) != 3 {
		t.Errorf("bare problem = %s, want type, title \"Not Found\" and status only", Problem(404, "", "", nil).Body)
	}
}

func TestJSONUnencodable(t *testing.T) {
	res := JSON(http.StatusOK, func() {})
	if res.StatusCode != 500 || res.Headers["Content-Type"] != "application/problem+json" {
		t.Errorf("JSON(func) = %d %q, want a 500 problem", res.StatusCode, res.Headers["Content-Type"])
	}
}

// TestWriteFailure checks that a broken connection is reported, not
// swallowed, so the caller can log it.
func TestWriteFailure(t *testing.T) {
	if err := WriteOutcome(brokenWriter{httptest.NewRecorder()}, 200, nil); !errors.Is(err, errBroken) {
		t.Errorf("WriteOutcome on a broken writer: error = %v, want %v", err, errBroken)
	}
}

type brokenWriter struct{ *httptest.ResponseRecorder }

func (brokenWriter) Write([]byte) (int, error) { return 0, errBroken }
