package webhook

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

var (
	ticketSecret = []byte("s3cr3t-ticket-key-do-not-log")
	ticketBody   = []byte(`{"deliveryId":"d-1","action":"request-access","ticket":{"system":"jira","id":"SEC-42"}}`)
	ticketNow    = time.Unix(1_800_000_000, 0)
)

func TestSignTicketKnownAnswer(t *testing.T) {
	// Computed independently: printf '%s' '1800000000.{"a":1}' | openssl dgst -sha256 -hmac key
	ts, sig := SignTicket([]byte("key"), []byte(`{"a":1}`), ticketNow)
	if ts != "1800000000" {
		t.Errorf("timestamp = %q, want 1800000000", ts)
	}
	const want = "sha256=7330c9cf7d886970cbebbbb5494c04d2aeff06a990adb7d7a75abfeb0159d291"
	if sig != want {
		t.Errorf("signature = %q, want %q", sig, want)
	}
}

func TestVerifyTicket(t *testing.T) {
	ts, sig := SignTicket(ticketSecret, ticketBody, ticketNow)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	good := hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, sig)
	flipped := []byte(sig)
	if flipped[len(flipped)-1] == '0' {
		flipped[len(flipped)-1] = '1'
	} else {
		flipped[len(flipped)-1] = '0'
	}
	_, otherSecretSig := SignTicket([]byte("another secret"), ticketBody, ticketNow)
	tsLater, sigLater := SignTicket(ticketSecret, ticketBody, ticketNow.Add(10*time.Second))

	tests := []struct {
		name   string
		secret []byte
		header http.Header
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", ticketSecret, good, ticketBody, ticketNow, true},
		{"good, upper-case hex", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, "sha256="+strings.ToUpper(sig[7:])), ticketBody, ticketNow, true},
		{"header names in lower case", ticketSecret, http.Header{"X-Signature-Timestamp": {ts}, "X-Signature": {sig}}, ticketBody, ticketNow, true},
		{"replayed within the window", ticketSecret, good, ticketBody, ticketNow.Add(299 * time.Second), true},
		{"replayed at the edge of the window", ticketSecret, good, ticketBody, ticketNow.Add(300 * time.Second), true},
		{"replayed after the window", ticketSecret, good, ticketBody, ticketNow.Add(301 * time.Second), false},
		{"timestamp from the future, within skew", ticketSecret, good, ticketBody, ticketNow.Add(-300 * time.Second), true},
		{"timestamp too far in the future", ticketSecret, good, ticketBody, ticketNow.Add(-301 * time.Second), false},
		{"fresh timestamp on an old signature", ticketSecret, hdr(HeaderTicketTimestamp, tsLater, HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"later signature and timestamp", ticketSecret, hdr(HeaderTicketTimestamp, tsLater, HeaderTicketSignature, sigLater), ticketBody, ticketNow, true},
		{"flipped signature", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, string(flipped)), ticketBody, ticketNow, false},
		{"signed with another secret", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, otherSecretSig), ticketBody, ticketNow, false},
		{"altered body", ticketSecret, good, append(bytes.Clone(ticketBody), ' '), ticketNow, false},
		{"empty body", ticketSecret, good, nil, ticketNow, false},
		{"empty secret", nil, good, ticketBody, ticketNow, false},
		{"missing timestamp", ticketSecret, hdr(HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"missing signature", ticketSecret, hdr(HeaderTicketTimestamp, ts), ticketBody, ticketNow, false},
		{"no headers", ticketSecret, http.Header{}, ticketBody, ticketNow, false},
		{"signature twice", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, sig, HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"timestamp twice", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketTimestamp, ts, HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"signed timestamp", ticketSecret, hdr(HeaderTicketTimestamp, "+"+ts, HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"timestamp in milliseconds", ticketSecret, hdr(HeaderTicketTimestamp, ts+"000", HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"timestamp not a number", ticketSecret, hdr(HeaderTicketTimestamp, "yesterday", HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"huge timestamp", ticketSecret, hdr(HeaderTicketTimestamp, "999999999999999999", HeaderTicketSignature, sig), ticketBody, ticketNow, false},
		{"no sha256= prefix", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, sig[7:]), ticketBody, ticketNow, false},
		{"other algorithm", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, "sha1="+sig[7:]), ticketBody, ticketNow, false},
		{"truncated signature", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, sig[:len(sig)-2]), ticketBody, ticketNow, false},
		{"not hex", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, "sha256="+strings.Repeat("zz", 32)), ticketBody, ticketNow, false},
		{"empty signature", ticketSecret, hdr(HeaderTicketTimestamp, ts, HeaderTicketSignature, "sha256="), ticketBody, ticketNow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyTicket(tt.secret, tt.header, tt.body, tt.now)
			if tt.ok {
				if err != nil {
					t.Fatalf("VerifyTicket = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("VerifyTicket = nil, want an error")
			}
			if k := access.KindOf(err); k != access.KindUnauthorized {
				t.Errorf("kind = %v, want unauthorized", k)
			}
			assertNoLeak(t, err.Error(), string(ticketSecret), sig[7:], hex.EncodeToString(ticketMAC(ticketSecret, tt.header.Get(HeaderTicketTimestamp), tt.body)))
		})
	}
}

// assertNoLeak fails if msg holds any of the secrets (case-insensitively, so
// that hex in either case counts).
func assertNoLeak(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(strings.ToLower(msg), strings.ToLower(s)) {
			t.Errorf("message %q holds a secret or an expected signature", msg)
		}
	}
}

func TestSetTicketHeaders(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "http://ticket.example/comments", bytes.NewReader(ticketBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(HeaderTicketSignature, "sha256=stale")
	SetTicketHeaders(req, ticketSecret, ticketBody, ticketNow)
	if got := req.Header.Values(HeaderTicketSignature); len(got) != 1 {
		t.Fatalf("X-Signature values = %q, want exactly one", got)
	}
	if err := VerifyTicket(ticketSecret, req.Header, ticketBody, ticketNow); err != nil {
		t.Errorf("VerifyTicket of SetTicketHeaders = %v, want nil", err)
	}
}

func TestTicketCommentSigner(t *testing.T) {
	secret := bytes.Clone(ticketSecret)
	sign := TicketCommentSigner(secret, func() time.Time { return ticketNow })
	secret[0] ^= 0xff // the signer keeps its own key
	h := sign(ticketBody)
	if err := VerifyTicketComment(ticketSecret, h, ticketBody, ticketNow.Add(time.Minute)); err != nil {
		t.Errorf("VerifyTicketComment of TicketCommentSigner header = %v, want nil", err)
	}
	if got, want := h.Get(HeaderTicketTimestamp), "1800000000"; got != want {
		t.Errorf("timestamp = %q, want %q", got, want)
	}
}

// TestTicketCommentKeyKnownAnswer pins the derivation that README.md
// documents for ticketing systems, computed independently:
//
//	K=$(printf '%s' 'copilot-partner-access/ticket-comments/v1' | openssl dgst -sha256 -hmac key -r | cut -d' ' -f1)
//	printf '%s' '1800000000.{"a":1}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K
func TestTicketCommentKeyKnownAnswer(t *testing.T) {
	if got, want := hex.EncodeToString(TicketCommentKey([]byte("key"))), "0279f4f5d2ccd51b2fdf515bf349f96b63ee61f60389f3216ec23e81ccffa4e9"; got != want {
		t.Errorf("TicketCommentKey(key) = %s, want %s", got, want)
	}
	h := TicketCommentHeaders([]byte("key"), []byte(`{"a":1}`), ticketNow)
	if got, want := h.Get(HeaderTicketSignature), "sha256=1e1e6e1109d5f64dfe4c6f2c282907cc8920df142e63dd682ce76647b664921f"; got != want {
		t.Errorf("comment signature = %q, want %q", got, want)
	}
}

// TestTicketDirectionsDoNotCross: an inbound command's signature never
// verifies as an outbound comment's, nor the other way (DESIGN.md
// section 11), whatever the body.
func TestTicketDirectionsDoNotCross(t *testing.T) {
	inbound := TicketHeaders(ticketSecret, ticketBody, ticketNow)
	if err := VerifyTicket(ticketSecret, inbound, ticketBody, ticketNow); err != nil {
		t.Fatalf("inbound as inbound: %v", err)
	}
	if err := VerifyTicketComment(ticketSecret, inbound, ticketBody, ticketNow); access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("inbound signature verified as a comment: %v", err)
	}
	outbound := TicketCommentSigner(ticketSecret, func() time.Time { return ticketNow })(ticketBody)
	if err := VerifyTicket(ticketSecret, outbound, ticketBody, ticketNow); access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("comment signature verified as an inbound command: %v", err)
	}
	if err := VerifyTicketComment(nil, outbound, ticketBody, ticketNow); access.KindOf(err) != access.KindUnauthorized {
		t.Errorf("comment with no secret: %v, want unauthorized", err)
	}
	if bytes.Equal(TicketCommentKey(ticketSecret), ticketSecret) {
		t.Error("the comment key is the secret")
	}
}
