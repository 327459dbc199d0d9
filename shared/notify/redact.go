package notify

import (
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// redacted replaces a credential in URLs and messages.
const redacted = "REDACTED"

// minSecretLen keeps scrubbing from mangling messages over values too short
// to be a credential (a "1" would otherwise vanish from every status code).
const minSecretLen = 6

// RedactURL returns rawURL fit for a log line or an error: its
// scheme://host[:port] alone. A webhook's path can be its secret (a Teams
// Workflows URL carries one in its path and its "sig"), and a callback's
// path names the ticketing system's tenant; neither belongs in a log. An
// unparseable URL is replaced whole.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "[unparseable url]"
	}
	return u.Scheme + "://" + u.Host
}

// sensitiveKey reports whether a query parameter may hold a credential.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"sig", "token", "secret", "key", "password", "pwd", "auth", "code", "credential", "sas"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// urlSecrets lists the credential parts of rawURL in every spelling they
// may take in a message: its path and query, user info, and the sensitive
// query values raw, decoded and re-encoded.
func urlSecrets(rawURL string) []string {
	if rawURL == "" {
		return nil
	}
	var out []string
	add := func(s string) {
		if len(s) >= minSecretLen {
			out = append(out, s)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	if p := strings.Trim(u.EscapedPath(), "/"); p != "" {
		// The path, escaped and not, and with the query: every way a
		// message may quote what follows the host.
		add(u.EscapedPath())
		add(u.Path)
		add(u.RequestURI())
	}
	if u.User != nil {
		add(u.User.Username())
		if p, ok := u.User.Password(); ok {
			add(p)
		}
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(p, "=")
		key, kerr := url.QueryUnescape(k)
		if kerr == nil && !sensitiveKey(key) {
			continue
		}
		add(v)
		if dv, err := url.QueryUnescape(v); err == nil {
			add(dv)
			add(url.QueryEscape(dv))
			add(url.PathEscape(dv))
		}
	}
	return out
}

// scrub removes the configured URLs (whole, as given and as Go prints them)
// and their credentials from s.
func (nt *Notifier) scrub(s string) string {
	for _, raw := range []string{nt.teamsURL, nt.ticketURL} {
		if raw == "" {
			continue
		}
		s = strings.ReplaceAll(s, raw, RedactURL(raw))
		if u, err := url.Parse(raw); err == nil {
			s = strings.ReplaceAll(s, u.String(), RedactURL(raw))
		}
	}
	for _, sec := range nt.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// scrubbedError keeps an error's chain for errors.Is (context.Canceled,
// timeouts) while its text goes through scrub: *url.Error repeats the whole
// request URL, signature included.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func (nt *Notifier) scrubbed(err error) error {
	return &scrubbedError{msg: nt.scrub(err.Error()), err: err}
}

// snippet returns the start of an answer as one short printable line with
// the credentials scrubbed, for an error that helps whoever reads it without
// flooding the logs. It scrubs before it cuts, so that no credential is left
// half there; what it reads is far longer than what it keeps, so no
// credential straddles the end of the read within what is kept.
func (nt *Notifier) snippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	s := nt.scrub(string(b))
	var sb strings.Builder
	space := false
	for _, c := range s {
		if sb.Len() >= 200 {
			sb.WriteString("…")
			break
		}
		if c == utf8.RuneError || unicode.IsSpace(c) || !unicode.IsPrint(c) {
			space = sb.Len() > 0
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(c)
	}
	return sb.String()
}
