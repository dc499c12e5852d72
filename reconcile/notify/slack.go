package notify

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/certctl/certctl/spec"
)

// slack posts to a Slack incoming webhook
// (https://api.slack.com/messaging/webhooks) a message with a plain `text`
// fallback (shown in notifications) and Block Kit `blocks`:
//
//	{"text": "…",
//	 "blocks": [
//	   {"type": "header",  "text": {"type": "plain_text", "text": "…", "emoji": true}},
//	   {"type": "section", "text": {"type": "mrkdwn", "text": "…"}},
//	   {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Label*\nvalue"}, …]},  // ≤10 fields each
//	   {"type": "context", "elements": [{"type": "mrkdwn", "text": "certctl · id …"}]}]}
//
// within Slack's limits: header text ≤150 characters, section text ≤3000,
// field text ≤2000. Attributes: url (required, always secret), timeout,
// ca_bundle.
type slack struct {
	*base
	url     string
	headers map[string]string
}

var _ Sender = (*slack)(nil)

func newSlack(b *base, n *spec.Notifier, c *checker) *slack {
	return &slack{base: b, url: c.httpURL("url", ""), headers: n.Headers}
}

type slackText struct {
	Type  string `json:"type"` // plain_text | mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

var slackEmoji = map[string]string{
	SeverityInfo:     ":information_source:",
	SeverityWarning:  ":warning:",
	SeverityCritical: ":rotating_light:",
}

// slackEscape escapes the three characters mrkdwn gives meaning to.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func slackPayload(ev *Event) slackMessage {
	msg := slackMessage{
		Text: truncate(strings.ToUpper(ev.Severity)+": "+ev.text(), 3000),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(slackEmoji[ev.Severity]+" "+ev.title(), 150), Emoji: true}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape(ev.text()), 3000)}},
		},
	}
	var fields []slackText
	for _, f := range ev.facts() {
		fields = append(fields, slackText{Type: "mrkdwn", Text: truncate("*"+slackEscape(f.label)+"*\n"+slackEscape(f.value), 2000)})
	}
	// A section holds at most 10 fields; a message at most 50 blocks.
	for len(fields) > 0 && len(msg.Blocks) < 49 {
		k := min(10, len(fields))
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Fields: fields[:k]})
		fields = fields[k:]
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackText{
		{Type: "mrkdwn", Text: truncate(slackEscape("certctl · event "+ev.ID), 2000)},
	}})
	return msg
}

func (s *slack) Send(ctx context.Context, ev Event) error {
	if err := s.checkEvent(&ev); err != nil {
		return err
	}
	ev = ev.normalized()
	body, err := json.Marshal(slackPayload(&ev))
	if err != nil {
		return s.fail(err)
	}
	return s.postJSON(ctx, s.url, s.headers, nil, body)
}
