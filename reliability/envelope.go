package reliability

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// envelopes builds invocations in the real host's shapes from the host
// fixtures the repository keeps (testdata/), so that every quirk they
// carry (JSON-quoted string metadata, numbers as strings, *Utc times
// without a zone, base64 binary data) reaches the handler here too.
type envelopes struct {
	queue []byte // a Service Bus trigger invocation
	http  []byte // an HTTP trigger invocation
}

func loadEnvelopes(root string) (*envelopes, error) {
	q, err := os.ReadFile(filepath.Join(root, "testdata", "servicebus-invitation-sent.json"))
	if err != nil {
		return nil, fmt.Errorf("host fixture: %w", err)
	}
	h, err := os.ReadFile(filepath.Join(root, "testdata", "http-ticket-webhook.json"))
	if err != nil {
		return nil, fmt.Errorf("host fixture: %w", err)
	}
	return &envelopes{queue: q, http: h}, nil
}

// queueEnvelope is a Service Bus delivery of body to function: message id,
// delivery count, enqueued time and a fresh lock token, as the host sends
// them for a binary trigger.
func (e *envelopes) queueEnvelope(function, messageID string, delivery int, body []byte, enqueued time.Time) []byte {
	var env map[string]any
	if err := json.Unmarshal(e.queue, &env); err != nil {
		panic(err) // the fixture parsed at load; it cannot change
	}
	env["Data"].(map[string]any)["msg"] = base64.StdEncoding.EncodeToString(body)
	md := env["Metadata"].(map[string]any)
	md["MessageId"] = strconv.Quote(messageID)
	md["DeliveryCount"] = strconv.Itoa(delivery)
	md["LockToken"] = strconv.Quote(newGUID())
	md["EnqueuedTimeUtc"] = enqueued.UTC().Format("2006-01-02T15:04:05.9999999")
	md["EnqueuedTime"] = enqueued.UTC().Format("2006-01-02T15:04:05.9999999") + "+00:00"
	sys := md["sys"].(map[string]any)
	sys["MethodName"] = function
	sys["UtcNow"] = time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	sys["RandGuid"] = newGUID()
	b, _ := jsonMarshal(env)
	return b
}

// httpEnvelope is an HTTP trigger invocation of function (no request
// forwarding) carrying body and header.
func (e *envelopes) httpEnvelope(function, route string, header http.Header, body []byte) []byte {
	var env map[string]any
	if err := json.Unmarshal(e.http, &env); err != nil {
		panic(err)
	}
	req := env["Data"].(map[string]any)["req"].(map[string]any)
	req["Url"] = "http://127.0.0.1:7071/api/" + route
	req["Body"] = string(body)
	hs := map[string]any{}
	flat := map[string]any{}
	for k, vs := range header {
		hs[k] = vs
		if len(vs) > 0 {
			flat[k] = vs[0]
		}
	}
	req["Headers"] = hs
	md := env["Metadata"].(map[string]any)
	md["Headers"] = flat
	md["sys"].(map[string]any)["MethodName"] = function
	b, _ := jsonMarshal(env)
	return b
}

// jsonMarshal encodes without HTML escaping, as the host does.
func jsonMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// newGUID is a random version 4 GUID, for ids that need not repeat with
// the seed (lock tokens, invocation ids).
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
