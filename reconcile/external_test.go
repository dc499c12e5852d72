package reconcile

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// externalConfig is notifyConfig with certificate www moved to an external
// issuer, and its record from that issuer.
func externalConfig() (*spec.Config, *state.Snapshot) {
	cfg := notifyConfig("/srv", "https://hooks.example.com/x")
	cfg.Issuers["legacy"] = &spec.Issuer{Type: spec.IssuerTypeExternal, Name: "legacy"}
	cfg.Certificates["www"].Issuer = "legacy"
	return cfg, appliedSnapshot(cfg)
}

func TestPlanExternal(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(cfg *spec.Config, www *state.Certificate)
		force string
		want  []string
	}{
		{
			name: "not due",
			edit: func(*spec.Config, *state.Certificate) {},
		},
		{
			name: "past its renewal time: a note and the expiry notice, no renewal",
			edit: func(_ *spec.Config, www *state.Certificate) {
				www.NotBefore, www.NotAfter = t0.Add(-80*day), t0.Add(12*day)
			},
			want: []string{
				"N certificate.www: expires 2026-06-13T00:00:00Z: notify_before 14d reached",
				"note external certificate.www: renewal due since 2026-05-13T15:21:36Z (expires 2026-06-13T00:00:00Z); issuer.legacy is external: renew it at its CA and import it",
			},
		},
		{
			name: "expired: the expired notice, no renewal",
			edit: func(_ *spec.Config, www *state.Certificate) {
				www.NotBefore, www.NotAfter = t0.Add(-91*day), t0.Add(-time.Hour)
			},
			want: []string{
				"N certificate.www: expired at 2026-05-31T23:00:00Z",
				"note external certificate.www: expired at 2026-05-31T23:00:00Z; issuer.legacy is external: renew it at its CA and import it",
			},
		},
		{
			name: "names changed: no replacement",
			edit: func(cfg *spec.Config, _ *state.Certificate) {
				cfg.Certificates["www"].DNSNames = []string{"www.example.com"}
			},
			want: []string{"note external certificate.www: dns_names differ from the recorded certificate, and issuer.legacy is external: get a new certificate from its CA and import it"},
		},
		{
			name: "metadata still updates",
			edit: func(cfg *spec.Config, _ *state.Certificate) { cfg.Certificates["www"].Owner = "bob" },
			want: []string{"~ certificate.www: owner changed (no new certificate)"},
		},
		{
			name:  "forced renewal does not apply",
			edit:  func(*spec.Config, *state.Certificate) {},
			force: "www",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, snap := externalConfig()
			tt.edit(cfg, snap.Certificates["www"])
			p := plan(cfg, snap, observedAll(cfg), t0, tt.force)
			var got []string
			for _, s := range describe(p) {
				if strings.Contains(s, "certificate.www") {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan(%s) =\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}

	// Not in the state: a note, never a create.
	cfg, snap := externalConfig()
	delete(snap.Certificates, "www")
	p := Plan(cfg, snap, observedAll(cfg), t0)
	if got := describe(p); !slices.Equal(got, []string{"note external certificate.www: issuer.legacy is external: certctl cannot issue this certificate; bring the existing one in with certctl import"}) {
		t.Errorf("Plan(not imported) = %q", got)
	}
}

func TestPlanRenewExternal(t *testing.T) {
	cfg, snap := externalConfig()
	_, err := PlanRenew(cfg, snap, nil, t0, "www")
	if err == nil || !strings.Contains(err.Error(), "external issuer") {
		t.Errorf("PlanRenew(external) error = %v, want one naming the external issuer", err)
	}
}

func TestRemoveExternalRevoke(t *testing.T) {
	cfg, snap := externalConfig()
	snap.Certificates["www"].OnRemove = "revoke"
	delete(cfg.Certificates, "www")
	p := Plan(cfg, snap, observedAll(cfg), t0)
	want := `- certificate.www: not in the configuration (on_remove = "revoke"), but issuer.legacy is external and certctl cannot revoke at its CA: removed from the state, not revoked`
	if got := describe(p); !slices.Equal(got, []string{want}) {
		t.Errorf("Plan(removed external) = %q", got)
	}
}

// TestImportedRecord: a record made by ImportedRecord for a certificate
// that describes the leaf plans no change; one that asks for more than the
// leaf carries is refused.
func TestImportedRecord(t *testing.T) {
	ca, err := pki.NewLocalCA(pki.CAConfig{Name: "other"}, t0.Add(-2*day))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := pki.NewCSR(key, pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"www.example.com", "example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue(t.Context(), pki.IssueRequest{Name: "www", CSR: csr, Usages: []string{"server_auth"}, Validity: 90 * day, Now: t0.Add(-day)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, snap := externalConfig()
	c := cfg.Certificates["www"]
	c.Targets = nil
	rec, err := ImportedRecord(cfg, c, issued.Leaf, issued.ChainPEM, []byte("sealed"), t0)
	if err != nil {
		t.Fatalf("ImportedRecord() error = %v", err)
	}
	if rec.Fingerprint != pki.Fingerprint(issued.Leaf) || !rec.IssuedAt.Equal(issued.Leaf.NotBefore) || rec.Issuer != "legacy" || rec.Owner != "alice" || string(rec.KeySealed) != "sealed" {
		t.Errorf("ImportedRecord() = %+v", rec)
	}
	snap.Certificates["www"] = rec
	if got := describe(Plan(cfg, snap, observedAll(cfg), t0)); len(got) != 0 {
		t.Errorf("Plan(imported) = %q, want no changes", got)
	}

	c.DNSNames = append(c.DNSNames, "shop.example.com")
	if _, err := ImportedRecord(cfg, c, issued.Leaf, nil, nil, t0); err == nil || !strings.Contains(err.Error(), "dns_names") {
		t.Errorf("ImportedRecord(more names) error = %v, want one naming dns_names", err)
	}
	c.DNSNames = c.DNSNames[:2]
	c.KeyAlgorithm = "rsa-2048"
	if _, err := ImportedRecord(cfg, c, issued.Leaf, nil, nil, t0); err == nil || !strings.Contains(err.Error(), "key is ecdsa-p256") {
		t.Errorf("ImportedRecord(other key) error = %v", err)
	}
}
