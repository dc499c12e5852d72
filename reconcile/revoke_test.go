package reconcile

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/state"
)

// certctl revoke of a declared local-CA certificate, then its
// replacement; on_remove = "revoke" of one that leaves the
// configuration. Each revocation lands in the state with its event row.
func TestRevokeLocalCA(t *testing.T) {
	ctx := context.Background()
	cfg := notifyConfig(t.TempDir(), "https://hooks.example.com/x")
	cfg.Certificates["mail"].OnRemove = "revoke"
	db := openQueue(t)
	now := t0
	deps := Deps{Store: db, Notifications: db, Now: func() time.Time { return now }, Exec: (&recExec{}).exec}
	snapshot := func() *state.Snapshot {
		t.Helper()
		snap, err := db.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	if _, err := Apply(ctx, Plan(cfg, snapshot(), nil, now), cfg, deps); err != nil {
		t.Fatal(err)
	}
	before := snapshot().Certificates["www"]

	// Refused, with nothing planned: unknown name, bad reason.
	if _, err := PlanRevoke(cfg, snapshot(), now, "nope", "keyCompromise"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("PlanRevoke(unknown) = %v", err)
	}
	if _, err := PlanRevoke(cfg, snapshot(), now, "www", "stolen"); err == nil || !strings.Contains(err.Error(), "keyCompromise") {
		t.Errorf("PlanRevoke(bad reason) = %v", err)
	}
	if _, err := PlanRevoke(cfg, snapshot(), before.NotAfter, "www", "keyCompromise"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("PlanRevoke(expired) = %v", err)
	}

	now = t0.Add(time.Hour)
	p, err := PlanRevoke(cfg, snapshot(), now, "www", "keycompromise")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"x certificate.www: certctl revoke (keyCompromise): serial " + before.Serial + " revoked in the CRL and OCSP of issuer.internal; the next apply issues a new certificate"}
	if got := describe(p); !slices.Equal(got, want) || p.Summary.Revoke != 1 || p.Summary.Total() != 1 {
		t.Fatalf("PlanRevoke() = %q (summary %+v), want %q", got, p.Summary, want)
	}
	res, err := Apply(ctx, p, cfg, deps)
	if err != nil || res.Revoked != 1 {
		t.Fatalf("Apply(revoke) = %+v, %v", res, err)
	}
	snap := snapshot()
	www := snap.Certificates["www"]
	if www == nil || !www.RevokedAt.Equal(now) || www.RevokedReason != pki.ReasonKeyCompromise || www.Fingerprint != before.Fingerprint {
		t.Fatalf("record after revoke = %+v, want it kept and marked", www)
	}
	if revs := snap.Revocations["internal"]; len(revs) != 1 || revs[0].Serial != before.Serial || revs[0].Reason != pki.ReasonKeyCompromise || revs[0].Name != "www" || snap.CRLNumbers["internal"] != 1 {
		t.Errorf("revocations = %+v, CRL number %d", revs, snap.CRLNumbers["internal"])
	}
	if rows := revokedRows(t, db, "www"); !slices.Equal(rows, []string{"revoked www -> ops [pending]"}) {
		t.Errorf("revoked rows = %q", rows)
	}
	inv := Inventory(cfg, snap, now)
	if i := slices.IndexFunc(inv, func(s CertStatus) bool { return s.Name == "www" }); inv[i].Status != StatusRevoked || !inv[i].RenewsAt.Equal(now) {
		t.Errorf("Inventory(www) after revoke = %+v, want revoked, renewing now", inv[i])
	}
	if _, err := PlanRevoke(cfg, snap, now, "www", "keyCompromise"); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("PlanRevoke(revoked already) = %v", err)
	}

	// The next plan renews it; the new certificate is not revoked.
	p = Plan(cfg, snap, nil, now)
	reason := "R certificate.www: revoked at " + ts(now) + " (keyCompromise): a new certificate is needed"
	if got := describe(p); !slices.Contains(got, reason) {
		t.Fatalf("Plan() after revoke = %q, want %q", got, reason)
	}
	if _, err := Apply(ctx, p, cfg, deps); err != nil {
		t.Fatal(err)
	}
	snap = snapshot()
	if www = snap.Certificates["www"]; www.Serial == before.Serial || !www.RevokedAt.IsZero() || www.RevokedReason != 0 {
		t.Errorf("record after the replacement: serial %s (was %s), revoked at %v", www.Serial, before.Serial, www.RevokedAt)
	}
	if len(snap.Revocations["internal"]) != 1 {
		t.Errorf("the revocation went with the replacement")
	}
	if issued := snap.IssuedSerials("internal"); issued[before.Serial] != "www" || issued[www.Serial] != "www" {
		t.Errorf("IssuedSerials = %v, want both serials of www", issued)
	}

	// mail leaves the configuration with on_remove = "revoke".
	mail := snap.Certificates["mail"]
	delete(cfg.Certificates, "mail")
	p = Plan(cfg, snap, nil, now)
	want = []string{`x certificate.mail: not in the configuration (on_remove = "revoke"): revoked in the CRL and OCSP of issuer.internal, then removed from the state`}
	if got := describe(p); !slices.Equal(got, want) || p.Changes[0].RevocationReason != "cessationOfOperation" {
		t.Fatalf("Plan() = %q, want %q", got, want)
	}
	if res, err := Apply(ctx, p, cfg, deps); err != nil || res.Revoked != 1 {
		t.Fatalf("Apply(on_remove) = %+v, %v", res, err)
	}
	snap = snapshot()
	if snap.Certificates["mail"] != nil {
		t.Error("mail is still in the state")
	}
	revs := snap.Revocations["internal"]
	i := slices.IndexFunc(revs, func(r *state.Revocation) bool { return r.Name == "mail" })
	if len(revs) != 2 || i < 0 || revs[i].Serial != mail.Serial || revs[i].Reason != pki.ReasonCessationOfOperation || !revs[i].NotAfter.Equal(mail.NotAfter) || snap.CRLNumbers["internal"] != 2 {
		t.Errorf("revocations = %+v, CRL number %d", revs, snap.CRLNumbers["internal"])
	}
	if rows := revokedRows(t, db, "mail"); !slices.Equal(rows, []string{"revoked mail -> ops [pending]"}) {
		t.Errorf("revoked rows of mail = %q", rows)
	}
	if p := Plan(cfg, snap, nil, now); p.HasChanges() {
		t.Errorf("Plan() after everything = %q, want no changes", describe(p))
	}
}

// revokedRows are the rowSummary of name's revoked events.
func revokedRows(t *testing.T, db *state.DB, name string) []string {
	t.Helper()
	rows := listRows(t, db, state.NotificationFilter{Certificate: name})
	return rowSummary(slices.DeleteFunc(rows, func(n *state.Notification) bool { return n.Event != "revoked" }))
}

// A local CA's new publication URLs (a server block added) replace its
// certificates, naming the URLs; the new ones carry them.
func TestPlanCAURLsReplace(t *testing.T) {
	ctx := context.Background()
	cfg := notifyConfig(t.TempDir(), "https://hooks.example.com/x")
	db := openQueue(t)
	deps := Deps{Store: db, Notifications: db, Now: func() time.Time { return t0 }, Exec: (&recExec{}).exec}
	snap, _ := db.Snapshot(ctx)
	if _, err := Apply(ctx, Plan(cfg, snap, nil, t0), cfg, deps); err != nil {
		t.Fatal(err)
	}
	is := cfg.Issuers["internal"]
	is.IssuerURL, is.OCSPURL, is.CRLURL = "https://pki.example.com/.well-known/pki/ca/internal", "https://pki.example.com/.well-known/pki/ocsp/internal", "https://pki.example.com/.well-known/pki/crl/internal"
	snap, _ = db.Snapshot(ctx)
	p := Plan(cfg, snap, nil, t0)
	var www *Change
	for i := range p.Changes {
		if p.Changes[i].Address == "certificate.www" {
			www = &p.Changes[i]
		}
	}
	if www == nil || www.Action != ActionReplace || www.Reason != "issuer_url, ocsp_url, crl_url changed" || len(www.Diffs) != 3 ||
		www.Diffs[2] != (AttrDiff{Attribute: AttrCRLURL, Before: `""`, After: `"` + is.CRLURL + `"`, Forces: true}) {
		t.Fatalf("Plan() after new URLs: www = %+v", www)
	}
	if p.Summary.Replace != len(cfg.Certificates) {
		t.Errorf("Summary = %+v, want every certificate replaced", p.Summary)
	}
	if _, err := Apply(ctx, p, cfg, deps); err != nil {
		t.Fatal(err)
	}
	rec, err := db.Certificate(ctx, "www")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.ParseCertificatePEM(rec.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(leaf.CRLDistributionPoints, []string{is.CRLURL}) || !slices.Equal(leaf.OCSPServer, []string{is.OCSPURL}) || rec.CRLURL != is.CRLURL {
		t.Errorf("new leaf: CRL %q OCSP %q, record CRL %q", leaf.CRLDistributionPoints, leaf.OCSPServer, rec.CRLURL)
	}
	snap, _ = db.Snapshot(ctx)
	if p := Plan(cfg, snap, nil, t0); p.HasChanges() {
		t.Errorf("Plan() after the replacement = %q", describe(p))
	}
}

// certctl revoke of an ACME certificate: revoked at the CA with the
// given reason, then recorded as a local CA's would be; a CA that refuses
// leaves the state as it was.
func TestRevokeACME(t *testing.T) {
	ctx := context.Background()
	cfg := applyConfig(t.TempDir())
	cfg.Issuers["le"] = acmeIssuerSpec("le")
	cfg.Certificates["shop"] = acmeCert("shop", "le")
	db := openQueue(t)
	acct := acmeAccount(cfg.Issuers["le"])
	acct.KeySealed, _ = db.Seal([]byte("account key")) // never used: deps.Issuers signs
	if err := db.PutIssuer(ctx, acct); err != nil {
		t.Fatal(err)
	}
	le := newSigningIssuer(t)
	deps := Deps{Store: db, Notifications: db, Now: func() time.Time { return t0 }, Exec: (&recExec{}).exec, Issuers: map[string]Issuer{"le": le}}
	snap, _ := db.Snapshot(ctx)
	if _, err := Apply(ctx, Plan(cfg, snap, nil, t0), cfg, deps); err != nil {
		t.Fatal(err)
	}
	snap, _ = db.Snapshot(ctx)
	serial := snap.Certificates["shop"].Serial

	p, err := PlanRevoke(cfg, snap, t0, "shop", "superseded")
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(p); !slices.Equal(got, []string{"x certificate.shop: certctl revoke (superseded): serial " + serial + " revoked at issuer.le; the next apply issues a new certificate"}) {
		t.Errorf("PlanRevoke() = %q", got)
	}
	refused := Deps{Store: db, Notifications: db, Now: deps.Now, Issuers: map[string]Issuer{"le": failingIssuer{errors.New("unauthorized")}}}
	if res, err := Apply(ctx, p, cfg, refused); err == nil || res.Failed != 1 {
		t.Errorf("Apply(revoke) with an issuer that cannot revoke = %+v, %v", res, err)
	}
	if snap, _ := db.Snapshot(ctx); !snap.Certificates["shop"].RevokedAt.IsZero() || len(snap.Revocations) != 0 {
		t.Fatalf("a failed revocation changed the state: %+v", snap.Revocations)
	}

	if res, err := Apply(ctx, p, cfg, deps); err != nil || res.Revoked != 1 {
		t.Fatalf("Apply(revoke) = %+v, %v", res, err)
	}
	if got, ok := le.revoked[serial]; !ok || got != pki.ReasonSuperseded {
		t.Errorf("the CA revoked %v, want serial %s with reason superseded", le.revoked, serial)
	}
	snap, _ = db.Snapshot(ctx)
	if rec := snap.Certificates["shop"]; rec.RevokedReason != pki.ReasonSuperseded || !rec.RevokedAt.Equal(t0) {
		t.Errorf("record = revoked at %v reason %d", rec.RevokedAt, rec.RevokedReason)
	}
	if revs := snap.Revocations["le"]; len(revs) != 1 || revs[0].Serial != serial {
		t.Errorf("revocations = %+v", snap.Revocations)
	}
	if got := describe(Plan(cfg, snap, nil, t0)); !slices.Contains(got, "R certificate.shop: revoked at "+ts(t0)+" (superseded): a new certificate is needed") {
		t.Errorf("Plan() after the revocation = %q", got)
	}
}
