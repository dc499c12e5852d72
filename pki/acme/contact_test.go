package acme_test

import (
	"strings"
	"testing"

	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/pki/acme/acmetest"
)

func TestUpdateContact(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	iss, acct := newIssuer(t, cfg)
	got, err := iss.UpdateContact(ctxT(t), acct, "tls@example.com")
	if err != nil {
		t.Fatalf("UpdateContact = %v", err)
	}
	if got.URI != acct.URI || string(got.KeyPEM) != string(acct.KeyPEM) || got.Email != "tls@example.com" {
		t.Errorf("UpdateContact returned %v, want the same account with the new email", got)
	}
	if !strings.Contains(string(got.Registration), "mailto:tls@example.com") {
		t.Errorf("registration after the update = %s", got.Registration)
	}
	// The updated account is reused as is by a config with the new email.
	cfg.Email = "tls@example.com"
	if _, again, err := acme.New(ctxT(t), cfg, got); err != nil || again != got {
		t.Errorf("New(updated account) = %v, %v; want it reused", again, err)
	}
	if _, err := iss.UpdateContact(ctxT(t), &acme.Account{}, "x@example.com"); err == nil {
		t.Error("UpdateContact(no account) succeeded")
	}
}

// A setting whose own name ends in _FILE is a setting, not NAME_FILE.
func TestValidateSettingNamedFile(t *testing.T) {
	cfg := acme.Config{Directory: "https://acme.example.com/dir", DNS01: &acme.DNS01{
		Provider: "dnsupdate",
		Config:   map[string]string{"DNSUPDATE_TSIG_FILE": "/etc/tsig.key", "DNSUPDATE_NAMESERVER_FILE": "/run/ns"},
	}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}
