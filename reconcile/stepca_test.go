package reconcile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
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

func TestPlanStepCA(t *testing.T) {
	rootA, rootB := testRootPEM(t, "A"), testRootPEM(t, "B")
	setup := func() (*spec.Config, *state.Snapshot) {
		cfg := testConfig("/srv/certctl")
		cfg.Issuers["step"] = &spec.Issuer{Type: spec.IssuerTypeStepCA, Name: "step", StepCA: &spec.StepCAIssuer{
			URL: "https://ca.example.com", RootPEM: rootA, Provisioner: "p", ProvisionerKey: "{}", Sensitive: map[string]bool{},
		}}
		cfg.Certificates["shop"] = acmeCert("shop", "step")
		snap := appliedSnapshot(cfg)
		keep(cfg, snap, "shop")
		snap.Issuers["step"] = &state.Issuer{Name: "step", Type: spec.IssuerTypeStepCA, Digest: StepCADigest(cfg.Issuers["step"].StepCA)}
		return cfg, snap
	}
	tests := []struct {
		name   string
		mutate func(cfg *spec.Config, snap *state.Snapshot)
		want   []string
	}{
		{name: "recorded, nothing due"},
		{
			name: "moved: same root, another URL",
			mutate: func(cfg *spec.Config, _ *state.Snapshot) {
				cfg.Issuers["step"].StepCA.URL = "https://ca2.example.com:9000"
			},
		},
		{
			name:   "not recorded",
			mutate: func(_ *spec.Config, snap *state.Snapshot) { delete(snap.Issuers, "step") },
			want:   []string{"+ issuer.step: step-ca root is not in the state: recorded on apply"},
		},
		{
			name:   "another root",
			mutate: func(cfg *spec.Config, _ *state.Snapshot) { cfg.Issuers["step"].StepCA.RootPEM = rootB },
			want: []string{
				"-/+ certificate.shop: issuer.step is replaced [issuer]",
				"-/+ issuer.step: root changed: another CA, so every certificate from the old one is replaced [root]",
			},
		},
		{
			name: "was a local CA",
			mutate: func(_ *spec.Config, snap *state.Snapshot) {
				snap.Issuers["step"] = &state.Issuer{Name: "step", Type: spec.IssuerTypeLocalCA}
			},
			want: []string{
				"-/+ certificate.shop: issuer.step is replaced [issuer]",
				"-/+ issuer.step: type changed: the step-ca is recorded and every certificate the old issuer signed is replaced [type]",
			},
		},
	}
	for _, tt := range tests {
		cfg, snap := setup()
		if tt.mutate != nil {
			tt.mutate(cfg, snap)
		}
		if got := describe(Plan(cfg, snap, nil, t0)); !slices.Equal(got, tt.want) {
			t.Errorf("Plan(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func testRootPEM(t *testing.T, name string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: t0, NotAfter: t0.Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodeCertificatePEM(der)
}
