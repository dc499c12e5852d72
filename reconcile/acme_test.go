package reconcile

import (
	"context"
	"crypto/x509"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// acmeIssuerSpec is an acme issuer as spec decodes it (no network is
// involved until Apply builds it).
func acmeIssuerSpec(name string) *spec.Issuer {
	return &spec.Issuer{Type: spec.IssuerTypeACME, Name: name, ACME: &spec.ACMEIssuer{
		Directory: "https://acme.example.com/dir", Email: "pki@example.com",
		HTTP01: &spec.ACMEHTTP01{Port: 80}, Sensitive: map[string]bool{},
	}}
}

// acmeAccount is the recorded account of is.
func acmeAccount(is *spec.Issuer) *state.Issuer {
	return &state.Issuer{
		Name: is.Name, Type: spec.IssuerTypeACME, AccountURI: "https://acme.example.com/acct/1",
		Directory: is.ACME.Directory, Email: is.ACME.Email, KeySealed: []byte("sealed:key"),
	}
}

func acmeCert(name, issuer string) *spec.Certificate {
	return &spec.Certificate{
		Name: name, Label: name, CommonName: name + ".example.com", DNSNames: []string{name + ".example.com"},
		Issuer: issuer, Policy: "standard", Owner: "bob", Team: "web", KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
	}
}

// acmeSetup is testConfig with only certificate "shop", issued by acme
// issuer "le", whose account is recorded.
func acmeSetup() (*spec.Config, *state.Snapshot) {
	cfg := testConfig("/srv/certctl")
	cfg.Issuers["le"] = acmeIssuerSpec("le")
	cfg.Certificates["shop"] = acmeCert("shop", "le")
	snap := appliedSnapshot(cfg)
	keep(cfg, snap, "shop")
	snap.Issuers["le"] = acmeAccount(cfg.Issuers["le"])
	return cfg, snap
}

func TestPlanACME(t *testing.T) {
	policyAt := time.Date(2026, 6, 30, 7, 12, 0, 0, time.UTC) // 33% of nb..na
	jittered := JitteredRenewsAt("shop", policyAt, na)
	if !jittered.After(policyAt) {
		t.Fatalf("the jitter of shop is 0; pick another name for this test")
	}
	ariStart, ariEnd := t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)
	ariAt := ARIRenewsAt("shop", ariStart, ariEnd, na)

	tests := []struct {
		name   string
		now    time.Time
		mutate func(cfg *spec.Config, snap *state.Snapshot)
		want   []string
	}{
		{name: "account recorded, nothing due"},
		{
			name:   "no account yet",
			mutate: func(_ *spec.Config, snap *state.Snapshot) { delete(snap.Issuers, "le") },
			want:   []string{"+ issuer.le: ACME account is not in the state: registered at https://acme.example.com/dir on apply"},
		},
		{
			name:   "email changed",
			mutate: func(cfg *spec.Config, _ *state.Snapshot) { cfg.Issuers["le"].ACME.Email = "tls@example.com" },
			want:   []string{"~ issuer.le: email changed: the ACME account's contact is updated (no new certificate)"},
		},
		{
			name: "directory changed: another CA",
			mutate: func(cfg *spec.Config, _ *state.Snapshot) {
				cfg.Issuers["le"].ACME.Directory = "https://other.example.com/dir"
			},
			want: []string{
				"-/+ certificate.shop: issuer.le is replaced [issuer]",
				"-/+ issuer.le: directory changed: a new ACME account is registered there and every certificate from the old CA is replaced [directory]",
			},
		},
		{
			name: "was a local CA",
			mutate: func(_ *spec.Config, snap *state.Snapshot) {
				snap.Issuers["le"] = &state.Issuer{Name: "le", Type: "local_ca"}
			},
			want: []string{
				"-/+ certificate.shop: issuer.le is replaced [issuer]",
				"-/+ issuer.le: type changed: an ACME account is registered and every certificate the old issuer signed is replaced [type]",
			},
		},
		{
			name: "policy time reached, jitter not yet",
			now:  policyAt,
		},
		{
			name: "policy time plus jitter reached",
			now:  jittered,
			want: []string{"R certificate.shop: renewal window reached (renews at " + ts(jittered) + ", expires " + ts(na) + ")"},
		},
		{
			name: "ARI window reached",
			mutate: func(_ *spec.Config, snap *state.Snapshot) {
				snap.Certificates["shop"].RenewalWindowStart, snap.Certificates["shop"].RenewalWindowEnd = ariStart, ariEnd
			},
			want: []string{"R certificate.shop: renewal window reached (the CA suggests " + ts(ariStart) + " to " + ts(ariEnd) +
				"; renews at " + ts(ariAt) + ", expires " + ts(na) + ")"},
		},
		{
			name: "a later ARI window wins over the policy",
			now:  jittered.Add(time.Hour),
			mutate: func(_ *spec.Config, snap *state.Snapshot) {
				snap.Certificates["shop"].RenewalWindowStart, snap.Certificates["shop"].RenewalWindowEnd = na.Add(-5*24*time.Hour), na.Add(-4*24*time.Hour)
			},
		},
		{
			name: "on_remove changed is an update",
			mutate: func(cfg *spec.Config, _ *state.Snapshot) {
				cfg.Certificates["shop"].OnRemove = "revoke"
			},
			want: []string{"~ certificate.shop: on_remove changed (no new certificate)"},
		},
		{
			name: "the default on_remove equals none recorded",
			mutate: func(cfg *spec.Config, _ *state.Snapshot) {
				cfg.Certificates["shop"].OnRemove = "forget"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, snap := acmeSetup()
			if tt.mutate != nil {
				tt.mutate(cfg, snap)
			}
			now := cmpOrTime(tt.now, t0)
			got := describe(Plan(cfg, snap, nil, now))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan(%s) =\n  %s\nwant\n  %s", tt.name, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func cmpOrTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// Local CA certificates renew at exactly the policy's time: jitter is for
// ACME CAs, which thousands of renewals in one minute would hurt.
func TestPlanLocalCANoJitter(t *testing.T) {
	cfg := testConfig("/srv/certctl")
	snap := appliedSnapshot(cfg)
	keep(cfg, snap, "www")
	at := time.Date(2026, 6, 30, 7, 12, 0, 0, time.UTC)
	if got := describe(Plan(cfg, snap, nil, at)); len(got) != 1 || !strings.HasPrefix(got[0], "R certificate.www") {
		t.Errorf("Plan(local CA at the policy's time) = %q, want a renewal", got)
	}
	if s := Inventory(cfg, snap, t0); !s[0].RenewsAt.Equal(at) {
		t.Errorf("Inventory RenewsAt = %v, want %v", s[0].RenewsAt, at)
	}
}

func TestPlanRevokeOnRemove(t *testing.T) {
	cfg, snap := acmeSetup()
	rec := func(name, issuer, onRemove string, notAfter time.Time) {
		snap.Certificates[name] = &state.Certificate{
			Name: name, Issuer: issuer, OnRemove: onRemove, Fingerprint: fakeFP(name, 1), Serial: "2a",
			NotBefore: nb, NotAfter: notAfter, Status: state.StatusIssued,
		}
	}
	rec("gone", "le", "revoke", na)
	rec("expired", "le", "revoke", t0.Add(-time.Hour))
	rec("local", "internal", "revoke", na)
	rec("orphan", "vanished", "revoke", na)
	rec("plain", "le", "", na)
	rec("revoked", "internal", "revoke", na)
	snap.Certificates["revoked"].RevokedAt = t0.Add(-time.Hour)
	p := Plan(cfg, snap, nil, t0)
	want := []string{
		`- certificate.expired: not in the configuration, and expired at 2026-05-31T23:00:00Z: removed from the state (nothing to revoke)`,
		`x certificate.gone: not in the configuration (on_remove = "revoke"): revoked at issuer.le, then removed from the state`,
		`x certificate.local: not in the configuration (on_remove = "revoke"): revoked in the CRL and OCSP of issuer.internal, then removed from the state`,
		`- certificate.orphan: not in the configuration (on_remove = "revoke"), but issuer.vanished is gone too: removed from the state, not revoked`,
		`- certificate.plain: not in the configuration: removed from the state, not revoked`,
		`- certificate.revoked: not in the configuration, and revoked at 2026-05-31T23:00:00Z already: removed from the state`,
	}
	if got := describe(p); !slices.Equal(got, want) {
		t.Errorf("Plan() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if p.Summary.Revoke != 2 || p.Summary.Forget != 4 {
		t.Errorf("Summary = %+v, want 2 revoke and 4 forget", p.Summary)
	}
	if line := p.Summary.SummaryLine(); !strings.HasSuffix(line, "4 to forget, 2 to revoke.") {
		t.Errorf("SummaryLine() = %q", line)
	}
	if ActionRevoke.Symbol() != "x" || ActionRevoke.String() != "revoke" {
		t.Errorf("ActionRevoke = %s %s", ActionRevoke.Symbol(), ActionRevoke)
	}
}

func TestPlanRateLimitNote(t *testing.T) {
	cfg, snap := acmeSetup()
	cfg.Issuers["le"].ACME.RateLimit = &spec.ACMERateLimit{Orders: 3, Per: 3 * time.Hour}
	// Two orders in the last 3 hours: shop now, and its previous version.
	shop := snap.Certificates["shop"]
	shop.IssuedAt = t0.Add(-time.Hour)
	shop.History = []state.Version{
		{Serial: "1e", Issuer: "le", IssuedAt: t0.Add(-2 * time.Hour)},
		{Serial: "1d", Issuer: "le", IssuedAt: t0.Add(-4 * time.Hour)},     // before the period
		{Serial: "1c", Issuer: "internal", IssuedAt: t0.Add(-time.Minute)}, // another issuer
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		cfg.Certificates[n] = acmeCert(n, "le")
	}
	p := Plan(cfg, snap, nil, t0)
	var notes []string
	for _, n := range p.Notes {
		if n.Kind == NoteRateLimit {
			notes = append(notes, n.Address+": "+n.Message)
		}
	}
	want := []string{"issuer.le: 5 orders planned, but rate_limit (3 per 3h) leaves 1 now (2 used): apply issues the 1 most urgent and defers 4 (certificate.b, certificate.c, certificate.d and 1 more) to a later run"}
	if !slices.Equal(notes, want) {
		t.Errorf("rate limit notes = %q, want %q", notes, want)
	}
	if p.Summary.Create != 5 {
		t.Errorf("Summary.Create = %d: the plan keeps every change, apply defers", p.Summary.Create)
	}

	// Within budget: no note.
	cfg.Issuers["le"].ACME.RateLimit.Orders = 7
	for _, n := range Plan(cfg, snap, nil, t0).Notes {
		if n.Kind == NoteRateLimit {
			t.Errorf("note within budget: %s", n.Message)
		}
	}
}

func TestUrgency(t *testing.T) {
	chs := []Change{
		{Address: "certificate.later", NotAfter: t0.Add(48 * time.Hour)},
		{Address: "certificate.new-b"},
		{Address: "certificate.soon", NotAfter: t0.Add(time.Hour)},
		{Address: "certificate.expired", NotAfter: t0.Add(-time.Hour)},
		{Address: "certificate.new-a"},
	}
	slices.SortFunc(chs, urgency(t0))
	var got []string
	for _, ch := range chs {
		got = append(got, ch.Address)
	}
	want := []string{"certificate.expired", "certificate.new-a", "certificate.new-b", "certificate.soon", "certificate.later"}
	if !slices.Equal(got, want) {
		t.Errorf("urgency order = %q, want %q", got, want)
	}
}

func TestPlanRenew(t *testing.T) {
	cfg := testConfig("/srv/certctl")
	snap := appliedSnapshot(cfg)
	www := snap.Certificates["www"]
	www.Status, www.LastError, www.Failures, www.NextAttemptAt = state.StatusFailed, "CA said no", 2, t0.Add(time.Hour)
	cfg.Certificates["mail"].Owner = "bob" // an update that renew leaves out
	p, err := PlanRenew(cfg, snap, nil, t0, "www")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"R certificate.www: forced by certctl renew (due at 2026-06-30T07:12:00Z); retrying, last attempt failed: CA said no"}
	if got := describe(p); !slices.Equal(got, want) {
		t.Errorf("PlanRenew(www) = %q, want %q", got, want)
	}
	if p.Summary != (Summary{Renew: 1}) || len(p.Changes[0].Targets) != 1 {
		t.Errorf("PlanRenew(www): summary %+v, targets %q", p.Summary, p.Changes[0].Targets)
	}
	// Without the force, the same state plans no renewal of www.
	for _, ch := range Plan(cfg, snap, nil, t0).Changes {
		if ch.Name == "www" {
			t.Errorf("Plan() has %s %s; it is waiting for its backoff", ch.Action, ch.Address)
		}
	}
	// A certificate never issued is created, and its issuer's account
	// comes with it.
	cfg.Issuers["le"] = acmeIssuerSpec("le")
	cfg.Certificates["shop"] = acmeCert("shop", "le")
	p, _ = PlanRenew(cfg, snap, nil, t0, "shop")
	want = []string{"+ certificate.shop: not in the state", "+ issuer.le: ACME account is not in the state: registered at https://acme.example.com/dir on apply"}
	if got := describe(p); !slices.Equal(got, want) {
		t.Errorf("PlanRenew(shop) = %q, want %q", got, want)
	}
	if _, err := PlanRenew(cfg, snap, nil, t0, "nope"); err == nil {
		t.Error("PlanRenew(unknown) succeeded")
	}
}

// spec keeps its own list of DNS-01 providers (it imports nothing of
// ours); it must be pki/acme's.
func TestACMEProvidersInSync(t *testing.T) {
	got := map[string][]string{}
	for _, p := range acme.Providers() {
		got[p.Name] = p.Settings
	}
	if !maps.EqualFunc(got, spec.ACMEProviders, slices.Equal) {
		t.Errorf("spec.ACMEProviders differs from acme.Providers():\n spec: %v\n acme: %v", spec.ACMEProviders, got)
	}
}

func TestConfigDigestHidesACMESecrets(t *testing.T) {
	cfg, _ := acmeSetup()
	a := cfg.Issuers["le"].ACME
	a.EAB = &spec.ACMEEAB{KID: "kid", HMACKey: "first-secret"}
	a.DNS01, a.HTTP01 = &spec.ACMEDNS01{Provider: "cloudflare", Config: map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "tok-1"}}, nil
	a.Sensitive = map[string]bool{"eab.hmac_key": true, "dns01.config": true}
	before := ConfigDigest(cfg)
	a.EAB.HMACKey = "second-secret"
	a.DNS01.Config["CLOUDFLARE_DNS_API_TOKEN"] = "tok-2"
	if ConfigDigest(cfg) != before {
		t.Error("ConfigDigest changed with a sensitive value: it would confirm a guessed secret")
	}
	if a.EAB.HMACKey != "second-secret" || a.DNS01.Config["CLOUDFLARE_DNS_API_TOKEN"] != "tok-2" {
		t.Error("ConfigDigest modified the configuration")
	}
	a.Email = "other@example.com"
	if ConfigDigest(cfg) == before {
		t.Error("ConfigDigest ignores the email")
	}
}

// signingIssuer is a local CA standing in for an ACME CA in tests of
// Apply's logic: it also revokes (recording what) and answers renewal
// info with a fixed window. The end-to-end tests use a real pebble. The
// CA is a field, not embedded: like an ACME CA, it signs CSRs only (no
// IssueForKey).
type signingIssuer struct {
	ca         *pki.LocalCA
	start, end time.Time

	mu      sync.Mutex
	revoked map[string]uint // serial → reason
	orders  int
}

func newSigningIssuer(t *testing.T) *signingIssuer {
	ca, err := pki.NewLocalCA(pki.CAConfig{Name: "le", CommonName: "Fake ACME CA", KeyAlgorithm: "ecdsa-p256", Validity: 3650 * 24 * time.Hour}, nb)
	if err != nil {
		t.Fatal(err)
	}
	return &signingIssuer{ca: ca, revoked: map[string]uint{}}
}

func (s *signingIssuer) Issue(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error) {
	s.mu.Lock()
	s.orders++
	s.mu.Unlock()
	if req.CSR == nil {
		return nil, errors.New("no CSR")
	}
	return s.ca.Issue(ctx, req)
}

func (s *signingIssuer) Revoke(_ context.Context, leaf *x509.Certificate, reason uint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[pki.SerialHex(leaf)] = reason
	return nil
}

func (s *signingIssuer) RenewalInfo(context.Context, *x509.Certificate) (time.Time, time.Time, bool, error) {
	return s.start, s.end, !s.start.IsZero(), nil
}

// acmeApplyEnv is newApplyEnv with acme issuer "le" (account recorded)
// signing through a signingIssuer.
func acmeApplyEnv(t *testing.T) (*applyEnv, *signingIssuer) {
	e := newApplyEnv(t)
	e.cfg.Issuers["le"] = acmeIssuerSpec("le")
	if err := e.store.PutIssuer(context.Background(), acmeAccount(e.cfg.Issuers["le"])); err != nil {
		t.Fatal(err)
	}
	return e, newSigningIssuer(t)
}

func TestApplyRateLimitDefers(t *testing.T) {
	e, le := acmeApplyEnv(t)
	e.cfg.Issuers["le"].ACME.RateLimit = &spec.ACMERateLimit{Orders: 2, Per: 3 * time.Hour}
	for _, n := range []string{"x1", "x2", "x3"} {
		e.cfg.Certificates[n] = acmeCert(n, "le")
	}
	issuers := map[string]Issuer{"le": le}
	res, err := e.apply(e.plan(), issuers)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !slices.Equal(res.Deferred, []string{"certificate.x3"}) || res.Failed != 0 || le.orders != 2 {
		t.Fatalf("Apply() deferred %q, failed %d, %d orders; want x3 deferred, none failed, 2 orders", res.Deferred, res.Failed, le.orders)
	}
	if !strings.Contains(res.String(), ", 1 deferred by rate limits.") {
		t.Errorf("Result.String() = %q", res.String())
	}
	if e.store.record(t, "x3") != nil {
		t.Error("x3 has a record: a deferred change must leave the state alone")
	}
	last := e.progress[len(e.progress)-1]
	if last[0] != last[1] {
		t.Errorf("progress ends at %d/%d: deferred changes must not count", last[0], last[1])
	}

	// The budget is counted from the state: an hour later, still spent.
	e.now = t0.Add(time.Hour)
	p := e.plan()
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0].Message, "1 orders planned, but rate_limit (2 per 3h) leaves 0 now (2 used)") {
		t.Errorf("Plan notes = %+v", p.Notes)
	}
	if res, _ := e.apply(p, issuers); !slices.Equal(res.Deferred, []string{"certificate.x3"}) || le.orders != 2 {
		t.Errorf("Apply() an hour later deferred %q after %d orders", res.Deferred, le.orders)
	}
	// Once the period has passed, x3 is issued.
	e.now = t0.Add(3*time.Hour + time.Second)
	if res, err := e.apply(e.plan(), issuers); err != nil || len(res.Deferred) != 0 || res.Created != 1 {
		t.Errorf("Apply() after the period = %+v, %v; want x3 created", res, err)
	}
}

func TestApplyRevokeAndRenewalInfo(t *testing.T) {
	e, le := acmeApplyEnv(t)
	le.start, le.end = t0.Add(60*24*time.Hour), t0.Add(62*24*time.Hour)
	gone := acmeCert("gone", "le")
	gone.OnRemove = "revoke"
	e.cfg.Certificates["gone"] = gone
	issuers := map[string]Issuer{"le": le}
	if _, err := e.apply(e.plan(), issuers); err != nil {
		t.Fatal(err)
	}
	rec := e.store.record(t, "gone")
	if rec.OnRemove != "revoke" || !rec.RenewalWindowStart.Equal(le.start) || !rec.RenewalWindowEnd.Equal(le.end) || !rec.ARICheckedAt.Equal(t0) {
		t.Fatalf("record: on_remove %q window [%v, %v] checked %v", rec.OnRemove, rec.RenewalWindowStart, rec.RenewalWindowEnd, rec.ARICheckedAt)
	}
	// show and plan use the CA's window.
	for _, s := range Inventory(e.cfg, e.snapshot(), t0) {
		if s.Name == "gone" && (s.RenewsAt.Before(le.start) || !s.RenewsAt.Before(le.end) || !s.RenewalWindowStart.Equal(le.start)) {
			t.Errorf("Inventory(gone).RenewsAt = %v, window %v; want in [%v, %v)", s.RenewsAt, s.RenewalWindowStart, le.start, le.end)
		}
	}
	// A new certificate drops the window of the old one: this CA has
	// none for it.
	le.start, le.end = time.Time{}, time.Time{}
	e.now = t0.Add(time.Minute)
	p, _ := PlanRenew(e.cfg, e.snapshot(), nil, e.now, "gone")
	if _, err := e.apply(p, issuers); err != nil {
		t.Fatal(err)
	}
	renewed := e.store.record(t, "gone")
	if !renewed.RenewalWindowStart.IsZero() || !renewed.ARICheckedAt.IsZero() {
		t.Errorf("renewed record kept the old window %v (checked %v)", renewed.RenewalWindowStart, renewed.ARICheckedAt)
	}
	if h := renewed.History; len(h) != 1 || h[0].Issuer != "le" || !h[0].IssuedAt.Equal(t0) {
		t.Errorf("history = %+v, want the first version with its issuer and issue time", h)
	}

	delete(e.cfg.Certificates, "gone")
	p = e.plan()
	if got := describe(p); !slices.Contains(got, `x certificate.gone: not in the configuration (on_remove = "revoke"): revoked at issuer.le, then removed from the state`) {
		t.Fatalf("Plan() = %q, want the revocation", got)
	}
	res, err := e.apply(p, issuers)
	if err != nil || res.Revoked != 1 {
		t.Fatalf("Apply() = %+v, %v; want 1 revoked", res, err)
	}
	if got, ok := le.revoked[renewed.Serial]; !ok || got != revokeReason || len(le.revoked) != 1 {
		t.Errorf("revoked %v, want serial %s with reason %d", le.revoked, renewed.Serial, revokeReason)
	}
	if e.store.record(t, "gone") != nil {
		t.Error("the revoked certificate is still in the state")
	}
}

func TestApplyIssuerBackoffAndCARateLimit(t *testing.T) {
	e, _ := acmeApplyEnv(t)
	e.cfg.Issuers["le"].ACME.Backoff = []time.Duration{30 * time.Second, 5 * time.Minute}
	e.cfg.Certificates["x"] = acmeCert("x", "le")
	fail := map[string]Issuer{"le": failingIssuer{errors.New("order refused")}}
	for i, wait := range []time.Duration{30 * time.Second, 5 * time.Minute, 5 * time.Minute} {
		p, _ := PlanRenew(e.cfg, e.snapshot(), nil, e.now, "x")
		if _, err := e.apply(p, fail); err == nil {
			t.Fatal("Apply() succeeded with a failing issuer")
		}
		if rec := e.store.record(t, "x"); rec.Failures != i+1 || !rec.NextAttemptAt.Equal(e.now.Add(wait)) {
			t.Errorf("after failure %d: failures %d, next attempt %v; want %v", i+1, rec.Failures, rec.NextAttemptAt, e.now.Add(wait))
		}
		e.now = e.now.Add(time.Minute)
	}
	// The CA's Retry-After wins when it is longer than the backoff.
	limited := map[string]Issuer{"le": failingIssuer{&acme.RateLimitError{ByCA: true, RetryAfter: 2 * time.Hour}}}
	p, _ := PlanRenew(e.cfg, e.snapshot(), nil, e.now, "x")
	e.apply(p, limited)
	if rec := e.store.record(t, "x"); !rec.NextAttemptAt.Equal(e.now.Add(2 * time.Hour)) {
		t.Errorf("after a CA rate limit: next attempt %v, want %v", rec.NextAttemptAt, e.now.Add(2*time.Hour))
	}
}
