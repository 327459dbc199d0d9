package notify

import (
	"slices"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// The Teams Workflows "post a card when a webhook request is received"
// template reads a message with Adaptive Card attachments. Version 1.4 is
// the highest that renders everywhere Teams runs, mobile included.
const (
	cardContentType = "application/vnd.microsoft.card.adaptive"
	cardSchema      = "http://adaptivecards.io/schemas/adaptive-card.json"
	cardVersion     = "1.4"
	defaultTitle    = "Security Copilot partner access"
)

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"` // always null; Teams expects the key
	Content     adaptiveCard `json:"content"`
}

type adaptiveCard struct {
	Schema  string        `json:"$schema"`
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Body    []cardElement `json:"body"`
	Actions []cardAction  `json:"actions,omitempty"`
	MSTeams cardMSTeams   `json:"msteams"`
}

type cardElement struct {
	Type    string     `json:"type"`
	Text    string     `json:"text,omitempty"`
	Weight  string     `json:"weight,omitempty"`
	Size    string     `json:"size,omitempty"`
	Wrap    bool       `json:"wrap,omitempty"`
	Spacing string     `json:"spacing,omitempty"`
	Facts   []cardFact `json:"facts,omitempty"`
}

type cardFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type cardAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// cardMSTeams widens the card to the channel's width, so facts such as
// tenant ids are not cut.
type cardMSTeams struct {
	Width string `json:"width"`
}

// teamsCard renders n as a Teams message holding one Adaptive Card: the
// subject as title, the text, the facts in key order, and the link as an
// Action.OpenUrl. A link that is not an absolute http(s) URL is left out:
// Teams refuses the whole card for one bad action.
func teamsCard(n access.Notification) ([]byte, error) {
	title := strings.TrimSpace(n.Subject)
	if title == "" {
		title = defaultTitle
	}
	body := []cardElement{{Type: "TextBlock", Text: title, Weight: "Bolder", Size: "Medium", Wrap: true}}
	if t := paragraphs(n.Text); t != "" {
		body = append(body, cardElement{Type: "TextBlock", Text: t, Wrap: true})
	}
	if keys := factKeys(n.Facts); len(keys) > 0 {
		facts := make([]cardFact, len(keys))
		for i, k := range keys {
			facts[i] = cardFact{Title: k, Value: n.Facts[k]}
		}
		body = append(body, cardElement{Type: "FactSet", Facts: facts, Spacing: "Medium"})
	}
	card := adaptiveCard{Schema: cardSchema, Type: "AdaptiveCard", Version: cardVersion, Body: body, MSTeams: cardMSTeams{Width: "Full"}}
	if l := strings.TrimSpace(n.Link); isHTTPURL(l) {
		card.Actions = []cardAction{{Type: "Action.OpenUrl", Title: "Open", URL: l}}
	}
	return funchost.Marshal(teamsMessage{
		Type:        "message",
		Attachments: []teamsAttachment{{ContentType: cardContentType, Content: card}},
	})
}

// paragraphs keeps the text's line breaks on the card: a TextBlock is
// Markdown, where a single newline joins lines, so each line becomes a
// paragraph of its own.
func paragraphs(text string) string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n\n")
}

// factKeys returns the fact names in a stable order: maps iterate in random
// order, and a card or mail whose lines move between sends reads as a change.
func factKeys(facts map[string]string) []string {
	keys := make([]string, 0, len(facts))
	for k := range facts {
		if strings.TrimSpace(k) != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
