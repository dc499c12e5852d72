package reconcile

import (
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// keep drops every certificate but names from cfg and snap.
func keep(cfg *spec.Config, snap *state.Snapshot, names ...string) {
	for n := range cfg.Certificates {
		if !slices.Contains(names, n) {
			delete(cfg.Certificates, n)
			delete(snap.Certificates, n)
		}
	}
}

func TestPlan(t *testing.T) {
	const renewReason = "renewal window reached (renews at 2026-06-30T07:12:00Z, expires 2026-07-30T00:00:00Z)"
	caPEM := func(cn string) []byte {
		ca, err := pki.NewLocalCA(pki.CAConfig{Name: "internal", CommonName: cn, KeyAlgorithm: "ecdsa-p256", Validity: 3650 * 24 * time.Hour}, nb)
		if err != nil {
			t.Fatal(err)
		}
		return ca.CertPEM()
	}

	tests := []struct {
		name   string
		now    time.Time
		noObs  bool
		mutate func(cfg *spec.Config, snap *state.Snapshot, obs Observed)
		want   []string
	}{
		{name: "fully applied"},
		{
			name:  "fully applied, not observed",
			noObs: true,
		},
		{
			name: "empty state",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				*snap = state.Snapshot{}
			},
			want: []string{
				`+ certificate.mail: not in the state`,
				`+ certificate.sites["api"]: not in the state`,
				`+ certificate.www: not in the state`,
				`+ issuer.internal: local CA is not in the state`,
				`note awaiting_agent certificate.sites["api"] -> web1: deployed when agent web1 pulls it, not by apply`,
			},
		},
		{
			name: "pending record",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www")
				snap.Certificates["www"] = &state.Certificate{Name: "www", Status: state.StatusPending}
			},
			want: []string{`+ certificate.www: no certificate has been issued yet`},
		},
		{
			name: "renewal window, percent (and the policy's default)",
			now:  time.Date(2026, 6, 30, 7, 12, 0, 0, time.UTC),
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www", "mail")
			},
			want: []string{
				`R certificate.mail: ` + renewReason,
				`R certificate.www: ` + renewReason,
			},
		},
		{
			name: "before renewal window",
			now:  time.Date(2026, 6, 30, 7, 11, 59, 0, time.UTC),
		},
		{
			name: "renewal window, default percent",
			now:  time.Date(2026, 6, 30, 7, 12, 0, 0, time.UTC),
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www")
				cfg.Policies["standard"].RenewBefore = spec.RenewBefore{}
			},
			want: []string{`R certificate.www: ` + renewReason},
		},
		{
			name: "renewal window, duration",
			now:  time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC),
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www")
				cfg.Policies["standard"].RenewBefore = spec.RenewBefore{Duration: 30 * 24 * time.Hour}
			},
			want: []string{`R certificate.www: renewal window reached (renews at 2026-06-30T00:00:00Z, expires 2026-07-30T00:00:00Z)`},
		},
		{
			name: "expired",
			now:  time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC),
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www")
			},
			want: []string{`R certificate.www: expired at 2026-07-30T00:00:00Z`},
		},
		{
			name: "replace: common_name",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates["www"].CommonName = "example.com"
			},
			want: []string{`-/+ certificate.www: common_name changed [common_name]`},
		},
		{
			name: "replace: dns_names",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				c := cfg.Certificates["www"]
				c.DNSNames = append(c.DNSNames, "shop.example.com")
			},
			want: []string{`-/+ certificate.www: dns_names changed [dns_names]`},
		},
		{
			name: "dns_names reordered, other case: no change",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates["www"].DNSNames = []string{"Example.com", "www.example.com", "example.com"}
			},
		},
		{
			name: "replace: ip_addresses",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates[`sites["api"]`].IPAddresses = []net.IP{net.ParseIP("192.0.2.11")}
			},
			want: []string{
				`-/+ certificate.sites["api"]: ip_addresses changed [ip_addresses]`,
				`note awaiting_agent certificate.sites["api"] -> web1: deployed when agent web1 pulls it, not by apply`,
			},
		},
		{
			name: "ip_addresses in another notation: no change",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				snap.Certificates[`sites["api"]`].IPAddresses = []string{"::ffff:192.0.2.10"}
			},
		},
		{
			name: "replace: email_addresses",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates["mail"].EmailAddresses = nil
			},
			want: []string{`-/+ certificate.mail: email_addresses changed [email_addresses]`},
		},
		{
			name: "replace: key_algorithm",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates["mail"].KeyAlgorithm = "rsa-2048"
			},
			want: []string{`-/+ certificate.mail: key_algorithm changed [key_algorithm]`},
		},
		{
			name: "replace: issuer",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Issuers["other"] = &spec.Issuer{Type: "local_ca", Name: "other"}
				snap.Issuers["other"] = &state.Issuer{Name: "other", Type: "local_ca", Digest: IssuerDigest(cfg.Issuers["other"])}
				cfg.Certificates["mail"].Issuer = "other"
			},
			want: []string{`-/+ certificate.mail: issuer changed [issuer]`},
		},
		{
			name: "replace: usages (policy)",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www", "mail")
				cfg.Policies["mail"].Usages = []string{"email_protection", "client_auth"}
			},
			want: []string{`-/+ certificate.mail: usages changed [usages]`},
		},
		{
			name: "replace: several attributes, metadata rides along",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				c := cfg.Certificates["www"]
				c.CommonName, c.KeyAlgorithm, c.Owner = "shop.example.com", "ed25519", "bob"
			},
			want: []string{`-/+ certificate.www: common_name, key_algorithm changed [common_name,key_algorithm]`},
		},
		{
			name: "update: owner",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates["www"].Owner = "bob"
			},
			want: []string{`~ certificate.www: owner changed (no new certificate)`},
		},
		{
			name: "update: team",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates["www"].Team = "web"
			},
			want: []string{`~ certificate.www: team changed (no new certificate)`},
		},
		{
			name: "update: labels changed, added and removed",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Certificates["www"].Labels = map[string]string{"env": "stage", "tier": "1"}
				cfg.Certificates["mail"].Labels = map[string]string{"a": "b"}
				snap.Certificates["mail"].Labels = map[string]string{"c": "d"}
			},
			want: []string{
				`~ certificate.mail: labels changed (no new certificate)`,
				`~ certificate.www: labels changed (no new certificate)`,
			},
		},
		{
			name: "update: owner, team and labels",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				c := cfg.Certificates["www"]
				c.Owner, c.Team, c.Labels = "bob", "web", nil
			},
			want: []string{`~ certificate.www: owner, team, labels changed (no new certificate)`},
		},
		{
			name: "deploy: target lacks the certificate",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, obs Observed) {
				delete(snap.Certificates["www"].Deployments, "local")
				delete(obs, "www")
			},
			want: []string{`> certificate.www -> local: target local lacks the certificate`},
		},
		{
			name: "deploy: target has an earlier certificate",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				d := snap.Certificates["www"].Deployments["local"]
				d.Fingerprint = fakeFP("www", 0)
				snap.Certificates["www"].Deployments["local"] = d
			},
			want: []string{`> certificate.www -> local: target local has an earlier certificate`},
		},
		{
			name: "deploy: last deploy failed",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				snap.Certificates["www"].Deployments["local"] = state.Deployment{LastError: `validate failed: "nginx -t": exit status 1`}
			},
			want: []string{`> certificate.www -> local: last deploy to target local failed: validate failed: "nginx -t": exit status 1`},
		},
		{
			name: "deploy: drift, files differ",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, obs Observed) {
				obs["www"]["local"] = "something-else"
			},
			want: []string{`> certificate.www -> local: drift: files in target local differ from the state`},
		},
		{
			name: "deploy: drift, files missing",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, obs Observed) {
				obs[`sites["api"]`]["local"] = ""
			},
			want: []string{`> certificate.sites["api"] -> local: drift: files missing in target local`},
		},
		{
			name:  "drift not checked without observation",
			noObs: true,
			mutate: func(cfg *spec.Config, snap *state.Snapshot, obs Observed) {
				d := snap.Certificates["www"].Deployments["local"]
				d.FilesDigest = "unknown"
				snap.Certificates["www"].Deployments["local"] = d
			},
		},
		{
			name: "forget",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				snap.Certificates["old"] = &state.Certificate{Name: "old", Fingerprint: fakeFP("old", 1), Status: state.StatusIssued}
			},
			want: []string{`- certificate.old: not in the configuration: removed from the state, not revoked`},
		},
		{
			name: "issuer: create, with certificates in the state",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www")
				delete(snap.Issuers, "internal")
			},
			want: []string{
				`-/+ certificate.www: issuer.internal is replaced [issuer]`,
				`+ issuer.internal: local CA is not in the state`,
			},
		},
		{
			name: "issuer: replace, common_name",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www", "mail")
				snap.Issuers["internal"].CertPEM = caPEM("Test Internal CA")
				cfg.Issuers["internal"].CommonName = "New Internal CA"
				cfg.Certificates["mail"].DNSNames = []string{"smtp.example.com"}
			},
			want: []string{
				`-/+ certificate.mail: issuer.internal is replaced; dns_names changed [dns_names,issuer]`,
				`-/+ certificate.www: issuer.internal is replaced [issuer]`,
				`-/+ issuer.internal: common_name changed: a new CA is created and every certificate it issued is replaced [common_name]`,
			},
		},
		{
			name: "issuer: replace, digest only",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap)
				snap.Issuers["internal"].Digest = "old"
			},
			want: []string{`-/+ issuer.internal: configuration changed: a new CA is created and every certificate it issued is replaced [configuration]`},
		},
		{
			name: "non-local issuers get no issuer action",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				cfg.Issuers["le"] = &spec.Issuer{Type: "acme", Name: "le"}
			},
		},
		{
			name: "failed create, waiting for backoff",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www")
				snap.Certificates["www"] = &state.Certificate{Name: "www", Status: state.StatusFailed, LastError: "issuing certificate.www: boom",
					Failures: 2, FailedAt: t0.Add(-time.Minute), NextAttemptAt: t0.Add(9 * time.Minute)}
			},
			want: []string{`note retry_wait certificate.www: retry after 2026-06-01T00:09:00Z: issuing certificate.www: boom`},
		},
		{
			name: "failed create, backoff passed",
			now:  t0.Add(9 * time.Minute),
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				keep(cfg, snap, "www")
				snap.Certificates["www"] = &state.Certificate{Name: "www", Status: state.StatusFailed, LastError: "issuing certificate.www: boom",
					Failures: 2, FailedAt: t0.Add(-time.Minute), NextAttemptAt: t0.Add(9 * time.Minute)}
			},
			want: []string{`+ certificate.www: no certificate has been issued yet; retrying, last attempt failed: issuing certificate.www: boom`},
		},
		{
			name: "failed renewal waits; deploy of the current certificate goes on",
			now:  time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
			mutate: func(cfg *spec.Config, snap *state.Snapshot, obs Observed) {
				keep(cfg, snap, "www")
				r := snap.Certificates["www"]
				r.Status, r.LastError, r.Failures, r.NextAttemptAt = state.StatusFailed, "renewing certificate.www: CA down", 1, time.Date(2026, 7, 1, 0, 1, 0, 0, time.UTC)
				obs["www"]["local"] = ""
			},
			want: []string{
				`> certificate.www -> local: drift: files missing in target local`,
				`note retry_wait certificate.www: retry after 2026-07-01T00:01:00Z: renewing certificate.www: CA down`,
			},
		},
		{
			name: "failed renewal, backoff passed",
			now:  time.Date(2026, 7, 1, 0, 1, 0, 0, time.UTC),
			mutate: func(cfg *spec.Config, snap *state.Snapshot, obs Observed) {
				keep(cfg, snap, "www")
				r := snap.Certificates["www"]
				r.Status, r.LastError, r.Failures, r.NextAttemptAt = state.StatusFailed, "renewing certificate.www: CA down", 1, time.Date(2026, 7, 1, 0, 1, 0, 0, time.UTC)
			},
			want: []string{`R certificate.www: ` + renewReason + `; retrying, last attempt failed: renewing certificate.www: CA down`},
		},
		{
			name: "agent target lacking the certificate: a note, not a change",
			mutate: func(cfg *spec.Config, snap *state.Snapshot, _ Observed) {
				delete(snap.Certificates[`sites["api"]`].Deployments, "web1")
			},
			want: []string{`note awaiting_agent certificate.sites["api"] -> web1: deployed when agent web1 pulls it, not by apply`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			snap := appliedSnapshot(cfg)
			obs := observedAll(cfg)
			if tt.mutate != nil {
				tt.mutate(cfg, snap, obs)
			}
			if tt.noObs {
				obs = nil
			}
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			p := Plan(cfg, snap, obs, now)
			if got := describe(p); !slices.Equal(got, tt.want) {
				t.Errorf("Plan(%s) =\n\t%s\nwant\n\t%s", tt.name, strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			var s Summary
			for _, ch := range p.Changes {
				s.add(ch.Action)
			}
			if s != p.Summary {
				t.Errorf("Plan(%s).Summary = %+v, want %+v", tt.name, p.Summary, s)
			}
			if again := Plan(cfg, snap, obs, now); !slices.Equal(describe(again), describe(p)) {
				t.Errorf("Plan(%s) is not deterministic", tt.name)
			}
		})
	}
}

func TestPlanDiffsAndTargets(t *testing.T) {
	cfg := testConfig(t.TempDir())
	snap := appliedSnapshot(cfg)
	c := cfg.Certificates["www"]
	c.DNSNames = []string{"www.example.com"}
	c.Owner = "bob"
	c.Labels = map[string]string{"env": "prod", "tier": "1"}
	p := Plan(cfg, snap, nil, t0)
	if len(p.Changes) != 1 {
		t.Fatalf("Plan = %v, want one change", describe(p))
	}
	got := p.Changes[0]
	want := []AttrDiff{
		{Attribute: "dns_names", Before: `["example.com", "www.example.com"]`, After: `["www.example.com"]`, Forces: true},
		{Attribute: "owner", Before: `"alice"`, After: `"bob"`},
		{Attribute: "labels.tier", Before: "(none)", After: `"1"`},
	}
	if !slices.Equal(got.Diffs, want) {
		t.Errorf("Plan().Changes[0].Diffs = %+v, want %+v", got.Diffs, want)
	}
	if !slices.Equal(got.Targets, []string{"local"}) {
		t.Errorf("Plan().Changes[0].Targets = %v, want [local]", got.Targets)
	}
	if got.Prior != snap.Certificates["www"].Fingerprint {
		t.Errorf("Plan().Changes[0].Prior = %q, want the current fingerprint", got.Prior)
	}
	if p.Lineage != snap.Lineage || p.Serial != snap.Serial || p.ConfigDigest != ConfigDigest(cfg) || !p.CreatedAt.Equal(t0) {
		t.Errorf("Plan() header = %q %d %q %v", p.Lineage, p.Serial, p.ConfigDigest, p.CreatedAt)
	}
}

func TestConfigDigest(t *testing.T) {
	base := ConfigDigest(testConfig("/a"))
	if got := ConfigDigest(testConfig("/b")); got != base {
		t.Errorf("ConfigDigest depends on the directory")
	}
	moved := testConfig("/a")
	moved.Certificates["www"].DeclRange.Filename = "other.hcl"
	moved.Certificates["www"].DeclRange.Start.Line = 42
	if got := ConfigDigest(moved); got != base {
		t.Errorf("ConfigDigest depends on DeclRange")
	}
	for name, mutate := range map[string]func(*spec.Config){
		"label":    func(c *spec.Config) { c.Certificates["www"].Labels["env"] = "dev" },
		"validity": func(c *spec.Config) { c.Policies["standard"].Validity++ },
		"target":   func(c *spec.Config) { c.Targets["local"].Reload = "true" },
		"new cert": func(c *spec.Config) { c.Certificates["x"] = &spec.Certificate{Name: "x"} },
	} {
		c := testConfig("/a")
		mutate(c)
		if ConfigDigest(c) == base {
			t.Errorf("ConfigDigest ignores a change of %s", name)
		}
	}
	// Sensitive notifier values are not in the digest.
	withSecret := func(v string) *spec.Config {
		c := testConfig("/a")
		c.Notifiers = map[string]*spec.Notifier{"ops": {Type: "webhook", Name: "ops", Attrs: map[string]string{"url": v}, Sensitive: map[string]bool{"url": true}}}
		return c
	}
	if ConfigDigest(withSecret("https://a/secret1")) != ConfigDigest(withSecret("https://a/secret2")) {
		t.Errorf("ConfigDigest depends on a sensitive value")
	}
}

func TestCertDigest(t *testing.T) {
	cfg := testConfig("/a")
	c := cfg.Certificates["www"]
	d := CertDigest(c, cfg)
	c.DNSNames = []string{"example.com", "WWW.example.com"}
	c.Owner = "bob"
	if got := CertDigest(c, cfg); got != d {
		t.Errorf("CertDigest changed with name order, case or owner")
	}
	// The default subject (with the CN) digests as before the attribute
	// existed: upgrading certctl replaces nothing.
	if want := "475a3c88e1239d72c15f5bc1492df03afe2e7565d7c63af3d05d71f80c8728df"; d != want {
		t.Errorf("CertDigest = %s, want %s as before subject_common_name", d, want)
	}
	cfg.Policies["standard"].OmitSubjectCommonName = true
	if got := CertDigest(c, cfg); got == d {
		t.Errorf("CertDigest ignores subject_common_name")
	}
	cfg.Policies["standard"].OmitSubjectCommonName = false
	c.CommonName = "example.com"
	if got := CertDigest(c, cfg); got == d {
		t.Errorf("CertDigest ignores common_name")
	}
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		failures int
		want     time.Duration
	}{{0, time.Minute}, {1, time.Minute}, {2, 10 * time.Minute}, {3, 100 * time.Minute}, {4, 24 * time.Hour}, {40, 24 * time.Hour}} {
		if got := Backoff(tt.failures); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.failures, got, tt.want)
		}
	}
}

// TestCertificateFields pins the fields digester.certificate knows: a new
// field of spec.Certificate must be added there (or here, if it must not
// make a saved plan stale).
func TestCertificateFields(t *testing.T) {
	known := []string{"Name", "Label", "Key", "CommonName", "DNSNames", "IPAddresses", "EmailAddresses",
		"Issuer", "Policy", "Owner", "Team", "Targets", "Notifiers", "Labels", "KeyAlgorithm", "Validity", "OnRemove", "DeclRange"}
	typ := reflect.TypeFor[spec.Certificate]()
	var got []string
	for i := range typ.NumField() {
		got = append(got, typ.Field(i).Name)
	}
	if !slices.Equal(got, known) {
		t.Errorf("spec.Certificate fields = %v, digester.certificate knows %v", got, known)
	}
}
