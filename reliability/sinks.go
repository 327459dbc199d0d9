package reliability

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// sink stands in for a webhook receiver (a Teams Workflows trigger, a
// ticketing system's comment endpoint): it accepts every POST and keeps
// it, so that the checks can count what arrived.
type sink struct {
	status int

	mu    sync.Mutex
	posts []post
	srv   *httptest.Server
}

// post is one request a sink received.
type post struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

func newSink(status int) *sink {
	s := &sink{status: status}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.posts = append(s.posts, post{Header: r.Header.Clone(), Body: b, At: time.Now()})
		s.mu.Unlock()
		w.WriteHeader(s.status)
	}))
	return s
}

func (s *sink) all() []post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]post(nil), s.posts...)
}

func (s *sink) close() { s.srv.Close() }

// teamsCard is what the checks read of an Adaptive Card message: its
// title and facts, where the grant is named.
type teamsCard struct {
	Attachments []struct {
		Content struct {
			Body []struct {
				Type  string `json:"type"`
				Text  string `json:"text"`
				Facts []struct {
					Title string `json:"title"`
					Value string `json:"value"`
				} `json:"facts"`
			} `json:"body"`
		} `json:"content"`
	} `json:"attachments"`
}

// cardGrant returns the grant a Teams card is about and its title.
func cardGrant(body []byte) (grant, title string) {
	var c teamsCard
	if json.Unmarshal(body, &c) != nil {
		return "", ""
	}
	for _, a := range c.Attachments {
		for i, e := range a.Content.Body {
			if i == 0 && e.Type == "TextBlock" {
				title = e.Text
			}
			for _, f := range e.Facts {
				if f.Title == "Grant" {
					grant = f.Value
				}
			}
		}
	}
	return grant, title
}

// ticketGrant returns the grant a ticket comment is about and its subject.
// ticketKey is the Idempotency-Key a ticket comment's body names.
func ticketKey(body []byte) string {
	var c struct {
		Key string `json:"idempotencyKey"`
	}
	_ = json.Unmarshal(body, &c)
	return c.Key
}

func ticketGrant(body []byte) (grant, subject string) {
	var c struct {
		GrantID string `json:"grantId"`
		Subject string `json:"subject"`
	}
	_ = json.Unmarshal(body, &c)
	return c.GrantID, c.Subject
}
