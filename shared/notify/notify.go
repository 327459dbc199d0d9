// Package notify delivers the app's notifications (access.Notification)
// through their channel: mail sent through Microsoft Graph as the partner's
// notification mailbox, an Adaptive Card posted to a Teams Workflows
// webhook, or a signed comment posted to the ticketing system.
//
// It depends on nothing but the domain: mail goes through the narrow Mailer
// interface that the Graph adapter satisfies, and ticket comments are signed
// by a function main injects (webhook.TicketCommentSigner), so that adapters never
// import each other and the HMAC secret never enters this package.
//
// A channel whose destination is not configured, or a notification with no
// one to send to, is skipped rather than failed: the outbox marks it done
// and the skip is logged, because no retry could ever deliver it.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// DefaultTimeout bounds one webhook POST when Options.HTTPClient is nil.
const DefaultTimeout = 15 * time.Second

// Mailer sends a plain mail from a mailbox of the partner tenant. The Graph
// adapter's SendMail satisfies it.
type Mailer interface {
	SendMail(ctx context.Context, partnerTenantID, from string, m access.Mail) error
}

// SignFunc returns the headers that sign an outbound ticket callback body,
// in the inbound ticket webhook's scheme but with the key derived for
// comments, so that a comment can never be replayed as a command; it reads
// its own clock. main passes webhook.TicketCommentSigner(secret, now).
type SignFunc func(body []byte) http.Header

// Options configures a Notifier. A destination left empty disables its
// channel; notifications for it are skipped.
type Options struct {
	// MailFrom is the partner mailbox mail is sent as (NOTIFY_MAIL_FROM).
	MailFrom string
	// PartnerTenantID is the tenant MailFrom lives in.
	PartnerTenantID string
	// Mailer sends mail; required when MailFrom is set.
	Mailer Mailer
	// TeamsWebhookURL is the Teams Workflows webhook (NOTIFY_TEAMS_WEBHOOK_URL).
	// Its query carries a signature and is never logged in full.
	TeamsWebhookURL string
	// TicketCallbackURL receives ticket comments (TICKET_CALLBACK_URL).
	TicketCallbackURL string
	// SignTicket signs ticket comments; required when TicketCallbackURL is set.
	SignTicket SignFunc
	// HTTPClient posts to the webhooks; nil means a client with
	// DefaultTimeout. Redirects are never followed.
	HTTPClient *http.Client
	// Logger receives one line per skipped or sent notification; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Notifier delivers notifications. It is safe for concurrent use.
type Notifier struct {
	mailFrom, partnerTenantID string
	mailer                    Mailer
	teamsURL, ticketURL       string
	sign                      SignFunc
	client                    *http.Client
	log                       *slog.Logger
	// secrets are the credential parts of the configured URLs (signature
	// query values, user info): scrubbed from every error and log line.
	secrets []string
}

var _ lifecycle.Notifier = (*Notifier)(nil)

// New builds a Notifier. It returns an error when a destination is set
// without what it needs (a mailer, a tenant, a signer) or is not an http(s)
// URL; the error never repeats a URL.
func New(o Options) (*Notifier, error) {
	n := &Notifier{
		mailFrom:        strings.TrimSpace(o.MailFrom),
		partnerTenantID: strings.TrimSpace(o.PartnerTenantID),
		mailer:          o.Mailer,
		teamsURL:        strings.TrimSpace(o.TeamsWebhookURL),
		ticketURL:       strings.TrimSpace(o.TicketCallbackURL),
		sign:            o.SignTicket,
		log:             o.Logger,
	}
	var errs []error
	if n.mailFrom != "" {
		if n.mailer == nil {
			errs = append(errs, errors.New("notify: mail sender set but no mailer given"))
		}
		if n.partnerTenantID == "" {
			errs = append(errs, errors.New("notify: mail sender set but no partner tenant id given"))
		}
	}
	if n.teamsURL != "" && !isHTTPURL(n.teamsURL) {
		errs = append(errs, errors.New("notify: the Teams webhook url is not an http(s) url"))
	}
	if n.ticketURL != "" {
		if !isHTTPURL(n.ticketURL) {
			errs = append(errs, errors.New("notify: the ticket callback url is not an http(s) url"))
		}
		if n.sign == nil {
			// An unsigned comment would teach the ticketing system to accept unsigned ones.
			errs = append(errs, errors.New("notify: ticket callback url set but no signer given"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var c http.Client
	if o.HTTPClient != nil {
		c = *o.HTTPClient
	} else {
		c.Timeout = DefaultTimeout
	}
	// A redirect would resend a signed body to wherever the answer says;
	// the 3xx is reported instead.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n.client = &c
	if n.log == nil {
		n.log = slog.Default()
	}
	n.secrets = append(urlSecrets(n.teamsURL), urlSecrets(n.ticketURL)...)
	return n, nil
}

// Result says what Deliver did with a notification.
type Result struct {
	Channel access.Channel
	// Sent is true when the destination accepted the notification.
	Sent bool
	// Skipped says why nothing was sent ("" when Sent): the channel is not
	// configured or the notification has nobody to go to.
	Skipped string
}

// Notify delivers n through its channel and logs a skip. It returns nil for
// a skipped notification, since no retry can deliver it. Errors are
// *access.Error: KindTransient for throttling, 5xx and network failures,
// KindInvalid for other refusals and an unknown channel; a Mailer's error
// keeps its kind.
func (nt *Notifier) Notify(ctx context.Context, n access.Notification) error {
	res, err := nt.Deliver(ctx, n)
	if err != nil {
		return err // logged once, by whoever handles it
	}
	attrs := []any{
		slog.String("notification", n.ID), slog.String("grant", n.GrantID),
		slog.String("customerTenantId", n.CustomerTenantID), slog.String("channel", string(n.Channel)),
	}
	if res.Skipped != "" {
		nt.log.InfoContext(ctx, "notification skipped", append(attrs, slog.String("reason", res.Skipped))...)
	} else {
		nt.log.InfoContext(ctx, "notification sent", attrs...)
	}
	return nil
}

// Deliver is Notify without the log line: it reports whether the
// notification was sent or skipped, and why.
func (nt *Notifier) Deliver(ctx context.Context, n access.Notification) (Result, error) {
	res := Result{Channel: n.Channel}
	var skip string
	var err error
	switch n.Channel {
	case access.ChannelMail:
		skip, err = nt.mail(ctx, n)
	case access.ChannelTeams:
		skip, err = nt.teams(ctx, n)
	case access.ChannelTicket:
		skip, err = nt.ticket(ctx, n)
	default:
		return res, access.Errorf(access.KindInvalid, "notification %s: unknown channel %q", n.ID, quoteShort(string(n.Channel)))
	}
	if err != nil {
		return res, err
	}
	res.Skipped = skip
	res.Sent = skip == ""
	return res, nil
}

func (nt *Notifier) mail(ctx context.Context, n access.Notification) (string, error) {
	if nt.mailFrom == "" || nt.mailer == nil {
		return "mail is not configured (NOTIFY_MAIL_FROM)", nil
	}
	var to []string
	for _, r := range n.To {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(to, r) {
			to = append(to, r)
		}
	}
	if len(to) == 0 {
		return "the notification has no mail recipients", nil
	}
	m := access.Mail{To: to, Subject: n.Subject, Body: mailBody(n)}
	if err := nt.mailer.SendMail(ctx, nt.partnerTenantID, nt.mailFrom, m); err != nil {
		return "", fmt.Errorf("send mail for notification %s: %w", n.ID, err)
	}
	return "", nil
}

// mailBody renders the plain text mail: the text, the facts one per line in
// a stable order, then the link on a line of its own so that mail clients
// make it clickable.
func mailBody(n access.Notification) string {
	var parts []string
	if t := strings.TrimSpace(n.Text); t != "" {
		parts = append(parts, t)
	}
	if keys := factKeys(n.Facts); len(keys) > 0 {
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k + ": " + n.Facts[k]
		}
		parts = append(parts, strings.Join(lines, "\n"))
	}
	if l := strings.TrimSpace(n.Link); l != "" {
		parts = append(parts, l)
	}
	return strings.Join(parts, "\n\n") + "\n"
}

func (nt *Notifier) teams(ctx context.Context, n access.Notification) (string, error) {
	if nt.teamsURL == "" {
		return "Teams is not configured (NOTIFY_TEAMS_WEBHOOK_URL)", nil
	}
	body, err := teamsCard(n)
	if err != nil {
		return "", access.WrapKind(access.KindInternal, err, "render card for notification %s", n.ID)
	}
	return "", nt.post(ctx, "post Teams card for notification "+n.ID, nt.teamsURL, body, idempotency(nil, n))
}

// ticketComment is the body of a ticket callback (DESIGN.md section 5,
// outbound).
type ticketComment struct {
	Ticket           access.Ticket     `json:"ticket"`
	GrantID          string            `json:"grantId"`
	CustomerTenantID string            `json:"customerTenantId"`
	Subject          string            `json:"subject"`
	Text             string            `json:"text"`
	Facts            map[string]string `json:"facts"`
	Link             string            `json:"link"`
	// IdempotencyKey is the outbox entry's id, also sent as the
	// Idempotency-Key header: a copy that a crash between send and record
	// causes carries the same key.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// idempotency adds the notification's id to h as Idempotency-Key: the
// same for every copy of one outbox entry, so that a receiver can drop a
// repeat.
func idempotency(h http.Header, n access.Notification) http.Header {
	if n.ID == "" {
		return h
	}
	if h == nil {
		h = http.Header{}
	} else {
		h = h.Clone()
	}
	h.Set("Idempotency-Key", n.ID)
	return h
}

func (nt *Notifier) ticket(ctx context.Context, n access.Notification) (string, error) {
	if nt.ticketURL == "" || nt.sign == nil {
		return "ticket callbacks are not configured (TICKET_CALLBACK_URL)", nil
	}
	if strings.TrimSpace(n.Ticket.ID) == "" {
		return "the notification names no ticket", nil
	}
	facts := n.Facts
	if facts == nil {
		facts = map[string]string{} // an object, never null, for the receiver's sake
	}
	body, err := funchost.Marshal(ticketComment{
		Ticket: n.Ticket, GrantID: n.GrantID, CustomerTenantID: n.CustomerTenantID,
		Subject: n.Subject, Text: n.Text, Facts: facts, Link: n.Link, IdempotencyKey: n.ID,
	})
	if err != nil {
		return "", access.WrapKind(access.KindInternal, err, "render ticket comment for notification %s", n.ID)
	}
	return "", nt.post(ctx, "post ticket comment for notification "+n.ID, nt.ticketURL, body, idempotency(nt.sign(body), n))
}

// post sends body as JSON and maps the outcome onto the error vocabulary.
// Nothing from the URL's credentials reaches the error.
func (nt *Notifier) post(ctx context.Context, what, rawURL string, body []byte, h http.Header) error {
	where := RedactURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(string(body)))
	if err != nil {
		return access.Errorf(access.KindInvalid, "%s to %s: cannot build the request", what, where)
	}
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := nt.client.Do(req)
	if err != nil {
		return &access.Error{Kind: access.KindTransient, Msg: fmt.Sprintf("%s to %s", what, where), Err: nt.scrubbed(err)}
	}
	defer resp.Body.Close()
	snippet := nt.snippet(resp.Body)
	code := fmt.Sprintf("http_%d", resp.StatusCode)
	msg := fmt.Sprintf("%s to %s: status %d", what, where, resp.StatusCode)
	if snippet != "" {
		msg += ": " + snippet
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return &access.Error{Kind: access.KindTransient, Code: code, Msg: msg}
	default:
		return &access.Error{Kind: access.KindInvalid, Code: code, Msg: msg}
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// quoteShort cuts a caller-given value for an error message, so that a
// hostile value cannot flood the logs.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
