package functions

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// Portal actions: the last segment of an action's path.
const (
	actRevoke = "revoke"
	actExtend = "extend"
	actReview = "review"
)

// tokenLife is how long a form's token is good for after the page that
// carries it was rendered.
const tokenLife = 12 * time.Hour

// processKey is the form-token key when the configuration gives none: one
// per process, so a token works only on the instance that rendered it
// (set PORTAL_TOKEN_KEY or TICKET_WEBHOOK_SECRET for a scaled-out app).
var processKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return k
})

func (d Deps) tokenKey() []byte {
	if k := d.Config.PortalKey(); k != nil {
		return k
	}
	return processKey()
}

// formToken binds a form to the signed-in principal (tenant and object
// id), the action and the grant: "<unix seconds>.<base64url HMAC-SHA256>".
func (d Deps) formToken(p principal, action, customer, grantID string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return ts + "." + d.tokenMAC(ts, p, action, customer, grantID)
}

func (d Deps) tokenMAC(ts string, p principal, action, customer, grantID string) string {
	m := hmac.New(sha256.New, d.tokenKey())
	m.Write([]byte(strings.Join([]string{"portal-form-v1", ts, p.TenantID, p.ObjectID, action, customer, grantID}, "\n")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkToken reports whether token is one formToken made for this
// principal, action and grant, within its life.
func (d Deps) checkToken(token string, p principal, action, customer, grantID string, now time.Time) bool {
	ts, mac, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	issued := time.Unix(n, 0)
	if now.Sub(issued) > tokenLife || issued.Sub(now) > 5*time.Minute {
		return false
	}
	want := d.tokenMAC(ts, p, action, customer, grantID)
	return hmac.Equal([]byte(mac), []byte(want))
}

// sameOrigin refuses a cross-site post: Sec-Fetch-Site, which browsers
// send and a page cannot forge, must be same-origin (or none, a
// navigation the person started), and an Origin must be the app's own.
func sameOrigin(req funchost.HTTPRequest) bool {
	switch site := strings.ToLower(req.Header.Get("Sec-Fetch-Site")); site {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := req.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // including "null": a sandboxed or privacy-hidden origin
	}
	for _, host := range []string{req.URL.Host, req.Header.Get("X-Forwarded-Host"), req.Header.Get("Host"), req.Header.Get("X-Original-Host")} {
		if host != "" && strings.EqualFold(u.Host, host) {
			return true
		}
	}
	return false
}
