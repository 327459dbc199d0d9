// Package webhook checks the signatures of inbound webhooks and signs
// outbound ones, with the standard library's crypto only.
//
// Two schemes are covered (DESIGN.md section 5): the ticketing system's
// HMAC-SHA256 over "timestamp.body", used both ways, and Partner Center's
// RSA-SHA256 signature made with a certificate it publishes at an
// allow-listed URL. Inbound ticket commands are signed with
// TICKET_WEBHOOK_SECRET itself; outbound ticket comments with a key derived
// from it for that direction (TicketCommentKey), so that a signature made
// for one direction never verifies in the other (DESIGN.md section 11).
//
// Every refusal is an *access.Error of kind KindUnauthorized, so the handler
// answers 401 without knowing which check failed; the only exception is a
// Partner Center certificate that cannot be fetched for now (KindTransient),
// because Partner Center retries and the delivery may well be genuine.
// Messages never hold a secret or an expected signature: an attacker learns
// nothing from a refusal that would help forge the next attempt.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Header names of the ticketing signature.
const (
	HeaderTicketTimestamp = "X-Signature-Timestamp"
	HeaderTicketSignature = "X-Signature"
)

// TicketMaxSkew is how far a ticket signature's timestamp may be from now,
// either way. It bounds the window in which a captured request can be
// replayed; duplicates inside it are caught by the delivery id ledger.
const TicketMaxSkew = 300 * time.Second

// ticketSigPrefix names the MAC in the signature header so that a future
// algorithm can be told apart.
const ticketSigPrefix = "sha256="

// VerifyTicket checks the ticketing signature of a request: the headers
// X-Signature-Timestamp (unix seconds) and X-Signature
// ("sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)), over the raw
// body as received. It refuses, as KindUnauthorized, an empty secret, a
// missing, repeated or malformed header, a timestamp more than TicketMaxSkew
// away from now and a signature that does not match.
func VerifyTicket(secret []byte, header http.Header, body []byte, now time.Time) error {
	if len(secret) == 0 {
		// An empty key is a key everybody knows: refuse rather than accept forgeries.
		return refuse("ticket signature: no secret configured")
	}
	tsValue, err := single(header, HeaderTicketTimestamp)
	if err != nil {
		return err
	}
	sigValue, err := single(header, HeaderTicketSignature)
	if err != nil {
		return err
	}
	ts, ok := parseUnix(tsValue)
	if !ok {
		return refuse("ticket signature: " + HeaderTicketTimestamp + " is not unix seconds")
	}
	// Compare in seconds so that a huge timestamp cannot overflow a Duration.
	if d := now.Unix() - ts; d > int64(TicketMaxSkew/time.Second) || d < -int64(TicketMaxSkew/time.Second) {
		return refuse("ticket signature: timestamp is more than 300 s from now")
	}
	if len(sigValue) < len(ticketSigPrefix) || !strings.EqualFold(sigValue[:len(ticketSigPrefix)], ticketSigPrefix) {
		return refuse("ticket signature: " + HeaderTicketSignature + " must be sha256=<hex>")
	}
	got, err := hex.DecodeString(sigValue[len(ticketSigPrefix):])
	if err != nil || len(got) != sha256.Size {
		return refuse("ticket signature: " + HeaderTicketSignature + " must be sha256=<hex>")
	}
	// hmac.Equal runs in constant time: a byte-wise early exit would let a
	// caller find the signature one byte at a time by timing.
	if !hmac.Equal(got, ticketMAC(secret, tsValue, body)) {
		return refuse("ticket signature: signature does not match")
	}
	return nil
}

// SignTicket signs body the way VerifyTicket checks it and returns the two
// header values: the unix-seconds timestamp and "sha256=<hex>".
func SignTicket(secret, body []byte, now time.Time) (timestamp, signature string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	return timestamp, ticketSigPrefix + hex.EncodeToString(ticketMAC(secret, timestamp, body))
}

// TicketHeaders returns a header holding the ticket signature of body.
func TicketHeaders(secret, body []byte, now time.Time) http.Header {
	ts, sig := SignTicket(secret, body, now)
	h := make(http.Header, 2)
	h.Set(HeaderTicketTimestamp, ts)
	h.Set(HeaderTicketSignature, sig)
	return h
}

// SetTicketHeaders signs body and sets both signature headers on req,
// replacing any already there. body must be exactly the bytes req sends.
func SetTicketHeaders(req *http.Request, secret, body []byte, now time.Time) {
	ts, sig := SignTicket(secret, body, now)
	req.Header.Set(HeaderTicketTimestamp, ts)
	req.Header.Set(HeaderTicketSignature, sig)
}

// TicketCommentLabel names the direction of outbound ticket comments in the
// derivation of their key. A new version of the derivation gets a new label.
const TicketCommentLabel = "copilot-partner-access/ticket-comments/v1"

// TicketCommentKey is the key outbound ticket comments are signed with:
// HMAC-SHA256(secret, TicketCommentLabel). A ticketing system verifies a
// comment by computing it once from the shared secret. An inbound command
// is signed with secret itself, so neither direction's signature verifies
// as the other's: a captured comment cannot be replayed as a command.
func TicketCommentKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(TicketCommentLabel))
	return m.Sum(nil)
}

// TicketCommentHeaders returns a header holding the signature of an
// outbound ticket comment: TicketHeaders with TicketCommentKey(secret).
func TicketCommentHeaders(secret, body []byte, now time.Time) http.Header {
	return TicketHeaders(TicketCommentKey(secret), body, now)
}

// VerifyTicketComment checks an outbound ticket comment's signature, as a
// ticketing system (or a local sink) does: VerifyTicket with
// TicketCommentKey(secret). An empty secret is refused.
func VerifyTicketComment(secret []byte, header http.Header, body []byte, now time.Time) error {
	if len(secret) == 0 {
		return refuse("ticket comment signature: no secret configured")
	}
	return VerifyTicket(TicketCommentKey(secret), header, body, now)
}

// TicketCommentSigner returns the signing function of outbound ticket
// comments, bound to the key derived from secret (TicketCommentKey) and to
// clock (time.Now when nil), in the shape notify.Options.SignTicket takes,
// so that main can hand the notifier a signer without notify importing this
// package or holding the secret itself.
func TicketCommentSigner(secret []byte, clock func() time.Time) func(body []byte) http.Header {
	key := TicketCommentKey(secret)
	if clock == nil {
		clock = time.Now
	}
	return func(body []byte) http.Header { return TicketHeaders(key, body, clock()) }
}

func ticketMAC(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// single returns the one value of a header. Two values are refused: a proxy
// that joins or repeats headers must not let a caller pick which one counts.
func single(h http.Header, name string) (string, error) {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return "", refuse("signature: missing " + name + " header")
	case 1:
	default:
		return "", refuse("signature: " + name + " header given more than once")
	}
	v := strings.TrimSpace(vs[0])
	if v == "" {
		return "", refuse("signature: empty " + name + " header")
	}
	return v, nil
}

// parseUnix accepts decimal digits only: strconv.ParseInt would also take a
// sign, and "+1700000000" signed by one party must not equal "1700000000"
// to the other.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func refuse(msg string) error { return &access.Error{Kind: access.KindUnauthorized, Msg: msg} }
