package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/certctl/certctl/spec"
)

// DefaultOpsgenieURL is the Alert API endpoint (EU accounts use
// https://api.eu.opsgenie.com/v2/alerts).
const DefaultOpsgenieURL = "https://api.opsgenie.com/v2/alerts"

// opsgenie creates and closes Opsgenie alerts
// (https://docs.opsgenie.com/docs/alert-api), authenticated with
// "Authorization: GenieKey API_KEY".
//
// All events of one certificate share alias "certctl:NAME" (no "/": the
// alias goes in the close URL's path). Expiring, expired, failed and revoked
// create the alert (Opsgenie deduplicates on alias); issued, renewed,
// replaced and deployed close it. Create:
//
//	POST {url}
//	{"message": "…≤130 chars…", "alias": "certctl:www", "description": "…",
//	 "tags": ["certctl", "expiring", "warning", "team:platform"],
//	 "details": {"certificate": "www", …}, "entity": "www",
//	 "source": "certctl", "priority": "P3"}
//
// Close: POST {url}/certctl:www/close?identifierType=alias with
// {"source": "certctl", "note": "…"}. Priority: critical P1, warning P3,
// info P5. Attributes: api_key (required, secret), url (default
// [DefaultOpsgenieURL]), timeout, ca_bundle.
type opsgenie struct {
	*base
	url, apiKey string
	headers     map[string]string
}

var _ Sender = (*opsgenie)(nil)

func newOpsgenie(b *base, n *spec.Notifier, c *checker) *opsgenie {
	return &opsgenie{
		base:    b,
		url:     strings.TrimRight(c.httpURL("url", DefaultOpsgenieURL), "/"),
		apiKey:  c.required("api_key"),
		headers: n.Headers,
	}
}

type ogAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
}

type ogClose struct {
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

var ogPriority = map[string]string{
	SeverityCritical: "P1",
	SeverityWarning:  "P3",
	SeverityInfo:     "P5",
}

func ogAlias(ev *Event) string { return truncate("certctl:"+ev.Certificate.Name, 512) }

func ogAlertPayload(ev *Event) ogAlert {
	a := ogAlert{
		Message:  truncate(ev.title(), 130),
		Alias:    ogAlias(ev),
		Entity:   truncate(ev.Certificate.Name, 512),
		Source:   "certctl",
		Priority: ogPriority[ev.Severity],
		Tags:     []string{"certctl", ev.Event, ev.Severity},
		Details:  map[string]string{"event_id": ev.ID},
	}
	if t := ev.Certificate.Team; t != "" {
		a.Tags = append(a.Tags, truncate("team:"+t, 50))
	}
	var desc strings.Builder
	desc.WriteString(ev.text())
	desc.WriteString("\n")
	for _, f := range ev.facts() {
		desc.WriteString("\n" + f.label + ": " + f.value)
		// Details keys are short identifiers; labels are for people.
		a.Details[strings.ReplaceAll(strings.ToLower(f.label), " ", "_")] = f.value
	}
	a.Description = truncate(desc.String(), 15000)
	return a
}

func (o *opsgenie) Send(ctx context.Context, ev Event) error {
	if err := o.checkEvent(&ev); err != nil {
		return err
	}
	ev = ev.normalized()
	h := http.Header{}
	h.Set("Authorization", "GenieKey "+o.apiKey)
	target := o.url
	var payload any = ogAlertPayload(&ev)
	if ev.resolves() {
		target = o.url + "/" + url.PathEscape(ogAlias(&ev)) + "/close?identifierType=alias"
		payload = ogClose{Source: "certctl", Note: truncate(ev.text(), 25000)}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return o.fail(err)
	}
	return o.postJSON(ctx, target, o.headers, h, body)
}
