package notify

import (
	"context"
	"encoding/json"

	"github.com/certctl/certctl/spec"
)

// teams posts to a Microsoft Teams webhook: a Workflows (Power Automate)
// "When a Teams webhook request is received" trigger, which replaced the
// retired Office 365 connectors. The body is the documented message with one
// Adaptive Card attachment:
//
//	{"type": "message",
//	 "attachments": [{
//	   "contentType": "application/vnd.microsoft.card.adaptive",
//	   "contentUrl": null,
//	   "content": {
//	     "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
//	     "type": "AdaptiveCard", "version": "1.4",
//	     "body": [
//	       {"type": "TextBlock", "text": "…", "size": "Large", "weight": "Bolder", "color": "Attention", "wrap": true},
//	       {"type": "TextBlock", "text": "…", "wrap": true},
//	       {"type": "FactSet", "facts": [{"title": "Certificate", "value": "www"}, …]}]}}]}
//
// Workflows answers 202 Accepted. Attributes: url (required, always secret),
// timeout, ca_bundle.
type teams struct {
	*base
	url     string
	headers map[string]string
}

var _ Sender = (*teams)(nil)

func newTeams(b *base, n *spec.Notifier, c *checker) *teams {
	return &teams{base: b, url: c.httpURL("url", ""), headers: n.Headers}
}

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []teamsElement `json:"body"`
}

type teamsElement struct {
	Type   string      `json:"type"` // TextBlock | FactSet
	Text   string      `json:"text,omitempty"`
	Size   string      `json:"size,omitempty"`
	Weight string      `json:"weight,omitempty"`
	Color  string      `json:"color,omitempty"`
	Wrap   bool        `json:"wrap,omitempty"`
	Facts  []teamsFact `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func teamsPayload(ev *Event) teamsMessage {
	color := "Default"
	switch {
	case ev.Severity == SeverityCritical:
		color = "Attention"
	case ev.Severity == SeverityWarning:
		color = "Warning"
	case ev.resolves():
		color = "Good"
	}
	var facts []teamsFact
	for _, f := range ev.facts() {
		facts = append(facts, teamsFact{Title: f.label, Value: f.value})
	}
	return teamsMessage{
		Type: "message",
		Attachments: []teamsAttachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: teamsCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				Body: []teamsElement{
					{Type: "TextBlock", Text: ev.title(), Size: "Large", Weight: "Bolder", Color: color, Wrap: true},
					{Type: "TextBlock", Text: ev.text(), Wrap: true},
					{Type: "FactSet", Facts: facts},
				},
			},
		}},
	}
}

func (t *teams) Send(ctx context.Context, ev Event) error {
	if err := t.checkEvent(&ev); err != nil {
		return err
	}
	ev = ev.normalized()
	body, err := json.Marshal(teamsPayload(&ev))
	if err != nil {
		return t.fail(err)
	}
	return t.postJSON(ctx, t.url, t.headers, nil, body)
}
