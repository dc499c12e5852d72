package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/certctl/certctl/spec"
)

// PagerDuty Events API v2 (https://developer.pagerduty.com/api-reference/
// 368ae3d938c9e-send-an-event-to-pager-duty).
type pdEventIn struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *pdPayloadIn      `json:"payload"`
	Images      []json.RawMessage `json:"images"`
	Links       []json.RawMessage `json:"links"`
	Client      string            `json:"client"`
	ClientURL   string            `json:"client_url"`
}

type pdPayloadIn struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      string          `json:"severity"`
	Timestamp     string          `json:"timestamp"`
	Component     string          `json:"component"`
	Group         string          `json:"group"`
	Class         string          `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

const pdKey = "R0123456789ABCDEF0123456789ABCDE" // 32 characters, like a real one

func checkPagerDuty(r *request) string {
	if why := checkPost(r); why != "" {
		return why
	}
	var e pdEventIn
	if err := decodeStrict(r.Body, &e); err != nil {
		return "Event object is invalid: " + err.Error()
	}
	if e.RoutingKey != pdKey {
		return "routing_key " + e.RoutingKey
	}
	if e.DedupKey == "" || len(e.DedupKey) > 255 {
		return "dedup_key must be 1..255 characters"
	}
	switch e.EventAction {
	case "trigger":
		p := e.Payload
		if p == nil {
			return "trigger without payload"
		}
		if p.Summary == "" || utf8.RuneCountInString(p.Summary) > 1024 {
			return "payload.summary must be 1..1024 characters"
		}
		if p.Source == "" {
			return "payload.source is required"
		}
		if !contains([]string{"critical", "error", "warning", "info"}, p.Severity) {
			return "payload.severity " + p.Severity
		}
		if p.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
				return "payload.timestamp: " + err.Error()
			}
		}
	case "acknowledge", "resolve":
		if e.Payload != nil {
			return e.EventAction + " with a payload"
		}
	default:
		return "event_action " + e.EventAction
	}
	return ""
}

func TestPagerDuty(t *testing.T) {
	rc := newReceiver(t, checkPagerDuty)
	rc.status, rc.reply = http.StatusAccepted, `{"status":"success","message":"Event processed","dedup_key":"certctl/www"}`
	s := mustSender(t, &spec.Notifier{Type: "pagerduty", Name: "pager",
		Attrs: map[string]string{"routing_key": pdKey, "url": rc.URL + "/v2/enqueue"}})
	wantAction := map[string]string{
		EventIssued: "resolve", EventRenewed: "resolve", EventReplaced: "resolve", EventDeployed: "resolve",
		EventFailed: "trigger", EventExpiring: "trigger", EventExpired: "trigger", EventRevoked: "trigger",
	}
	for _, name := range AllEvents() {
		ev := testEvent(name)
		if err := send(t, s, ev); err != nil {
			t.Errorf("Send(%s) = %v", name, err)
			continue
		}
		r := rc.last(t)
		if r.Path != "/v2/enqueue" {
			t.Errorf("path %s", r.Path)
		}
		var e pdEventIn
		json.Unmarshal(r.Body, &e)
		if e.EventAction != wantAction[name] {
			t.Errorf("%s: event_action %s, want %s", name, e.EventAction, wantAction[name])
		}
		if e.DedupKey != "certctl/www" {
			t.Errorf("%s: dedup_key %s, want certctl/www", name, e.DedupKey)
		}
		if e.Payload != nil {
			if e.Payload.Severity != ev.Severity || e.Payload.Source != "www.example.com" || e.Payload.Class != name {
				t.Errorf("%s: payload %+v", name, e.Payload)
			}
			var details struct{ Event Event }
			if err := json.Unmarshal(e.Payload.CustomDetails, &details); err != nil || details.Event.ID != ev.ID {
				t.Errorf("%s: custom_details %s (%v)", name, e.Payload.CustomDetails, err)
			}
		}
	}
}

// Opsgenie Alert API (https://docs.opsgenie.com/docs/alert-api).
type ogAlertIn struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description"`
	Responders  []json.RawMessage `json:"responders"`
	VisibleTo   []json.RawMessage `json:"visibleTo"`
	Actions     []string          `json:"actions"`
	Tags        []string          `json:"tags"`
	Details     map[string]string `json:"details"`
	Entity      string            `json:"entity"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
	User        string            `json:"user"`
	Note        string            `json:"note"`
}

type ogCloseIn struct {
	User   string `json:"user"`
	Source string `json:"source"`
	Note   string `json:"note"`
}

const ogKey = "og-api-key-0123456789"

func checkOpsgenie(r *request) string {
	if why := checkPost(r); why != "" {
		return why
	}
	if got := r.Header.Get("Authorization"); got != "GenieKey "+ogKey {
		return "Authorization " + got
	}
	if strings.HasSuffix(r.Path, "/close") {
		if r.Path != "/v2/alerts/certctl:www/close" || r.Query != "identifierType=alias" {
			return "close path " + r.Path + "?" + r.Query
		}
		var c ogCloseIn
		if err := decodeStrict(r.Body, &c); err != nil {
			return err.Error()
		}
		if len(c.Source) > 100 || len(c.Note) > 25000 {
			return "close fields too long"
		}
		return ""
	}
	if r.Path != "/v2/alerts" {
		return "path " + r.Path
	}
	var a ogAlertIn
	if err := decodeStrict(r.Body, &a); err != nil {
		return err.Error()
	}
	switch {
	case a.Message == "" || utf8.RuneCountInString(a.Message) > 130:
		return fmt.Sprintf("message must be 1..130 characters, got %d", utf8.RuneCountInString(a.Message))
	case a.Alias == "" || utf8.RuneCountInString(a.Alias) > 512:
		return "alias must be 1..512 characters"
	case utf8.RuneCountInString(a.Description) > 15000:
		return "description over 15000 characters"
	case a.Priority != "" && !contains([]string{"P1", "P2", "P3", "P4", "P5"}, a.Priority):
		return "priority " + a.Priority
	case len(a.Tags) > 20:
		return "more than 20 tags"
	case len(a.Source) > 100 || len(a.Entity) > 512:
		return "source or entity too long"
	}
	for _, tag := range a.Tags {
		if tag == "" || utf8.RuneCountInString(tag) > 50 {
			return "tag " + tag
		}
	}
	return ""
}

func TestOpsgenie(t *testing.T) {
	rc := newReceiver(t, checkOpsgenie)
	rc.status, rc.reply = http.StatusAccepted, `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c"}`
	s := mustSender(t, &spec.Notifier{Type: "opsgenie", Name: "og",
		Attrs: map[string]string{"api_key": ogKey, "url": rc.URL + "/v2/alerts/"}})
	wantPriority := map[string]string{EventFailed: "P1", EventExpired: "P1", EventExpiring: "P3", EventRevoked: "P5"}
	for _, name := range AllEvents() {
		ev := testEvent(name)
		if err := send(t, s, ev); err != nil {
			t.Errorf("Send(%s) = %v", name, err)
			continue
		}
		r := rc.last(t)
		if ev.resolves() != strings.HasSuffix(r.Path, "/close") {
			t.Errorf("%s: sent to %s", name, r.Path)
		}
		if ev.resolves() {
			continue
		}
		var a ogAlertIn
		json.Unmarshal(r.Body, &a)
		if a.Alias != "certctl:www" || a.Priority != wantPriority[name] || a.Entity != "www" {
			t.Errorf("%s: alias %q priority %q entity %q", name, a.Alias, a.Priority, a.Entity)
		}
		if a.Details["certificate"] != "www" || a.Details["event_id"] != ev.ID || a.Details["team"] != "platform" {
			t.Errorf("%s: details %v", name, a.Details)
		}
	}

	// A long certificate name still gives a message within 130 characters.
	ev := testEvent(EventExpired)
	ev.Certificate.Name = strings.Repeat("very-long-name-", 20)
	if err := send(t, s, ev); err != nil {
		t.Errorf("Send(long name) = %v", err)
	}
}
