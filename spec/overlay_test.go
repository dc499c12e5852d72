package spec

import (
	"strings"
	"testing"
)

// TestLoadExtra: Options.Extra files are read as if they were in the
// directory, and their diagnostics name them.
func TestLoadExtra(t *testing.T) {
	extra := []byte(`certificate "d" {
  common_name = "d.example.com"
  issuer      = issuer.ca
  policy      = policy.p
  owner       = owner.o
  team        = team.t
}
`)
	cfg, p, diags := LoadWith("testdata/valid/minimal", Options{Extra: map[string][]byte{"imported.hcl": extra}})
	if diags.HasErrors() {
		t.Fatalf("LoadWith(Extra) diagnostics: %s", diagText(p, diags))
	}
	if cfg.Certificates["d"] == nil || cfg.Certificates["c"] == nil {
		t.Errorf("LoadWith(Extra) certificates = %v, want c and d", sortedKeys(cfg.Certificates))
	}

	bad := []byte("certificate \"c\" {\n  common_name = \"x.example.com\"\n}\n")
	_, p, diags = LoadWith("testdata/valid/minimal", Options{Extra: map[string][]byte{"imported.hcl": bad}})
	if !diags.HasErrors() || !strings.Contains(diagText(p, diags), "imported.hcl:1") {
		t.Errorf("LoadWith(duplicate in Extra) = %s, want an error at imported.hcl:1", diagText(p, diags))
	}
}
