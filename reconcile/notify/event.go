// Package notify delivers certificate events to notifiers: webhook, Slack,
// Microsoft Teams, PagerDuty, Opsgenie and email (SMTP).
//
// The entry point is [FromSpec], which validates a `notifier "TYPE" "NAME"`
// block and returns a [Sender]. Send makes exactly one delivery attempt and
// returns an error if it did not succeed; retrying is the caller's job, with
// [NextRetry] and [Exhausted] giving the backoff arithmetic of the delivery
// contract (DESIGN.md, Notifications), and [Wants] and [Route] deciding which
// notifiers receive an event. Every error a Sender returns has the
// notifier's secrets replaced by "[REDACTED]"; see redact.go.
//
// The package does not log, keep state or read the clock except to time out
// a delivery and to date an email.
package notify

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// EventVersion is the version of the event schema this package writes, the
// "version" field of every [Event]. It changes only when a field is removed
// or changes meaning; new optional fields keep the version.
const EventVersion = 1

// Event names.
const (
	EventIssued   = "issued"   // a certificate was issued for the first time
	EventRenewed  = "renewed"  // a new certificate replaced one near expiry
	EventReplaced = "replaced" // a new certificate replaced one whose config changed
	EventFailed   = "failed"   // issuance or deployment failed
	EventDeployed = "deployed" // a certificate was written to a target
	EventExpiring = "expiring" // a notify_before threshold was reached
	EventExpired  = "expired"  // not_after has passed
	EventRevoked  = "revoked"  // the certificate was revoked
)

// Severities, lowest first.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// AllEvents lists every event name in a fixed order.
func AllEvents() []string {
	return []string{EventIssued, EventRenewed, EventReplaced, EventFailed,
		EventDeployed, EventExpiring, EventExpired, EventRevoked}
}

// ValidEvent reports whether name is one of [AllEvents].
func ValidEvent(name string) bool {
	for _, e := range AllEvents() {
		if e == name {
			return true
		}
	}
	return false
}

func validSeverity(s string) bool {
	return s == SeverityInfo || s == SeverityWarning || s == SeverityCritical
}

// Severity is the severity of event. threshold is the notify_before
// threshold that was reached and matters only for "expiring": 0 (or less) is
// critical, up to 14 days is warning, longer is info — so the default
// thresholds 30d, 14d, 7d, 0d give info, warning, warning, critical.
// "expired" and "failed" are critical; every other event is info.
func Severity(event string, threshold time.Duration) string {
	switch event {
	case EventExpired, EventFailed:
		return SeverityCritical
	case EventExpiring:
		switch {
		case threshold <= 0:
			return SeverityCritical
		case threshold <= 14*24*time.Hour:
			return SeverityWarning
		}
	}
	return SeverityInfo
}

// Event is one notification, in the JSON form the webhook notifier posts
// (schema: schemas/event.schema.json):
//
//	{
//	  "version": 1,
//	  "id": "01J…",                         // delivery row id: the same on every retry
//	  "event": "expiring",                  // see AllEvents
//	  "severity": "warning",                // info | warning | critical
//	  "certificate": {
//	    "name": "www",                      // instance name, e.g. www or sites["api"]
//	    "common_name": "www.example.com",
//	    "dns_names": ["www.example.com", "example.com"],
//	    "serial": "4f2a…",                  // hex; absent before the first issuance
//	    "not_after": "2026-05-01T12:00:00Z",// absent before the first issuance
//	    "issuer": "internal",               // issuer block name
//	    "owner": "alice",
//	    "team": "platform"
//	  },
//	  "message": "certificate www expires in 14d",
//	  "occurred_at": "2026-04-17T12:00:00Z",
//	  "details": {"threshold": "14d"},      // string values; keys depend on the event
//	  "revision": {"id": "9fceb02…", "author": "Alice <alice@example.com>"}
//	                                        // the configuration revision applied (watch on git); absent otherwise
//	}
//
// Receivers should treat id as an idempotency key: delivery is at least once
// (a crash between sending and recording a row re-sends it on restart), and a
// retry carries the same id and occurred_at. Unknown fields must be ignored.
type Event struct {
	Version     int               `json:"version"`
	ID          string            `json:"id"`
	Event       string            `json:"event"`
	Severity    string            `json:"severity"`
	Certificate Certificate       `json:"certificate"`
	Message     string            `json:"message"`
	OccurredAt  time.Time         `json:"occurred_at"`
	Details     map[string]string `json:"details,omitempty"`
	Revision    *Revision         `json:"revision,omitempty"`
}

// Revision is the configuration revision whose apply raised an [Event]: a
// git commit SHA and its author.
type Revision struct {
	ID     string `json:"id"`
	Author string `json:"author,omitempty"`
}

// Certificate is the certificate an [Event] is about.
type Certificate struct {
	Name       string    `json:"name"`
	CommonName string    `json:"common_name"`
	DNSNames   []string  `json:"dns_names"`
	Serial     string    `json:"serial,omitempty"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	Issuer     string    `json:"issuer,omitempty"`
	Owner      string    `json:"owner,omitempty"`
	Team       string    `json:"team,omitempty"`
}

// Validate reports what makes ev unsendable: an unknown event or severity,
// a missing id, certificate name or occurred_at, or a version other than
// [EventVersion] (0 is taken to mean EventVersion). Every Sender calls it
// before sending, so an invalid event fails without network traffic.
func (ev *Event) Validate() error {
	var errs []error
	if ev.Version != 0 && ev.Version != EventVersion {
		errs = append(errs, fmt.Errorf("unsupported event version %d (want %d)", ev.Version, EventVersion))
	}
	if ev.ID == "" {
		errs = append(errs, errors.New("event id is empty"))
	}
	if !ValidEvent(ev.Event) {
		errs = append(errs, fmt.Errorf("unknown event %q; want one of %s", ev.Event, strings.Join(AllEvents(), ", ")))
	}
	if !validSeverity(ev.Severity) {
		errs = append(errs, fmt.Errorf("unknown severity %q; want info, warning or critical", ev.Severity))
	}
	if ev.Certificate.Name == "" {
		errs = append(errs, errors.New("certificate name is empty"))
	}
	if ev.OccurredAt.IsZero() {
		errs = append(errs, errors.New("occurred_at is zero"))
	}
	return errors.Join(errs...)
}

// normalized is ev as it goes on the wire: version filled in, times in UTC,
// dns_names an array rather than null.
func (ev Event) normalized() Event {
	if ev.Version == 0 {
		ev.Version = EventVersion
	}
	ev.OccurredAt = ev.OccurredAt.UTC()
	if !ev.Certificate.NotAfter.IsZero() {
		ev.Certificate.NotAfter = ev.Certificate.NotAfter.UTC()
	}
	if ev.Certificate.DNSNames == nil {
		ev.Certificate.DNSNames = []string{}
	}
	return ev
}

// title is a one-line headline: "Certificate www expiring".
func (ev *Event) title() string {
	return fmt.Sprintf("Certificate %s %s", ev.Certificate.Name, ev.Event)
}

// text is the event's message, or a default sentence when it has none.
func (ev *Event) text() string {
	if ev.Message != "" {
		return ev.Message
	}
	c := &ev.Certificate
	switch ev.Event {
	case EventExpiring:
		if !c.NotAfter.IsZero() {
			return fmt.Sprintf("certificate %s expires at %s", c.Name, c.NotAfter.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("certificate %s is expiring", c.Name)
	case EventExpired:
		if !c.NotAfter.IsZero() {
			return fmt.Sprintf("certificate %s expired at %s", c.Name, c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return fmt.Sprintf("certificate %s %s", c.Name, ev.Event)
}

// fact is one labelled value shown by the chat and email renderers.
type fact struct{ label, value string }

// facts are the fields a human wants to see, in a fixed order, empty ones
// left out; details follow in key order.
func (ev *Event) facts() []fact {
	c := &ev.Certificate
	fs := []fact{
		{"Certificate", c.Name},
		{"Event", ev.Event},
		{"Severity", ev.Severity},
		{"Common name", c.CommonName},
		{"DNS names", strings.Join(c.DNSNames, ", ")},
		{"Serial", c.Serial},
	}
	if !c.NotAfter.IsZero() {
		fs = append(fs, fact{"Not after", c.NotAfter.UTC().Format(time.RFC3339)})
	}
	fs = append(fs,
		fact{"Issuer", c.Issuer},
		fact{"Owner", c.Owner},
		fact{"Team", c.Team},
		fact{"Occurred at", ev.OccurredAt.UTC().Format(time.RFC3339)},
	)
	for _, k := range sortedKeys(ev.Details) {
		fs = append(fs, fact{k, ev.Details[k]})
	}
	out := fs[:0]
	for _, f := range fs {
		if f.value != "" {
			out = append(out, f)
		}
	}
	return out
}

// resolves reports whether ev means the certificate is healthy again, which
// closes an open PagerDuty incident or Opsgenie alert for it.
func (ev *Event) resolves() bool {
	switch ev.Event {
	case EventIssued, EventRenewed, EventReplaced, EventDeployed:
		return true
	}
	return false
}

// dedupKey groups all events of one certificate into one incident or alert.
func (ev *Event) dedupKey() string {
	return "certctl/" + ev.Certificate.Name
}

// truncate cuts s to at most n runes, ending with "…" when it cut.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
