package funchost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

// HTTPOutput is the name of the http output binding every HTTP function of
// the app declares in its function.json.
const HTTPOutput = "res"

// Response is the handler's answer to one invocation. It encodes as
// {"Outputs":{…},"Logs":[…],"ReturnValue":…}: Outputs an object even when
// nil, Logs an array even when nil, ReturnValue null when nil, which is what
// the host expects to find.
type Response struct {
	// Outputs holds the output bindings by name; an HTTPResponse for an
	// HTTP function's HTTPOutput.
	Outputs map[string]any
	// Logs are lines the host adds to the invocation's log. Never a secret.
	Logs []string
	// ReturnValue is the $return binding's value; the app uses none.
	ReturnValue any
}

// MarshalJSON encodes the host's shape.
func (r Response) MarshalJSON() ([]byte, error) {
	w := struct {
		Outputs     map[string]any `json:"Outputs"`
		Logs        []string       `json:"Logs"`
		ReturnValue any            `json:"ReturnValue"`
	}{r.Outputs, r.Logs, r.ReturnValue}
	if w.Outputs == nil {
		w.Outputs = map[string]any{}
	}
	if w.Logs == nil {
		w.Logs = []string{}
	}
	return Marshal(w)
}

// HTTPResponse is what an HTTP function answers its client, carried in
// Outputs.res.
type HTTPResponse struct {
	// StatusCode is the status for the client; 0 means 200, as in net/http.
	StatusCode int
	// Headers are the response headers, one value each (the host's shape).
	Headers map[string]string
	// Body is the response body. It travels as a JSON string, so it must be
	// UTF-8 text: invalid bytes would arrive as U+FFFD.
	Body []byte
}

// MarshalJSON encodes the host's shape,
// {"statusCode":"202","headers":{…},"body":"…"}: the status as a string and
// the body as a string, as the host's own examples do. A status outside
// 100..599 is an error.
func (r HTTPResponse) MarshalJSON() ([]byte, error) {
	status := r.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 599 {
		// The host would fail the invocation on it anyway; failing here
		// says why.
		return nil, fmt.Errorf("invalid HTTP status %d", status)
	}
	w := struct {
		StatusCode string            `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}{strconv.Itoa(status), r.Headers, string(r.Body)}
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	return Marshal(w)
}

// JSON answers status with v encoded as JSON. If v cannot be encoded, which
// is a bug in the caller, it answers a 500 problem instead, so that the
// client never sees a half-written body.
func JSON(status int, v any) HTTPResponse {
	b, err := Marshal(v)
	if err != nil {
		return Problem(http.StatusInternalServerError, "", "the response could not be encoded", nil)
	}
	return HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       b,
	}
}

// ProblemDetails is the RFC 9457 problem document the app answers errors
// with. Field problems go in Errors, a list sorted by field rather than a
// map, so that the body is the same on every run and each entry can grow
// members later.
type ProblemDetails struct {
	// Type is a URI for the kind of problem; "about:blank" means the status
	// says it all.
	Type string `json:"type"`
	// Title is a short summary; with "about:blank" the status phrase.
	Title string `json:"title"`
	// Status repeats the HTTP status.
	Status int `json:"status"`
	// Detail explains this occurrence, for a person; never a secret.
	Detail string `json:"detail,omitempty"`
	// Errors lists what is wrong with each field of the request, if any.
	Errors []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem is what is wrong with one field of a request body.
type FieldProblem struct {
	// Field names the field as the request spells it, e.g. "invitee.email".
	Field string `json:"field"`
	// Problem says what is wrong with it.
	Problem string `json:"problem"`
}

// Problem answers status with an application/problem+json body of type
// "about:blank". An empty title becomes the status phrase ("Bad Request"),
// which RFC 9457 asks for with that type; an empty detail is left out;
// fields (field name to problem) become Errors, sorted by field.
func Problem(status int, title, detail string, fields map[string]string) HTTPResponse {
	if title == "" {
		title = http.StatusText(status)
	}
	p := ProblemDetails{Type: "about:blank", Title: title, Status: status, Detail: detail}
	for f, problem := range fields {
		p.Errors = append(p.Errors, FieldProblem{Field: f, Problem: problem})
	}
	sort.Slice(p.Errors, func(i, j int) bool { return p.Errors[i].Field < p.Errors[j].Field })
	// Cannot fail: every member is a string or an int.
	b, _ := Marshal(p)
	return HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/problem+json"},
		Body:       b,
	}
}

// Write answers the host with r and the outer HTTP status status. The host
// reads the status as the invocation's outcome: 2xx succeeds, anything else
// fails it. A status outside 200..599 is a bug and becomes 500, because
// net/http would panic on some and treat 1xx as informational. If r cannot
// be encoded (an output JSON cannot represent), Write fails the invocation
// with 500 and r's logs plus the reason, and returns the encoding error.
// Otherwise it returns the error from writing to w, if any.
func Write(w http.ResponseWriter, status int, r Response) error {
	if status < 200 || status > 599 {
		r.Logs = append(r.Logs[:len(r.Logs):len(r.Logs)], fmt.Sprintf("funchost: invalid outcome status %d, answered 500", status))
		status = http.StatusInternalServerError
	}
	b, encErr := r.MarshalJSON()
	if encErr != nil {
		status = http.StatusInternalServerError
		logs := append(r.Logs[:len(r.Logs):len(r.Logs)], "funchost: encode response: "+encErr.Error())
		b, _ = Response{Logs: logs}.MarshalJSON() // strings only: cannot fail
		encErr = fmt.Errorf("funchost: encode response: %w", encErr)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil && encErr == nil {
		return fmt.Errorf("funchost: write response: %w", err)
	}
	return encErr
}

// WriteHTTP answers an HTTP function's invocation: res goes to the client
// through Outputs.res, and the outer status is 200 whatever res says,
// because for the host a non-2xx would mean the handler failed, not that
// the client gets an error.
func WriteHTTP(w http.ResponseWriter, res HTTPResponse, logs []string) error {
	return Write(w, http.StatusOK, Response{Outputs: map[string]any{HTTPOutput: res}, Logs: logs})
}

// WriteOutcome answers a queue or timer function's invocation, whose only
// result is its status: 200 (any 2xx) when the message is done with
// (processed, duplicate, stale, or rejected and recorded), so that the host
// completes it; a non-2xx such as 500 or 503 on a transient failure, so that
// the host abandons the message and Service Bus redelivers it.
func WriteOutcome(w http.ResponseWriter, status int, logs []string) error {
	return Write(w, status, Response{Logs: logs})
}

// Marshal encodes v as JSON without HTML escaping, as the host's own
// serializer does: bodies are read by programs and people, not embedded in
// HTML, and "<" beats "\u003c" in a log. The local host encodes the
// invocations it sends with it too, and notify its Teams cards and ticket
// comments (a link keeps its "&" readable).
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
