package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// FuzzVerifyTicket checks that no header or body makes VerifyTicket panic,
// that every refusal is unauthorized, that nothing but the right MAC is
// accepted, and that whatever SignTicket signs verifies.
func FuzzVerifyTicket(f *testing.F) {
	ts, sig := SignTicket(ticketSecret, ticketBody, ticketNow)
	f.Add(ts, sig, ticketBody, int64(0))
	f.Add(ts, sig, ticketBody, int64(301))
	f.Add("+"+ts, sig, ticketBody, int64(0))
	f.Add(ts, "sha256=", []byte{}, int64(-300))
	f.Add("", "", []byte(nil), int64(0))
	f.Add("99999999999999999999", "sha256="+strings.Repeat("0", 64), []byte("{}"), int64(1<<62))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte, offset int64) {
		now := time.Unix(ticketNow.Unix()+offset%(1<<40), 0)
		h := http.Header{}
		h.Set(HeaderTicketTimestamp, ts)
		h.Set(HeaderTicketSignature, sig)
		err := VerifyTicket(ticketSecret, h, body, now)
		if err != nil {
			if k := access.KindOf(err); k != access.KindUnauthorized {
				t.Fatalf("VerifyTicket = %v (kind %v), want unauthorized", err, k)
			}
			if strings.Contains(err.Error(), string(ticketSecret)) {
				t.Fatalf("error %q holds the secret", err)
			}
		} else {
			got, decErr := hex.DecodeString(strings.TrimSpace(sig)[len(ticketSigPrefix):])
			if decErr != nil || !hmac.Equal(got, ticketMAC(ticketSecret, strings.TrimSpace(ts), body)) {
				t.Fatalf("VerifyTicket accepted timestamp %q signature %q that is not the MAC of the body", ts, sig)
			}
		}
		ts2, sig2 := SignTicket(ticketSecret, body, now)
		h.Set(HeaderTicketTimestamp, ts2)
		h.Set(HeaderTicketSignature, sig2)
		if now.Unix() >= 0 {
			if err := VerifyTicket(ticketSecret, h, body, now); err != nil {
				t.Fatalf("VerifyTicket of its own signature = %v", err)
			}
		}
	})
}

// FuzzParseEvent checks that ParseEvent never panics, refuses only with
// KindInvalid, and that an accepted relationship event names a well-formed
// relationship id.
func FuzzParseEvent(f *testing.F) {
	f.Add(pcBody)
	f.Add([]byte(`{"EventName":"test-created"}`))
	f.Add([]byte(`{"EventName":"granular-admin-relationship-expired","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/x/"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"EventName":"x","ResourceChangeUtcDate":"2026-11-27T08:00:00.5485487+00:00"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			if k := access.KindOf(err); k != access.KindInvalid {
				t.Fatalf("ParseEvent = %v (kind %v), want invalid", err, k)
			}
			return
		}
		if ev.EventName == "" {
			t.Fatal("ParseEvent accepted an event without a name")
		}
		if isRelationshipEvent(ev) && !isRelationshipID(ev.RelationshipID) {
			t.Fatalf("ParseEvent accepted relationship event with id %q", ev.RelationshipID)
		}
		if ev.RelationshipID != "" && !strings.HasSuffix(strings.TrimRight(ev.ResourceURI, "/"), ev.RelationshipID) &&
			!strings.Contains(ev.ResourceURI, "%") {
			t.Fatalf("RelationshipID %q is not the end of %q", ev.RelationshipID, ev.ResourceURI)
		}
	})
}

// FuzzPartnerCenterHeaders checks that no combination of signature,
// certificate url and algorithm headers makes Verify panic, that it refuses
// with unauthorized or transient only, and that it never fetches from an
// origin outside the allow-list. The transport is in memory: it serves the
// test leaf for every request, so no fuzz input reaches the network.
func FuzzPartnerCenterHeaders(f *testing.F) {
	p := thePKI(f)
	const certURL = DefaultCertOrigin + "/cert/pcnotifications-dispatch.microsoft.com.cer"
	good := sign(f, p.leafKey, pcBody)
	f.Add("Signature "+good, "", certURL, "rsa-sha256", pcBody)
	f.Add("", good, certURL, "rsa-sha256", pcBody)
	f.Add("Signature "+good, "", certURL, "rsa-sha1", pcBody)
	f.Add("Signature "+good, "", "https://3psostorageacct.blob.core.windows.net.evil.example/c.cer", "rsa-sha256", pcBody)
	f.Add("Signature "+good, "", "https://3psostorageacct.blob.core.windows.net@evil.example/c.cer", "rsa-sha256", pcBody)
	f.Add("Bearer x", "", "", "", []byte(nil))
	f.Add("Signature ====", "AAAA", "http://[::1]:80/", "RSA-SHA256", []byte("{}"))
	f.Fuzz(func(t *testing.T, auth, msSig, certURL, algo string, body []byte) {
		var fetched []string
		v, err := NewPartnerCenterVerifier(PartnerCenterOptions{
			Roots: p.roots,
			HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				fetched = append(fetched, r.URL.Scheme+"://"+r.URL.Host)
				return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(p.leaf)), Header: http.Header{}, Request: r}, nil
			})},
		})
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		for name, val := range map[string]string{
			"Authorization": auth, "x-ms-signature": msSig,
			"X-MS-Certificate-Url": certURL, "X-MS-Signature-Algorithm": algo,
		} {
			if val != "" {
				h.Set(name, val)
			}
		}
		err = v.Verify(context.Background(), h, body)
		if err != nil {
			if k := access.KindOf(err); k != access.KindUnauthorized && k != access.KindTransient {
				t.Fatalf("Verify = %v (kind %v), want unauthorized or transient", err, k)
			}
		} else if !bytes.Equal(body, pcBody) {
			t.Fatalf("Verify accepted body %q that the test key never signed", body)
		}
		for _, o := range fetched {
			if !strings.EqualFold(o, DefaultCertOrigin) && !strings.EqualFold(o, DefaultCertOrigin+":443") {
				t.Fatalf("Verify fetched from %q, outside the allow-list", o)
			}
		}
	})
}
