package notify

import (
	"fmt"
	"strings"
	"testing"

	"github.com/certctl/certctl/spec"
)

func TestFromSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		n    spec.Notifier
		want []string // substrings of the error
	}{
		{"unknown type", spec.Notifier{Type: "pigeon", Name: "p"},
			[]string{`notifier.p (pigeon): unknown notifier type "pigeon"`, "webhook"}},
		{"missing url", spec.Notifier{Type: "webhook", Name: "w"},
			[]string{`notifier.w (webhook): attribute "url" is required`}},
		{"not http", spec.Notifier{Type: "slack", Name: "s", Attrs: map[string]string{"url": "ftp://x/y"}},
			[]string{`attribute "url" is not an http or https URL`}},
		{"unknown attr and event", spec.Notifier{Type: "webhook", Name: "w",
			Attrs:  map[string]string{"url": "https://example.com/hook", "secert": "x"},
			Events: []string{"expiring", "exploded"}},
			[]string{`unknown attribute "secert"`, "url, secret, timeout, ca_bundle", `unknown event "exploded"`}},
		{"reserved headers", spec.Notifier{Type: "webhook", Name: "w", Attrs: map[string]string{"url": "https://x.example/a"},
			Headers: map[string]string{"x-certctl-signature": "forged", "Content-Type": "text/plain", "Bad Name": "v"}},
			[]string{`header "x-certctl-signature" is set by certctl`, `header "Content-Type" is set by certctl`, `header "Bad Name" is not a valid header name`}},
		{"bad timeout", spec.Notifier{Type: "teams", Name: "t", Attrs: map[string]string{"url": "https://x.example/a", "timeout": "soon"}},
			[]string{`timeout "soon" is not a positive duration`}},
		{"bad ca_bundle", spec.Notifier{Type: "webhook", Name: "w", Attrs: map[string]string{"url": "https://x.example/a", "ca_bundle": "ca.pem"}},
			[]string{"ca_bundle holds no PEM certificate"}},
		{"pagerduty key", spec.Notifier{Type: "pagerduty", Name: "pd"},
			[]string{`attribute "routing_key" is required`}},
		{"opsgenie key", spec.Notifier{Type: "opsgenie", Name: "og"},
			[]string{`attribute "api_key" is required`}},
		{"to on webhook", spec.Notifier{Type: "webhook", Name: "w", Attrs: map[string]string{"url": "https://x.example/a"}, To: []string{"a@example.com"}},
			[]string{"to is only for email notifiers"}},
		{"email basics", spec.Notifier{Type: "email", Name: "m", Attrs: map[string]string{"tls": "maybe", "port": "99999"}},
			[]string{`attribute "host" is required`, `attribute "from" is required`, `tls "maybe"`, `port "99999"`, "to needs at least one address"}},
		{"email clear-text auth", spec.Notifier{Type: "email", Name: "m",
			Attrs: map[string]string{"host": "mail.example.com", "from": "certctl@example.com", "tls": "none", "username": "u", "password": "p"},
			To:    []string{"ops@example.com"}},
			[]string{`username is set with tls = "none"`}},
		{"email bad to", spec.Notifier{Type: "email", Name: "m",
			Attrs: map[string]string{"host": "mail.example.com", "from": "certctl@example.com"},
			To:    []string{"not an address"}, Headers: map[string]string{"X-A": "b"}},
			[]string{`to "not an address" is not an email address`, "headers are not supported by email notifiers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromSpec(&tc.n)
			if err == nil {
				t.Fatalf("FromSpec = nil error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("FromSpec error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestFromSpecValid(t *testing.T) {
	for _, n := range []spec.Notifier{
		{Type: "webhook", Name: "w", Attrs: map[string]string{"url": "https://example.com/hook", "secret": "s", "timeout": "3s"}, Headers: map[string]string{"X-Team": "platform"}},
		{Type: "slack", Name: "s", Attrs: map[string]string{"url": "https://hooks.slack.com/services/T0/B0/XYZ"}},
		{Type: "teams", Name: "t", Attrs: map[string]string{"url": "https://prod-00.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=xyz"}},
		{Type: "pagerduty", Name: "pd", Attrs: map[string]string{"routing_key": "R0123456789ABCDEF0123456789ABCDE"}},
		{Type: "opsgenie", Name: "og", Attrs: map[string]string{"api_key": "k", "url": "https://api.eu.opsgenie.com/v2/alerts"}},
		{Type: "email", Name: "m", Attrs: map[string]string{"host": "mail.example.com", "from": "certctl <certctl@example.com>", "username": "u", "password": "p"}, To: []string{"ops@example.com", "Alice <alice@example.com>"}},
	} {
		if _, err := FromSpec(&n); err != nil {
			t.Errorf("FromSpec(%s) = %v, want no error", n.Type, err)
		}
	}
}

// Configuration errors, and a Sender printed by mistake, show no secret.
func TestFromSpecSecrets(t *testing.T) {
	slackURL := "https://hooks.slack.com/services/T0SECRET/B0SECRET/abcdefSECRETtoken"
	n := &spec.Notifier{Type: "slack", Name: "chat", Attrs: map[string]string{"url": slackURL, "colour": "red"}}
	_, err := FromSpec(n)
	if err == nil {
		t.Fatal("FromSpec accepted an unknown attribute")
	}
	assertNoSecrets(t, "config error", err.Error(), slackURL, "abcdefSECRETtoken")

	n = &spec.Notifier{Type: "webhook", Name: "hook",
		Attrs:     map[string]string{"url": "::not a url::SECRET-IN-URL", "secret": "hmac-secret-value"},
		Sensitive: map[string]bool{"url": true}}
	_, err = FromSpec(n)
	if err == nil {
		t.Fatal("FromSpec accepted a bad URL")
	}
	assertNoSecrets(t, "config error", err.Error(), "SECRET-IN-URL")

	s := mustSender(t, &spec.Notifier{Type: "email", Name: "mail",
		Attrs: map[string]string{"host": "mail.example.com", "from": "certctl@example.com", "username": "u", "password": "smtp-password-123"},
		To:    []string{"ops@example.com"}})
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		assertNoSecrets(t, "Sprintf("+format+")", out, "smtp-password-123")
		if !strings.Contains(out, "notifier.mail (email)") {
			t.Errorf("Sprintf(%s, sender) = %q, want the notifier's address", format, out)
		}
	}
}
