package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/certctl/certctl/spec"
)

// Slack's documented incoming-webhook message: text and/or blocks; Block Kit
// limits from https://api.slack.com/reference/block-kit/blocks.
type slackTextObj struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji,omitempty"`
	Verbatim *bool  `json:"verbatim,omitempty"`
}

type slackBlockIn struct {
	Type     string          `json:"type"`
	BlockID  string          `json:"block_id,omitempty"`
	Text     *slackTextObj   `json:"text,omitempty"`
	Fields   []slackTextObj  `json:"fields,omitempty"`
	Elements []slackTextObj  `json:"elements,omitempty"`
	Accessor json.RawMessage `json:"accessory,omitempty"`
}

type slackMessageIn struct {
	Text        string          `json:"text"`
	Blocks      []slackBlockIn  `json:"blocks"`
	Mrkdwn      *bool           `json:"mrkdwn,omitempty"`
	Attachments json.RawMessage `json:"attachments,omitempty"`
	ThreadTS    string          `json:"thread_ts,omitempty"`
}

func checkSlackText(where string, o *slackTextObj, max int, types ...string) string {
	if o == nil {
		return where + ": missing text object"
	}
	if !contains(types, o.Type) {
		return fmt.Sprintf("%s: text type %q, want %v", where, o.Type, types)
	}
	if o.Text == "" {
		return where + ": empty text"
	}
	if n := utf8.RuneCountInString(o.Text); n > max {
		return fmt.Sprintf("%s: text is %d characters, limit %d", where, n, max)
	}
	if o.Emoji != nil && o.Type != "plain_text" {
		return where + ": emoji is only for plain_text"
	}
	return ""
}

func checkSlack(r *request) string {
	if why := checkPost(r); why != "" {
		return why
	}
	var m slackMessageIn
	if err := decodeStrict(r.Body, &m); err != nil {
		return "invalid_payload: " + err.Error()
	}
	if m.Text == "" {
		return "no top-level text (the notification fallback)"
	}
	if len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		return fmt.Sprintf("%d blocks, want 1..50", len(m.Blocks))
	}
	for i := range m.Blocks {
		b := &m.Blocks[i]
		where := fmt.Sprintf("blocks[%d] (%s)", i, b.Type)
		var why string
		switch b.Type {
		case "header":
			why = checkSlackText(where, b.Text, 150, "plain_text")
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				why = where + ": needs text or fields"
			}
			if b.Text != nil && why == "" {
				why = checkSlackText(where, b.Text, 3000, "mrkdwn", "plain_text")
			}
			if len(b.Fields) > 10 {
				why = fmt.Sprintf("%s: %d fields, limit 10", where, len(b.Fields))
			}
			for j := range b.Fields {
				if why == "" {
					why = checkSlackText(fmt.Sprintf("%s.fields[%d]", where, j), &b.Fields[j], 2000, "mrkdwn", "plain_text")
				}
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				why = fmt.Sprintf("%s: %d elements, want 1..10", where, len(b.Elements))
			}
			for j := range b.Elements {
				if why == "" {
					why = checkSlackText(fmt.Sprintf("%s.elements[%d]", where, j), &b.Elements[j], 3000, "mrkdwn", "plain_text")
				}
			}
		case "divider":
		default:
			why = where + ": unknown block type"
		}
		if why != "" {
			return "invalid_blocks: " + why
		}
	}
	return ""
}

func TestSlack(t *testing.T) {
	rc := newReceiver(t, checkSlack)
	s := mustSender(t, &spec.Notifier{Type: "slack", Name: "chat", Attrs: map[string]string{"url": rc.URL + "/services/T000/B000/XXXX"}})
	for _, e := range AllEvents() {
		if err := send(t, s, testEvent(e)); err != nil {
			t.Errorf("Send(%s) = %v", e, err)
		}
	}
	ev := testEvent(EventExpiring)
	ev.Certificate.Name = "a<b>&c"
	ev.Message = strings.Repeat("long message ", 400)
	for i := 0; i < 30; i++ {
		ev.Details[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 2100)
	}
	if err := send(t, s, ev); err != nil {
		t.Fatalf("Send(oversized event) = %v", err)
	}
	var m slackMessageIn
	if err := json.Unmarshal(rc.last(t).Body, &m); err != nil {
		t.Fatal(err)
	}
	if got, want := m.Blocks[2].Fields[0].Text, "*Certificate*\na&lt;b&gt;&amp;c"; got != want {
		t.Errorf("first field %q, want %q (mrkdwn escaped)", got, want)
	}
	if got := m.Blocks[0].Text.Text; !strings.Contains(got, "a<b>&c") {
		t.Errorf("header %q: plain_text must not be escaped", got)
	}
	if r := rc.requests()[0]; r.Path != "/services/T000/B000/XXXX" {
		t.Errorf("path %s", r.Path)
	}
}

// What a Teams Workflows trigger accepts: a message whose attachments are
// Adaptive Cards (https://learn.microsoft.com/microsoftteams/platform/
// webhooks-and-connectors/how-to/connectors-using).
type teamsCardIn struct {
	Schema  string `json:"$schema"`
	Type    string `json:"type"`
	Version string `json:"version"`
	Body    []struct {
		Type   string `json:"type"`
		Text   string `json:"text"`
		Size   string `json:"size"`
		Weight string `json:"weight"`
		Color  string `json:"color"`
		Wrap   bool   `json:"wrap"`
		Facts  []struct {
			Title string `json:"title"`
			Value string `json:"value"`
		} `json:"facts"`
	} `json:"body"`
}

type teamsMessageIn struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string          `json:"contentType"`
		ContentURL  *string         `json:"contentUrl"`
		Content     json.RawMessage `json:"content"`
	} `json:"attachments"`
}

func checkTeams(r *request) string {
	if why := checkPost(r); why != "" {
		return why
	}
	var m teamsMessageIn
	if err := decodeStrict(r.Body, &m); err != nil {
		return err.Error()
	}
	if m.Type != "message" {
		return "type " + m.Type + ", want message"
	}
	if len(m.Attachments) != 1 {
		return fmt.Sprintf("%d attachments, want 1", len(m.Attachments))
	}
	a := m.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" {
		return "contentType " + a.ContentType
	}
	var c teamsCardIn
	if err := decodeStrict(a.Content, &c); err != nil {
		return "card: " + err.Error()
	}
	if c.Type != "AdaptiveCard" || c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" {
		return "not an AdaptiveCard: " + c.Type + " " + c.Schema
	}
	if !contains([]string{"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}, c.Version) {
		return "card version " + c.Version + " is not one Teams renders"
	}
	if len(c.Body) == 0 {
		return "empty card body"
	}
	for i, el := range c.Body {
		switch el.Type {
		case "TextBlock":
			if el.Text == "" {
				return fmt.Sprintf("body[%d]: TextBlock without text", i)
			}
			if el.Color != "" && !contains([]string{"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"}, el.Color) {
				return fmt.Sprintf("body[%d]: color %q", i, el.Color)
			}
			if el.Size != "" && !contains([]string{"Default", "Small", "Medium", "Large", "ExtraLarge"}, el.Size) {
				return fmt.Sprintf("body[%d]: size %q", i, el.Size)
			}
			if el.Weight != "" && !contains([]string{"Default", "Lighter", "Bolder"}, el.Weight) {
				return fmt.Sprintf("body[%d]: weight %q", i, el.Weight)
			}
		case "FactSet":
			if len(el.Facts) == 0 {
				return fmt.Sprintf("body[%d]: FactSet without facts", i)
			}
			for _, f := range el.Facts {
				if f.Title == "" || f.Value == "" {
					return fmt.Sprintf("body[%d]: fact with empty title or value", i)
				}
			}
		default:
			return fmt.Sprintf("body[%d]: element type %q", i, el.Type)
		}
	}
	return ""
}

func TestTeams(t *testing.T) {
	rc := newReceiver(t, checkTeams)
	rc.status, rc.reply = http.StatusAccepted, ""
	s := mustSender(t, &spec.Notifier{Type: "teams", Name: "chat", Attrs: map[string]string{"url": rc.URL + "/workflows/abc/triggers/manual/paths/invoke?sig=XYZ"}})
	for _, e := range AllEvents() {
		if err := send(t, s, testEvent(e)); err != nil {
			t.Errorf("Send(%s) = %v", e, err)
		}
	}
	r := rc.last(t)
	if r.Query != "sig=XYZ" {
		t.Errorf("query %q, want sig=XYZ", r.Query)
	}
	var m teamsMessageIn
	var c teamsCardIn
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Attachments[0].Content, &c); err != nil {
		t.Fatal(err)
	}
	if c.Body[0].Text != "Certificate www revoked" {
		t.Errorf("card title %q", c.Body[0].Text)
	}
}
