package reliability

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/internal/childproc"
)

// SecretScan is what the scan of a scenario's outputs read and found.
type SecretScan struct {
	// Secrets names the known secret values looked for; Credentials is how
	// many distinct tokens and request signatures the proxies saw.
	Secrets     []string `json:"secrets"`
	Credentials int      `json:"credentials"`
	// Scanned counts what was read: log lines (handler stderr, devhost
	// output), mails, sink bodies (Teams cards, ticket comments), answers
	// (invocation answers, webhook answers and problem details).
	LogLines int `json:"logLines"`
	Mails    int `json:"mails"`
	Sinks    int `json:"sinks"`
	Answers  int `json:"answers"`
	// Leaks lists every place a secret appeared.
	Leaks []string `json:"leaks,omitempty"`
}

// scanSecrets reads every output of the stack for the known secrets, in
// each spelling they may take (raw, URL-encoded), and for any credential
// the proxies saw.
func scanSecrets(s *stack) SecretScan {
	r := SecretScan{Credentials: s.creds.count()}
	type needle struct{ name, value string }
	var needles []needle
	have := map[string]bool{}
	for name, v := range s.secrets {
		r.Secrets = append(r.Secrets, name)
		for _, sp := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if !have[sp] {
				have[sp] = true
				needles = append(needles, needle{name, sp})
			}
		}
	}
	sort.Strings(r.Secrets)
	leak := func(where, text string) {
		for _, n := range needles {
			if strings.Contains(text, n.value) {
				r.Leaks = append(r.Leaks, fmt.Sprintf("%s holds %s: %s", where, n.name, excerpt(text, n.value)))
			}
		}
		for _, c := range s.creds.find(text) {
			r.Leaks = append(r.Leaks, fmt.Sprintf("%s holds a credential the proxies saw: %s", where, excerpt(text, c)))
		}
	}

	s.mu.Lock()
	outputs := make(map[string]*childproc.Log, len(s.outputs))
	for k, v := range s.outputs {
		outputs[k] = v
	}
	answers := append([]answer(nil), s.answers...)
	s.mu.Unlock()

	names := make([]string, 0, len(outputs))
	for k := range outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		for i, line := range strings.Split(outputs[name].String(), "\n") {
			if line == "" {
				continue
			}
			r.LogLines++
			leak(fmt.Sprintf("%s line %d", name, i+1), line)
		}
	}
	for i, m := range s.sim.State().Mails {
		r.Mails++
		leak(fmt.Sprintf("mail %d to %v", i, m.To), m.Subject+"\n"+m.Body)
	}
	for i, p := range s.teams.all() {
		r.Sinks++
		leak(fmt.Sprintf("Teams card %d", i), string(p.Body))
	}
	for i, p := range s.ticket.all() {
		r.Sinks++
		leak(fmt.Sprintf("ticket comment %d", i), string(p.Body))
	}
	for _, a := range answers {
		r.Answers++
		leak(a.Where, a.Body)
	}
	return r
}

// excerpt shows where a secret sits without repeating it whole.
func excerpt(text, secret string) string {
	i := strings.Index(text, secret)
	if i < 0 {
		return ""
	}
	start, end := max(0, i-40), min(len(text), i+len(secret)+20)
	masked := secret
	if len(secret) > 8 {
		masked = secret[:4] + "…(redacted)"
	}
	return fmt.Sprintf("%q", text[start:i]+masked+text[i+len(secret):end])
}
