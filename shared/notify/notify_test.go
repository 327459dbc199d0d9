package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/notify"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	// Known secrets: every error and log line is scanned for them.
	ticketSecret = "ticket-hmac-secret-0123456789abcdef0123"
	teamsSig     = "TeamsSig0123456789abcdefXYZ"
	callbackTok  = "callback-token-987654321"
	teamsPath    = "/workflows/3f2a/triggers/manual/paths/invoke"
	teamsQuery   = "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + teamsSig
	partnerID    = "11111111-2222-3333-4444-555555555555"
	customerID   = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

var secrets = []string{ticketSecret, teamsSig, callbackTok}

var now = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// request is one request a test server received.
type request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// server records requests and answers with status (and body, if set).
type server struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	status int
	body   string
}

func newServer(t *testing.T, status int) *server {
	t.Helper()
	s := &server{status: status}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), b})
		status, body := s.status, s.body
		s.mu.Unlock()
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

// fakeMailer records the mail it is asked to send.
type fakeMailer struct {
	mu    sync.Mutex
	calls []mailCall
	err   error
}

type mailCall struct {
	TenantID, From string
	Mail           access.Mail
}

func (f *fakeMailer) SendMail(_ context.Context, tenantID, from string, m access.Mail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, mailCall{tenantID, from, m})
	return f.err
}

func notification(ch access.Channel) access.Notification {
	return access.Notification{
		ID:               "evt-1/0",
		CustomerTenantID: customerID,
		GrantID:          "gdap:2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
		EventID:          "evt-1",
		Audience:         access.AudienceCustomer,
		Channel:          ch,
		To:               []string{"secops@customer.example"},
		Ticket:           access.Ticket{System: "jira", ID: "SEC-42"},
		Subject:          "Approve Security Copilot access for Contoso MSSP",
		Text:             "Contoso MSSP asks for Security Reader and Security Operator for 90 days.\nApprove the request in the Microsoft 365 admin center.",
		Facts: map[string]string{
			"Roles":    "Security Reader, Security Operator",
			"Customer": "Fabrikam",
			"Until":    "2027-02-25",
			"Method":   "GDAP",
		},
		Link: "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/2d8b4e1f?x=1&y=2",
	}
}

func newNotifier(t *testing.T, o notify.Options) (*notify.Notifier, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	n, err := notify.New(o)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return n, &logs
}

// assertNoSecret fails if s holds any secret, or the first 10 characters
// of one: a message cut in the middle of a secret leaks it just the same.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec[:10]) {
			t.Errorf("%s holds the secret %q: %s", what, sec, s)
		}
	}
}

func TestTeamsCardGolden(t *testing.T) {
	srv := newServer(t, http.StatusAccepted) // Workflows answers 202
	n, logs := newNotifier(t, notify.Options{TeamsWebhookURL: srv.URL + teamsPath + teamsQuery})
	res, err := n.Deliver(context.Background(), notification(access.ChannelTeams))
	if err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	if !res.Sent || res.Skipped != "" {
		t.Errorf("Deliver = %+v, want sent", res)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != teamsPath || !strings.Contains(r.RawQuery, "sig="+teamsSig) {
		t.Errorf("request = %s %s?%s, want POST to the webhook url with its query", r.Method, r.Path, r.RawQuery)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if key := r.Header.Get("Idempotency-Key"); key != notification(access.ChannelTeams).ID || key == "" {
		t.Errorf("Idempotency-Key = %q, want the notification's id", key)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, r.Body, "", "  "); err != nil {
		t.Fatalf("card is not JSON: %v\n%s", err, r.Body)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "teams-card.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("card =\n%s\nwant (%s)\n%s", pretty.Bytes(), golden, want)
	}
	if err := n.Notify(context.Background(), notification(access.ChannelTeams)); err != nil {
		t.Fatalf("Notify = %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"notification sent"`) {
		t.Errorf("log = %s, want a notification sent line", logs)
	}
	assertNoSecret(t, "log", logs.String())

	// The shape Teams needs, independent of the golden file.
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []struct {
					Type  string `json:"type"`
					Text  string `json:"text"`
					Wrap  bool   `json:"wrap"`
					Facts []struct{ Title, Value string }
				} `json:"body"`
				Actions []struct{ Type, Title, URL string } `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(r.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 {
		t.Fatalf("message = %+v, want one attachment", msg)
	}
	a := msg.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" ||
		(a.Content.Version != "1.4" && a.Content.Version != "1.5") {
		t.Errorf("attachment = %s %s %s, want an Adaptive Card 1.4 or 1.5", a.ContentType, a.Content.Type, a.Content.Version)
	}
	b := a.Content.Body
	if len(b) != 3 || b[0].Text != notification("").Subject || b[1].Text != strings.ReplaceAll(notification("").Text, "\n", "\n\n") || !b[1].Wrap || b[2].Type != "FactSet" {
		t.Fatalf("body = %+v, want title, wrapped text, fact set", b)
	}
	var titles []string
	for _, f := range b[2].Facts {
		titles = append(titles, f.Title)
	}
	if got := strings.Join(titles, ","); got != "Customer,Method,Roles,Until" {
		t.Errorf("fact order = %s, want sorted by name", got)
	}
	if len(a.Content.Actions) != 1 || a.Content.Actions[0].Type != "Action.OpenUrl" || a.Content.Actions[0].URL != notification("").Link {
		t.Errorf("actions = %+v, want one Action.OpenUrl to the link", a.Content.Actions)
	}
}

func TestTeamsCardStable(t *testing.T) {
	srv := newServer(t, http.StatusAccepted)
	n, _ := newNotifier(t, notify.Options{TeamsWebhookURL: srv.URL})
	for i := 0; i < 20; i++ {
		if err := n.Notify(context.Background(), notification(access.ChannelTeams)); err != nil {
			t.Fatal(err)
		}
	}
	reqs := srv.requests()
	for _, r := range reqs[1:] {
		if !bytes.Equal(r.Body, reqs[0].Body) {
			t.Fatalf("card changed between sends:\n%s\n%s", r.Body, reqs[0].Body)
		}
	}
}

func TestTeamsCardMinimal(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	n, _ := newNotifier(t, notify.Options{TeamsWebhookURL: srv.URL})
	for _, link := range []string{"", "javascript:alert(1)", "/relative"} {
		nt := notification(access.ChannelTeams)
		nt.Subject, nt.Facts, nt.Link = "", nil, link
		if err := n.Notify(context.Background(), nt); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range srv.requests() {
		s := string(r.Body)
		if strings.Contains(s, "FactSet") || strings.Contains(s, "Action.OpenUrl") {
			t.Errorf("card = %s, want no fact set and no action", s)
		}
		if !strings.Contains(s, `"text":"Security Copilot partner access"`) {
			t.Errorf("card = %s, want the default title", s)
		}
	}
}

func TestTicketCallbackSigned(t *testing.T) {
	srv := newServer(t, http.StatusNoContent)
	n, _ := newNotifier(t, notify.Options{
		TicketCallbackURL: srv.URL + "/comments?token=" + callbackTok,
		SignTicket:        webhook.TicketCommentSigner([]byte(ticketSecret), clock),
	})
	nt := notification(access.ChannelTicket)
	if err := n.Notify(context.Background(), nt); err != nil {
		t.Fatalf("Notify = %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if err := webhook.VerifyTicketComment([]byte(ticketSecret), r.Header, r.Body, now.Add(time.Minute)); err != nil {
		t.Errorf("VerifyTicketComment of the callback = %v, want nil", err)
	}
	if err := webhook.VerifyTicketComment([]byte("another secret"), r.Header, r.Body, now); err == nil {
		t.Error("VerifyTicketComment with another secret = nil, want an error")
	}
	if err := webhook.VerifyTicket([]byte(ticketSecret), r.Header, r.Body, now); err == nil {
		t.Error("the comment verifies as an inbound command (signed with the secret itself), want an error")
	}
	if got := r.Header.Get("Idempotency-Key"); got != nt.ID {
		t.Errorf("Idempotency-Key = %q, want %q", got, nt.ID)
	}
	// The wire names are the contract's (DESIGN.md section 5): read them
	// as a receiver would, not through the sender's struct.
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	want := map[string]any{
		"ticket":           map[string]any{"system": nt.Ticket.System, "id": nt.Ticket.ID},
		"grantId":          nt.GrantID,
		"customerTenantId": nt.CustomerTenantID,
		"subject":          nt.Subject,
		"text":             nt.Text,
		"facts":            stringMap(nt.Facts),
		"link":             nt.Link,
		"idempotencyKey":   nt.ID,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want the notification's fields %v", got, want)
	}
	if assertBody := string(r.Body); strings.Contains(assertBody, ticketSecret) {
		t.Error("body holds the secret")
	}
}

func TestTicketFactsNeverNull(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	n, _ := newNotifier(t, notify.Options{TicketCallbackURL: srv.URL, SignTicket: webhook.TicketCommentSigner([]byte(ticketSecret), clock)})
	nt := notification(access.ChannelTicket)
	nt.Facts = nil
	if err := n.Notify(context.Background(), nt); err != nil {
		t.Fatal(err)
	}
	if b := string(srv.requests()[0].Body); !strings.Contains(b, `"facts":{}`) {
		t.Errorf("body = %s, want facts as an empty object", b)
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		want     access.Kind // KindInternal: no error
		statuses []int
	}{
		{access.KindInternal, []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent}},
		{access.KindInvalid, []int{http.StatusFound, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound}},
		{access.KindTransient, []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable}},
	}
	for _, ch := range []access.Channel{access.ChannelTeams, access.ChannelTicket} {
		for _, tt := range tests {
			for _, status := range tt.statuses {
				srv := newServer(t, status)
				n, _ := newNotifier(t, notify.Options{
					TeamsWebhookURL:   srv.URL + teamsPath + teamsQuery,
					TicketCallbackURL: srv.URL + "/comments?token=" + callbackTok,
					SignTicket:        webhook.TicketCommentSigner([]byte(ticketSecret), clock),
				})
				err := n.Notify(context.Background(), notification(ch))
				if tt.want == access.KindInternal {
					if err != nil {
						t.Errorf("%s answered %d: Notify = %v, want nil", ch, status, err)
					}
					continue
				}
				if got := access.KindOf(err); err == nil || got != tt.want {
					t.Errorf("%s answered %d: Notify = %v (kind %v), want kind %v", ch, status, err, got, tt.want)
					continue
				}
				if !strings.Contains(err.Error(), "status "+strconv.Itoa(status)) {
					t.Errorf("%s answered %d: error %q does not name the status", ch, status, err)
				}
				assertNoSecret(t, "error", err.Error())
				if len(srv.requests()) != 1 {
					t.Errorf("%s answered %d: %d requests, want 1 (redirects are not followed)", ch, status, len(srv.requests()))
				}
			}
		}
	}
}

func TestRedactionInErrors(t *testing.T) {
	srv := newServer(t, http.StatusBadRequest)
	// A hostile or careless answer that repeats the request URL.
	srv.body = "bad request for " + srv.URL + teamsPath + teamsQuery + " (sig " + teamsSig + ")" + strings.Repeat(" sig "+teamsSig, 50)
	n, logs := newNotifier(t, notify.Options{TeamsWebhookURL: srv.URL + teamsPath + teamsQuery})
	err := n.Notify(context.Background(), notification(access.ChannelTeams))
	if access.KindOf(err) != access.KindInvalid {
		t.Fatalf("Notify = %v, want invalid", err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	assertNoSecret(t, "error", msg)
	if !strings.Contains(msg, srv.URL) || strings.Contains(msg, teamsPath) || strings.Contains(logs.String(), teamsPath) {
		t.Errorf("error %q, want the webhook named by scheme://host only, without its path", msg)
	}
	assertNoSecret(t, "log", logs.String())
}

func TestNetworkError(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	base := srv.URL
	srv.Close()
	n, logs := newNotifier(t, notify.Options{
		TeamsWebhookURL:   base + teamsPath + teamsQuery,
		TicketCallbackURL: "http://user:" + callbackTok + "@" + strings.TrimPrefix(base, "http://") + "/c?token=" + callbackTok,
		SignTicket:        webhook.TicketCommentSigner([]byte(ticketSecret), clock),
	})
	for _, ch := range []access.Channel{access.ChannelTeams, access.ChannelTicket} {
		err := n.Notify(context.Background(), notification(ch))
		if access.KindOf(err) != access.KindTransient {
			t.Errorf("%s unreachable: Notify = %v, want transient", ch, err)
			continue
		}
		t.Logf("%s: %v", ch, err)
		assertNoSecret(t, "error", err.Error())
	}
	assertNoSecret(t, "log", logs.String())
}

func TestContextCanceled(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	n, _ := newNotifier(t, notify.Options{TeamsWebhookURL: srv.URL + teamsPath + teamsQuery})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := n.Notify(ctx, notification(access.ChannelTeams))
	if access.KindOf(err) != access.KindTransient || !errors.Is(err, context.Canceled) {
		t.Errorf("Notify with a canceled context = %v, want transient wrapping context.Canceled", err)
	}
	assertNoSecret(t, "error", err.Error())
}

func TestMail(t *testing.T) {
	m := &fakeMailer{}
	n, logs := newNotifier(t, notify.Options{MailFrom: "copilot-access@mssp.example", PartnerTenantID: partnerID, Mailer: m})
	nt := notification(access.ChannelMail)
	nt.To = []string{" secops@customer.example ", "", "ciso@customer.example", "secops@customer.example"}
	res, err := n.Deliver(context.Background(), nt)
	if err != nil || !res.Sent {
		t.Fatalf("Deliver = %+v, %v, want sent", res, err)
	}
	if len(m.calls) != 1 {
		t.Fatalf("mailer called %d times, want 1", len(m.calls))
	}
	c := m.calls[0]
	if c.TenantID != partnerID || c.From != "copilot-access@mssp.example" {
		t.Errorf("SendMail(%q, %q), want the partner tenant and NOTIFY_MAIL_FROM", c.TenantID, c.From)
	}
	if got := strings.Join(c.Mail.To, ","); got != "secops@customer.example,ciso@customer.example" {
		t.Errorf("To = %s, want trimmed, without blanks and repeats", got)
	}
	if c.Mail.Subject != nt.Subject {
		t.Errorf("Subject = %q, want %q", c.Mail.Subject, nt.Subject)
	}
	wantBody := nt.Text + "\n\nCustomer: Fabrikam\nMethod: GDAP\nRoles: Security Reader, Security Operator\nUntil: 2027-02-25\n\n" + nt.Link + "\n"
	if c.Mail.Body != wantBody {
		t.Errorf("Body =\n%s\nwant\n%s", c.Mail.Body, wantBody)
	}
	if logs.Len() != 0 {
		t.Errorf("Deliver logged %s, want nothing (Notify logs)", logs)
	}
	if err := n.Notify(context.Background(), nt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"notification sent"`) {
		t.Errorf("log = %s, want a sent line", logs)
	}

	// The mailer's kind is kept: Graph throttling stays retryable.
	m.err = access.Errorf(access.KindTransient, "graph throttled")
	if err := n.Notify(context.Background(), nt); access.KindOf(err) != access.KindTransient {
		t.Errorf("Notify with a throttled mailer = %v, want transient", err)
	}
}

func TestSkipped(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	m := &fakeMailer{}
	configured := notify.Options{
		MailFrom: "copilot-access@mssp.example", PartnerTenantID: partnerID, Mailer: m,
		TeamsWebhookURL: srv.URL, TicketCallbackURL: srv.URL, SignTicket: webhook.TicketCommentSigner([]byte(ticketSecret), clock),
	}
	noRecipients := notification(access.ChannelMail)
	noRecipients.To = []string{" ", ""}
	noTicket := notification(access.ChannelTicket)
	noTicket.Ticket = access.Ticket{}
	tests := []struct {
		name string
		opts notify.Options
		n    access.Notification
	}{
		{"mail not configured", notify.Options{}, notification(access.ChannelMail)},
		{"no mail recipients", configured, noRecipients},
		{"teams not configured", notify.Options{}, notification(access.ChannelTeams)},
		{"ticket not configured", notify.Options{}, notification(access.ChannelTicket)},
		{"no ticket", configured, noTicket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, logs := newNotifier(t, tt.opts)
			res, err := n.Deliver(context.Background(), tt.n)
			if err != nil || res.Sent || res.Skipped == "" || res.Channel != tt.n.Channel {
				t.Errorf("Deliver = %+v, %v, want skipped with a reason", res, err)
			}
			if err := n.Notify(context.Background(), tt.n); err != nil {
				t.Errorf("Notify = %v, want nil for a skip", err)
			}
			if !strings.Contains(logs.String(), `"msg":"notification skipped"`) || !strings.Contains(logs.String(), `"reason":`) {
				t.Errorf("log = %s, want a skipped line with its reason", logs)
			}
		})
	}
	if len(srv.requests()) != 0 || len(m.calls) != 0 {
		t.Errorf("skips sent %d requests and %d mails, want none", len(srv.requests()), len(m.calls))
	}
}

func TestUnknownChannel(t *testing.T) {
	n, _ := newNotifier(t, notify.Options{})
	nt := notification("sms")
	if err := n.Notify(context.Background(), nt); access.KindOf(err) != access.KindInvalid {
		t.Errorf("Notify through sms = %v, want invalid", err)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts notify.Options
	}{
		{"mail without mailer", notify.Options{MailFrom: "a@b.example", PartnerTenantID: partnerID}},
		{"mail without tenant", notify.Options{MailFrom: "a@b.example", Mailer: &fakeMailer{}}},
		{"teams url not http", notify.Options{TeamsWebhookURL: "ftp://x.example/?sig=" + teamsSig}},
		{"ticket url not a url", notify.Options{TicketCallbackURL: "::?token=" + callbackTok, SignTicket: webhook.TicketCommentSigner([]byte(ticketSecret), clock)}},
		{"ticket url without signer", notify.Options{TicketCallbackURL: "https://x.example/c?token=" + callbackTok}},
	}
	for _, tt := range tests {
		_, err := notify.New(tt.opts)
		if err == nil {
			t.Errorf("%s: New = nil error, want one", tt.name)
			continue
		}
		assertNoSecret(t, tt.name+": error", err.Error())
	}
	if _, err := notify.New(notify.Options{}); err != nil {
		t.Errorf("New(Options{}) = %v, want a notifier that skips everything", err)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://prod-01.westus.logic.azure.com:443/workflows/3f2a/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abcDEF123",
			"https://prod-01.westus.logic.azure.com:443"},
		{"https://user:pw@x.example/c?token=t1&code=c1&x-api-key=k1&a=1#frag", "https://x.example"},
		{"https://x.example/tenant-7/comments", "https://x.example"},
		{"http://127.0.0.1:8091/teams/secret-path", "http://127.0.0.1:8091"},
		{"/relative", "[unparseable url]"},
		{"::", "[unparseable url]"},
	}
	for _, tt := range tests {
		if got := notify.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// stringMap is m as a JSON decoder into any gives it back.
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
