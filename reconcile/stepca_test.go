package reconcile

import (
	"testing"

	"github.com/certctl/certctl/spec"
)

func TestConfigDigestHidesStepCASecrets(t *testing.T) {
	s := &spec.StepCAIssuer{
		URL: "https://ca.example.com", RootPEM: []byte("root"), Provisioner: "p",
		ProvisionerKey: "key-1", ProvisionerPassword: "pass-1", Sensitive: map[string]bool{"root": true},
	}
	cfg := &spec.Config{Issuers: map[string]*spec.Issuer{"ca": {Type: spec.IssuerTypeStepCA, Name: "ca", StepCA: s}}}
	before := ConfigDigest(cfg)
	s.ProvisionerKey, s.ProvisionerPassword, s.RootPEM = "key-2", "pass-2", []byte("other root")
	if ConfigDigest(cfg) != before {
		t.Error("ConfigDigest changed with a secret: it would confirm a guessed one")
	}
	if s.ProvisionerKey != "key-2" || s.ProvisionerPassword != "pass-2" {
		t.Error("ConfigDigest modified the configuration")
	}
	s.Provisioner = "q"
	if ConfigDigest(cfg) == before {
		t.Error("ConfigDigest ignores the provisioner name")
	}
}
