package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
)

// Review defaults: what an access review left unanswered ends as.
const (
	ReviewKeep   = "keep"
	ReviewRevoke = "revoke"
)

// maxReviewDays bounds REVIEW_EVERY_DAYS and REVIEW_DEADLINE_DAYS.
const maxReviewDays = 3650

// PrincipalTrusted reports whether the portal may believe the
// X-MS-CLIENT-PRINCIPAL header: App Service strips a client's own copy only
// when its authentication is on (WEBSITE_AUTH_ENABLED=True), and a local
// run (GRAPH_AUTH=none) has the local host's sign-in in front.
func (c Config) PrincipalTrusted() bool {
	return strings.EqualFold(strings.TrimSpace(c.WebsiteAuthEnabled), "true") || c.LocalGraph()
}

// PublicURL is the app's public base URL, which review notices link to:
// PORTAL_URL, or else https://<WEBSITE_HOSTNAME>, the default host name
// App Service sets; empty in a local run that sets neither.
func (c Config) PublicURL() string {
	if c.PortalURL != "" {
		return strings.TrimSuffix(c.PortalURL, "/")
	}
	if h := strings.TrimSpace(c.WebsiteHostname); h != "" {
		return "https://" + h
	}
	return ""
}

// PortalKey is the key of the portal's form tokens. PORTAL_TOKEN_KEY when
// set; otherwise derived from TICKET_WEBHOOK_SECRET, so that every instance
// of a scaled-out app signs and checks the same tokens without another
// secret to manage. Nil when neither is set: the portal then makes a key
// per process (a token works only on the instance that issued it).
func (c Config) PortalKey() []byte {
	if c.PortalTokenSecret != "" {
		return []byte(c.PortalTokenSecret)
	}
	if c.TicketWebhookSecret == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(c.TicketWebhookSecret))
	m.Write([]byte("portal form tokens v1"))
	return m.Sum(nil)
}

func (c Config) validatePortal(bad func(v, format string, args ...any)) {
	if c.ReviewEveryDays < 0 || c.ReviewEveryDays > maxReviewDays {
		bad("REVIEW_EVERY_DAYS", "%d must be from 0 (off) to %d", c.ReviewEveryDays, maxReviewDays)
	}
	if c.ReviewDeadlineDays < 1 || c.ReviewDeadlineDays > maxReviewDays {
		bad("REVIEW_DEADLINE_DAYS", "%d must be from 1 to %d", c.ReviewDeadlineDays, maxReviewDays)
	}
	switch c.ReviewDefault {
	case ReviewKeep, ReviewRevoke:
	default:
		bad("REVIEW_DEFAULT", "%q is not keep or revoke", c.ReviewDefault)
	}
	if c.PortalURL != "" && !isHTTPURL(c.PortalURL) {
		bad("PORTAL_URL", "must be an http(s) URL, the app's public base URL")
	}
	if c.PortalTokenSecret != "" && len(c.PortalTokenSecret) < 32 {
		bad("PORTAL_TOKEN_KEY", "must be at least 32 characters")
	}
}
