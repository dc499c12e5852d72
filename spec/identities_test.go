package spec

import (
	"slices"
	"testing"
)

// TestIdentities loads certificates that name a mailbox, a person and a
// service: the mailbox common name becomes an email SAN too.
func TestIdentities(t *testing.T) {
	cfg, _, diags := load(t, "testdata/valid/identities")
	if diags.HasErrors() {
		t.Fatalf("Load: %v", diags)
	}
	for name, want := range map[string]struct {
		cn     string
		emails []string
	}{
		"bob_mail":        {"bob@example.com", []string{"bob@example.com"}},
		"bob_client":      {"Bob Example", nil},
		"billing_service": {"billing-service (prod)", nil},
	} {
		c := cfg.Certificates[name]
		if c == nil {
			t.Fatalf("no certificate %s", name)
		}
		if c.CommonName != want.cn || !slices.Equal(c.EmailAddresses, want.emails) {
			t.Errorf("%s: common name %q, email_addresses %q; want %q, %q", name, c.CommonName, c.EmailAddresses, want.cn, want.emails)
		}
	}
}
