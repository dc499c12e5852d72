package notify

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certctl/certctl/spec"
)

// DefaultPagerDutyURL is the Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// pagerduty sends PagerDuty Events API v2 events
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
//
// All events of one certificate share dedup_key "certctl/NAME", so they
// form one alert: expiring, expired, failed and revoked trigger it (a later
// trigger updates it, e.g. warning → critical); issued, renewed, replaced and
// deployed resolve it, since the certificate is healthy again. A trigger:
//
//	{"routing_key": "…", "event_action": "trigger", "dedup_key": "certctl/www",
//	 "client": "certctl",
//	 "payload": {"summary": "…", "source": "www.example.com", "severity": "warning",
//	             "timestamp": "2026-04-17T12:00:00Z", "component": "www",
//	             "group": "platform", "class": "expiring",
//	             "custom_details": {"event": {…the webhook Event…}}}}
//
// A resolve has routing_key, event_action "resolve" and dedup_key only.
// Severity maps one to one (info, warning, critical; "error" is unused).
// Attributes: routing_key (required, secret), url (default
// [DefaultPagerDutyURL]), source (default: the certificate's common name, or
// "certctl"), timeout, ca_bundle.
type pagerduty struct {
	*base
	url, routingKey, source string
	headers                 map[string]string
}

var _ Sender = (*pagerduty)(nil)

func newPagerDuty(b *base, n *spec.Notifier, c *checker) *pagerduty {
	return &pagerduty{
		base:       b,
		url:        c.httpURL("url", DefaultPagerDutyURL),
		routingKey: c.required("routing_key"),
		source:     n.Attrs["source"],
		headers:    n.Headers,
	}
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Client      string     `json:"client,omitempty"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

func (p *pagerduty) payload(ev *Event) pdEvent {
	e := pdEvent{RoutingKey: p.routingKey, DedupKey: truncate(ev.dedupKey(), 255)}
	if ev.resolves() {
		e.EventAction = "resolve"
		return e
	}
	e.EventAction = "trigger"
	e.Client = "certctl"
	source := p.source
	if source == "" {
		source = ev.Certificate.CommonName
	}
	if source == "" {
		source = "certctl"
	}
	e.Payload = &pdPayload{
		Summary:       truncate(ev.title()+": "+ev.text(), 1024),
		Source:        truncate(source, 255),
		Severity:      ev.Severity, // info | warning | critical are PagerDuty values
		Timestamp:     ev.OccurredAt.UTC().Format(time.RFC3339),
		Component:     ev.Certificate.Name,
		Group:         ev.Certificate.Team,
		Class:         ev.Event,
		CustomDetails: map[string]any{"event": ev},
	}
	return e
}

func (p *pagerduty) Send(ctx context.Context, ev Event) error {
	if err := p.checkEvent(&ev); err != nil {
		return err
	}
	ev = ev.normalized()
	body, err := json.Marshal(p.payload(&ev))
	if err != nil {
		return p.fail(err)
	}
	return p.postJSON(ctx, p.url, p.headers, nil, body)
}
