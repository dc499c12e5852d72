package notify

import (
	"slices"
	"testing"

	"github.com/certctl/certctl/spec"
)

// The attributes spec accepts in a notifier block are exactly those
// FromSpec delivers with: a configuration that validates never fails at
// delivery time for an attribute, and no supported attribute is refused
// when the configuration loads.
func TestSpecAttributesAgree(t *testing.T) {
	for _, typ := range Types() {
		got := spec.NotifierAttributes(typ)
		want := slices.Sorted(slices.Values(typeAttrs[typ]))
		if !slices.Equal(got, want) {
			t.Errorf("spec.NotifierAttributes(%q) = %q, FromSpec takes %q", typ, got, want)
		}
	}
}

// Every notifier of the spec package's full valid configuration builds.
func TestFromSpecFullConfig(t *testing.T) {
	// The environment spec's own tests load the fixture with.
	env := map[string]string{
		"OPS_WEBHOOK": "https://hooks.example.com/T0KEN-s3cret", "SMTP_PASSWORD": "smtp-pa55word",
		"PD_KEY": "pd-routing-key-0123", "AGENT_TOKEN": "agent-token-xyz", "CERTCTL_VAR_region": "eu",
		"SECRET_HOST": "hunter2-very-secret", "SECRET_WEBHOOK_PATH": "zz-top-secret-path",
		"EAB_HMAC": "c2VjcmV0LWVhYi1tYWMta2V5", "TSIG_SECRET_FILE": "/run/secrets/tsig",
	}
	cfg, _, diags := spec.LoadWith("../../spec/testdata/valid/full", spec.Options{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if diags.HasErrors() || cfg == nil {
		t.Fatalf("loading the fixture: %v", diags)
	}
	if len(cfg.Notifiers) < len(Types()) {
		t.Fatalf("the fixture has %d notifiers, want one of each type", len(cfg.Notifiers))
	}
	for name, n := range cfg.Notifiers {
		if _, err := FromSpec(n); err != nil {
			t.Errorf("FromSpec(notifier.%s) = %v", name, err)
		}
	}
}
