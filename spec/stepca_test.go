package spec

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestValidStepCA(t *testing.T) {
	cfg, p, diags := load(t, "testdata/valid/stepca")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(p, diags))
	}
	is := cfg.Issuers["internal"]
	s := is.StepCA
	if is.Type != IssuerTypeStepCA || s == nil || is.ACME != nil || is.MaxValidity != 0 {
		t.Fatalf("issuer internal = %+v", is)
	}
	jwe, err := os.ReadFile("testdata/valid/stepca/provisioner.jwe")
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != "https://ca.example.com:9000" || s.Provisioner != "certctl@example.com" ||
		s.ProvisionerKey != string(jwe) || s.ProvisionerPassword != testEnv["STEP_PASSWORD"] {
		t.Errorf("internal = url %q provisioner %q key %.20q… password set %v", s.URL, s.Provisioner, s.ProvisionerKey, s.ProvisionerPassword != "")
	}
	if !strings.HasPrefix(string(s.RootPEM), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("internal.RootPEM = %.30q", s.RootPEM)
	}
	if want := map[string]bool{"root": true, "provisioner_key": true, "provisioner_password": true}; !reflect.DeepEqual(s.Sensitive, want) {
		t.Errorf("internal.Sensitive = %v, want %v", s.Sensitive, want)
	}
	plain := cfg.Issuers["plain"].StepCA
	if plain.ProvisionerPassword != "" || !strings.Contains(plain.ProvisionerKey, `"d"`) {
		t.Errorf("plain: password set %v, key is a private JWK %v", plain.ProvisionerPassword != "", strings.Contains(plain.ProvisionerKey, `"d"`))
	}
	if want := map[string]bool{"provisioner_key": true}; !reflect.DeepEqual(plain.Sensitive, want) {
		t.Errorf("plain.Sensitive = %v, want %v", plain.Sensitive, want)
	}
}

// The invalid fixture reads secrets into step_ca issuers, some of them
// malformed; no diagnostic may quote them.
func TestStepCASensitiveNotLeaked(t *testing.T) {
	_, p, diags := load(t, "testdata/invalid/stepca")
	text := diagText(p, diags)
	jwe, err := os.ReadFile("testdata/invalid/stepca/provisioner.jwe")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{testEnv["SECRET_HOST"], testEnv["STEP_PASSWORD"], string(jwe[:40]), `"kty"`} {
		if strings.Contains(text, secret) {
			t.Errorf("the diagnostics quote a secret (%.12q…):\n%s", secret, text)
		}
	}
}
