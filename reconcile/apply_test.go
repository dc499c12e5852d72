package reconcile

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// applyConfig is testConfig with commands on the local target and a second
// local target with its own modes.
func applyConfig(dir string) *spec.Config {
	cfg := testConfig(dir)
	cfg.Targets["local"].Validate = "nginx -t"
	cfg.Targets["local"].Reload = "nginx -s reload"
	cfg.Targets["strict"] = &spec.Target{Type: "file", Name: "strict", Dir: filepath.Join(dir, "strict"), FileMode: 0o640, KeyMode: 0o400}
	cfg.Certificates["mail"].Targets = []string{"strict"}
	// Agent targets are the plan tests' business; here they would only
	// add the same note to every plan.
	cfg.Certificates[`sites["api"]`].Targets = []string{"local"}
	return cfg
}

type applyEnv struct {
	t     *testing.T
	cfg   *spec.Config
	store *memStore
	exec  *recExec
	now   time.Time

	mu       sync.Mutex
	progress [][3]int
}

func newApplyEnv(t *testing.T) *applyEnv {
	dir := t.TempDir()
	e := &applyEnv{t: t, cfg: applyConfig(dir), store: newMemStore(), exec: &recExec{}, now: t0}
	return e
}

func (e *applyEnv) snapshot() *state.Snapshot {
	snap, err := e.store.Snapshot(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return snap
}

// plan refreshes and plans at e.now.
func (e *applyEnv) plan() *ActionPlan {
	snap := e.snapshot()
	obs, err := Refresh(context.Background(), e.cfg, snap)
	if err != nil {
		e.t.Fatalf("Refresh: %v", err)
	}
	return Plan(e.cfg, snap, obs, e.now)
}

func (e *applyEnv) apply(p *ActionPlan, issuers map[string]Issuer) (*Result, error) {
	e.progress = nil
	return Apply(context.Background(), p, e.cfg, Deps{
		Store:       e.store,
		Issuers:     issuers,
		Now:         func() time.Time { return e.now },
		Parallelism: 3,
		Exec:        e.exec.exec,
		Progress: func(done, total, failed int) {
			e.mu.Lock()
			e.progress = append(e.progress, [3]int{done, total, failed})
			e.mu.Unlock()
		},
	})
}

func (e *applyEnv) mustApply() *Result {
	e.t.Helper()
	res, err := e.apply(e.plan(), nil)
	if err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
	return res
}

func (e *applyEnv) caPool() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, is := range e.snapshot().Issuers {
		if !pool.AppendCertsFromPEM(is.CertPEM) {
			e.t.Fatalf("issuer %s has no certificate", is.Name)
		}
	}
	return pool
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestApplyFromEmptyState(t *testing.T) {
	e := newApplyEnv(t)
	out := filepath.Join(e.cfg.Dir, "out")
	// Committed before deployed: when a target's validate command runs,
	// every certificate file in the directory is already in the state.
	e.exec.hook = func(dir, command string) error {
		if command != "nginx -t" {
			return nil
		}
		snap := e.snapshot()
		fps := map[string]bool{}
		for _, r := range snap.Certificates {
			fps[r.Fingerprint] = true
		}
		ents, _ := os.ReadDir(dir)
		for _, ent := range ents {
			if n := ent.Name(); strings.HasSuffix(n, ".crt") && !strings.Contains(n, "chain") {
				c, err := pki.ParseCertificatePEM(readFile(t, filepath.Join(dir, n)))
				if err != nil {
					return err
				}
				if !fps[pki.Fingerprint(c)] {
					t.Errorf("%s was deployed before its certificate was committed", n)
				}
			}
		}
		return nil
	}

	p := e.plan()
	res := e.mustApply()
	if want := (Result{Created: 4}); res.Created != want.Created || res.Failed != 0 || len(res.Errors) != 0 {
		t.Fatalf("Apply() = %+v, want 4 created and no failure", res)
	}
	if got := e.progress[len(e.progress)-1]; got != [3]int{4, 4, 0} || len(e.progress) != len(p.Changes) {
		t.Errorf("Progress calls = %v, want one per change ending with [4 4 0]", e.progress)
	}

	snap := e.snapshot()
	ca := snap.Issuers["internal"]
	if ca == nil || ca.Digest != IssuerDigest(e.cfg.Issuers["internal"]) || !bytes.HasPrefix(ca.KeySealed, sealPrefix) {
		t.Fatalf("issuer record = %+v, want the CA with a sealed key", ca)
	}
	pool := e.caPool()
	for name, c := range e.cfg.Certificates {
		rec := snap.Certificates[name]
		if rec == nil || rec.Status != state.StatusIssued {
			t.Fatalf("record %s = %+v, want issued", name, rec)
		}
		leaf, err := pki.ParseCertificatePEM(rec.CertPEM)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Fingerprint != pki.Fingerprint(leaf) || rec.Serial != pki.SerialHex(leaf) || !rec.NotAfter.Equal(leaf.NotAfter) {
			t.Errorf("record %s does not describe its certificate", name)
		}
		if rec.Digest != CertDigest(c, e.cfg) {
			t.Errorf("record %s digest = %s, want CertDigest", name, rec.Digest)
		}
		if bytes.Contains(rec.KeySealed, []byte("PRIVATE KEY")) || !bytes.HasPrefix(rec.KeySealed, sealPrefix) {
			t.Errorf("record %s holds its key in clear", name)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("certificate %s does not verify against the CA: %v", name, err)
		}
		for _, dns := range c.DNSNames {
			if !slices.Contains(leaf.DNSNames, dns) {
				t.Errorf("certificate %s lacks %s", name, dns)
			}
		}
	}

	// Files, modes, and a key that matches its certificate.
	for _, tt := range []struct {
		dir, stem        string
		fileMode, keyMod fs.FileMode
	}{
		{out, "www", 0o644, 0o600},
		{out, "sites.api", 0o644, 0o600},
		{filepath.Join(e.cfg.Dir, "strict"), "mail", 0o640, 0o400},
	} {
		for _, suffix := range fileSuffixes {
			want := tt.fileMode
			if suffix == ".key" {
				want = tt.keyMod
			}
			if got := mode(t, filepath.Join(tt.dir, tt.stem+suffix)); got != want {
				t.Errorf("mode of %s%s = %o, want %o", tt.stem, suffix, got, want)
			}
		}
		crt := readFile(t, filepath.Join(tt.dir, tt.stem+".crt"))
		chain := readFile(t, filepath.Join(tt.dir, tt.stem+".chain.crt"))
		full := readFile(t, filepath.Join(tt.dir, tt.stem+".fullchain.crt"))
		if !bytes.Equal(full, append(slices.Clone(crt), chain...)) {
			t.Errorf("%s.fullchain.crt is not leaf + chain", tt.stem)
		}
		key, err := pki.ParsePrivateKeyPEM(readFile(t, filepath.Join(tt.dir, tt.stem+".key")))
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := pki.ParseCertificatePEM(crt)
		if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
			t.Errorf("%s.key does not match %s.crt", tt.stem, tt.stem)
		}
		ents, _ := os.ReadDir(tt.dir)
		for _, ent := range ents {
			if strings.HasPrefix(ent.Name(), ".") {
				t.Errorf("temporary file %s left behind", ent.Name())
			}
		}
	}

	// validate then reload, once per deployment to the target that has them.
	if got := e.exec.got(); !slices.Equal(got, []string{"nginx -t", "nginx -s reload", "nginx -t", "nginx -s reload"}) {
		t.Errorf("commands run = %q, want validate then reload for www and sites.api", got)
	}
	// Each issued certificate: one commit without deployments, then one
	// recording them.
	calls := e.store.calls()
	first := slices.IndexFunc(calls, func(s string) bool { return strings.HasPrefix(s, "put www ") })
	if first < 0 || !strings.HasSuffix(calls[first], "deployed=[]") || !slices.ContainsFunc(calls[first+1:], func(s string) bool {
		return strings.HasPrefix(s, "put www ") && strings.HasSuffix(s, "deployed=[local]")
	}) {
		t.Errorf("store calls = %q, want www committed, then its deployment recorded", calls)
	}
	if calls[0] != "put-issuer internal" {
		t.Errorf("first store call = %q, want the CA", calls[0])
	}

	// Nothing left to do.
	if p := e.plan(); p.HasChanges() {
		t.Errorf("Plan after Apply = %v, want no changes", describe(p))
	}
}

// failingIssuer fails every request.
type failingIssuer struct{ err error }

func (f failingIssuer) Issue(context.Context, pki.IssueRequest) (*pki.Issued, error) {
	return nil, f.err
}

func TestApplyFailureIsolation(t *testing.T) {
	e := newApplyEnv(t)
	e.cfg.Issuers["bad"] = &spec.Issuer{Type: "acme", Name: "bad"}
	e.cfg.Certificates["broken"] = &spec.Certificate{
		Name: "broken", Label: "broken", CommonName: "broken.example.com", Issuer: "bad", Policy: "standard",
		Owner: "alice", Team: "platform", Targets: []string{"local"}, KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
	}
	e.store.failPut = map[string]error{"mail": errors.New("disk full")}
	issuers := map[string]Issuer{"bad": failingIssuer{errors.New("CA said no")}}

	res, err := e.apply(e.plan(), issuers)
	if err == nil {
		t.Fatal("Apply() error = nil, want the failures")
	}
	if res.Created != 3 || res.Failed != 2 {
		t.Errorf("Apply() = %+v, want 3 created (CA, www, sites) and 2 failed", res)
	}
	for _, want := range []string{"issuing certificate.broken: CA said no", "issuing certificate.mail: committing: disk full"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Apply() error = %v, want it to contain %q", err, want)
		}
	}
	var ce *ChangeError
	if !errors.As(err, &ce) || ce.Address != "certificate.broken" {
		t.Errorf("Apply() error does not unwrap to the first ChangeError: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.Dir, "strict", "mail.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("mail was deployed although its commit failed")
	}
	if _, err := os.Stat(filepath.Join(e.cfg.Dir, "out", "www.crt")); err != nil {
		t.Errorf("www was not deployed: %v", err)
	}

	rec := e.store.record(t, "broken")
	if rec.Status != state.StatusFailed || rec.Failures != 1 || !rec.NextAttemptAt.Equal(t0.Add(time.Minute)) ||
		rec.LastError != "issuing certificate.broken: CA said no" || rec.Owner != "alice" {
		t.Errorf("record broken = %+v, want failed once, retry in 1m", rec)
	}

	// Within the backoff: a note, not a change.
	e.store.failPut = nil
	e.now = t0.Add(30 * time.Second)
	p := e.plan()
	if got := describe(p); !slices.Equal(got, []string{
		"+ certificate.mail: not in the state",
		"note retry_wait certificate.broken: retry after 2026-06-01T00:01:00Z: issuing certificate.broken: CA said no",
	}) {
		t.Errorf("Plan(in backoff) = %q", got)
	}
	// After it: retried, and the backoff grows.
	e.now = t0.Add(time.Minute)
	p = e.plan()
	if got := describe(p); len(got) != 2 || !strings.Contains(got[0], "+ certificate.broken: no certificate has been issued yet; retrying, last attempt failed: issuing certificate.broken: CA said no") {
		t.Errorf("Plan(after backoff) = %q", got)
	}
	if _, err := e.apply(p, issuers); err == nil {
		t.Fatal("second Apply() error = nil")
	}
	if rec := e.store.record(t, "broken"); rec.Failures != 2 || !rec.NextAttemptAt.Equal(e.now.Add(10*time.Minute)) {
		t.Errorf("record broken after 2nd failure = %d failures, next %v; want 2, +10m", rec.Failures, rec.NextAttemptAt)
	}
}

func TestApplyRenewAppendsBoundedHistory(t *testing.T) {
	e := newApplyEnv(t)
	e.mustApply()
	before := e.store.record(t, "www")

	// Fill the history to its bound: the renewal must drop the oldest.
	for i := range state.MaxHistory {
		before.History = append(before.History, state.Version{Serial: string(rune('a' + i)), Reason: "renew"})
	}
	if err := e.store.PutCertificate(context.Background(), before); err != nil {
		t.Fatal(err)
	}

	e.now = t0.Add(61 * 24 * time.Hour)
	p := e.plan()
	if p.Summary.Renew != 3 {
		t.Fatalf("Plan(61 days later) = %v, want 3 renewals", describe(p))
	}
	res, err := e.apply(p, nil)
	if err != nil || res.Renewed != 3 {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	after := e.store.record(t, "www")
	if after.Serial == before.Serial || after.Fingerprint == before.Fingerprint {
		t.Fatalf("renewal kept the old certificate")
	}
	if len(after.History) != state.MaxHistory {
		t.Fatalf("len(History) = %d, want %d", len(after.History), state.MaxHistory)
	}
	last := after.History[len(after.History)-1]
	if last.Serial != before.Serial || last.Fingerprint != before.Fingerprint || last.Reason != "renew" || !last.SupersededAt.Equal(e.now) {
		t.Errorf("last history entry = %+v, want the old certificate, reason renew", last)
	}
	if after.History[0].Serial != "b" {
		t.Errorf("oldest history entry = %q, want the oldest dropped", after.History[0].Serial)
	}
	leaf, _ := pki.ParseCertificatePEM(readFile(t, filepath.Join(e.cfg.Dir, "out", "www.crt")))
	if pki.Fingerprint(leaf) != after.Fingerprint || after.Deployments["local"].Fingerprint != after.Fingerprint {
		t.Errorf("renewed certificate not deployed")
	}
}

func TestApplyValidateFailureRestoresFiles(t *testing.T) {
	e := newApplyEnv(t)
	e.mustApply()
	oldCrt := readFile(t, filepath.Join(e.cfg.Dir, "out", "www.crt"))
	oldKey := readFile(t, filepath.Join(e.cfg.Dir, "out", "www.key"))

	e.cfg.Certificates["www"].DNSNames = []string{"www.example.com"}
	e.exec = &recExec{fail: map[string]error{"nginx -t": errors.New(`"nginx -t": exit status 1: emerg`)}}
	res, err := e.apply(e.plan(), nil)
	if err == nil || res.Replaced != 1 || res.Failed != 1 {
		t.Fatalf("Apply() = %+v, %v; want the replace done and its deploy failed", res, err)
	}
	if !strings.Contains(err.Error(), "deploying certificate.www to target.local: validate failed (previous files restored)") {
		t.Errorf("Apply() error = %v", err)
	}
	if got := e.exec.got(); !slices.Equal(got, []string{"nginx -t"}) {
		t.Errorf("commands = %q, want validate only (no reload after a failed validate)", got)
	}
	if !bytes.Equal(readFile(t, filepath.Join(e.cfg.Dir, "out", "www.crt")), oldCrt) ||
		!bytes.Equal(readFile(t, filepath.Join(e.cfg.Dir, "out", "www.key")), oldKey) {
		t.Errorf("files not restored after a failed validate")
	}
	if m := mode(t, filepath.Join(e.cfg.Dir, "out", "www.key")); m != 0o600 {
		t.Errorf("restored key mode = %o", m)
	}
	rec := e.store.record(t, "www")
	dep := rec.Deployments["local"]
	if rec.Status != state.StatusIssued || dep.Fingerprint == rec.Fingerprint || !strings.Contains(dep.LastError, "validate failed") {
		t.Errorf("record = status %s, deployment %+v; want issued, deployment of the old certificate with the error", rec.Status, dep)
	}
	// The next plan deploys again, naming the failure.
	e.exec = &recExec{}
	if got := describe(e.plan()); len(got) != 1 || !strings.HasPrefix(got[0], "> certificate.www -> local: last deploy to target local failed: validate failed") {
		t.Errorf("Plan() after failed deploy = %q", got)
	}
	if res := e.mustApply(); res.Deployed != 1 {
		t.Errorf("Apply() = %+v, want 1 deployed", res)
	}
	if p := e.plan(); p.HasChanges() {
		t.Errorf("Plan() = %q, want no changes", describe(p))
	}
}

func TestApplyUpdateForgetDeployDrift(t *testing.T) {
	e := newApplyEnv(t)
	e.mustApply()
	e.cfg.Certificates["www"].Owner = "bob"
	delete(e.cfg.Certificates, "mail")
	apiKey := filepath.Join(e.cfg.Dir, "out", "sites.api.key")
	if err := os.Remove(apiKey); err != nil {
		t.Fatal(err)
	}
	p := e.plan()
	if got := describe(p); !slices.Equal(got, []string{
		"- certificate.mail: not in the configuration: removed from the state, not revoked",
		`> certificate.sites["api"] -> local: drift: files missing in target local`,
		"~ certificate.www: owner changed (no new certificate)",
	}) {
		t.Fatalf("Plan() = %q", got)
	}
	res, err := e.apply(p, nil)
	if err != nil || res.Updated != 1 || res.Forgotten != 1 || res.Deployed != 1 {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	if rec := e.store.record(t, "www"); rec.Owner != "bob" {
		t.Errorf("www owner = %q, want bob", rec.Owner)
	}
	if rec := e.store.record(t, "mail"); rec != nil {
		t.Errorf("mail still in the state")
	}
	if m := mode(t, apiKey); m != 0o600 {
		t.Errorf("redeployed key mode = %o", m)
	}
	if p := e.plan(); p.HasChanges() {
		t.Errorf("Plan() = %q, want no changes", describe(p))
	}
}

func TestApplyIssuerReplace(t *testing.T) {
	e := newApplyEnv(t)
	e.mustApply()
	oldCA := e.snapshot().Issuers["internal"].CertPEM
	e.cfg.Issuers["internal"].CommonName = "Rotated CA"
	p := e.plan()
	if p.Summary.Replace != 4 {
		t.Fatalf("Plan() = %q, want the CA and 3 certificates replaced", describe(p))
	}
	res, err := e.apply(p, nil)
	if err != nil || res.Replaced != 4 {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	snap := e.snapshot()
	if bytes.Equal(snap.Issuers["internal"].CertPEM, oldCA) {
		t.Fatal("CA not replaced")
	}
	pool := e.caPool()
	for name, rec := range snap.Certificates {
		leaf, _ := pki.ParseCertificatePEM(rec.CertPEM)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s does not verify against the new CA: %v", name, err)
		}
		if len(rec.History) != 1 || rec.History[0].Reason != "replace" {
			t.Errorf("%s history = %+v, want one replace", name, rec.History)
		}
	}
	if p := e.plan(); p.HasChanges() {
		t.Errorf("Plan() = %q, want no changes", describe(p))
	}
}

func TestApplyStalePlanChangeIsNotDoneTwice(t *testing.T) {
	e := newApplyEnv(t)
	p := e.plan()
	e.mustApply()
	calls := len(e.store.calls())
	res, err := e.apply(p, nil)
	if !errors.Is(err, ErrStale) || res.Failed != len(p.Changes) || res.Created != 0 {
		t.Fatalf("Apply(stale plan) = %+v, %v; want every change refused as stale", res, err)
	}
	if got := e.store.calls()[calls:]; len(got) != 0 {
		t.Errorf("Apply(stale plan) wrote to the state: %q", got)
	}
}

func TestApplyCancelled(t *testing.T) {
	e := newApplyEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Apply(ctx, e.plan(), e.cfg, Deps{Store: e.store, Now: func() time.Time { return t0 }, Exec: e.exec.exec})
	if !errors.Is(err, context.Canceled) || res.Failed == 0 {
		t.Errorf("Apply(cancelled) = %+v, %v", res, err)
	}
	for _, rec := range e.snapshot().Certificates {
		if rec.Status == state.StatusFailed {
			t.Errorf("cancelled apply recorded %s as failed (a backoff for an interruption)", rec.Name)
		}
	}
}

func TestShellExec(t *testing.T) {
	dir := t.TempDir()
	run := ShellExec(5 * time.Second)
	if err := run(context.Background(), dir, "echo ok > ran"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err != nil {
		t.Errorf("command did not run in the target dir: %v", err)
	}
	err := run(context.Background(), dir, "echo 'nginx: bad config' >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "nginx: bad config") {
		t.Errorf("ShellExec(failing) = %v, want status and output", err)
	}
	err = ShellExec(100*time.Millisecond)(context.Background(), dir, "sleep 5")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("ShellExec(slow) = %v, want a timeout", err)
	}
}

// A new local CA signs while its record commits; no certificate it signed
// is committed before it, even when that commit is slow.
func TestApplyCACommitsFirst(t *testing.T) {
	e := newApplyEnv(t)
	e.store.putIssuerDelay = 50 * time.Millisecond
	if _, err := e.apply(e.plan(), nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(e.store.log) == 0 || e.store.log[0] != "put-issuer internal" {
		t.Errorf("store log = %q, want the CA's record first", e.store.log)
	}
}

// When the new CA's record fails to commit, the certificates it signed
// meanwhile fail with it and none is committed; the next apply starts
// over.
func TestApplyCACommitFails(t *testing.T) {
	e := newApplyEnv(t)
	e.store.putIssuerDelay = 50 * time.Millisecond
	e.store.failPutIssuer = map[string]error{"internal": errors.New("disk full")}
	res, err := e.apply(e.plan(), nil)
	if err == nil {
		t.Fatal("Apply() error = nil, want the CA's failure")
	}
	for _, want := range []string{
		"creating issuer.internal: committing: disk full",
		"issuing certificate.www: issuer.internal failed in this apply",
		"issuing certificate.mail: issuer.internal failed in this apply",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Apply() error = %v, want it to contain %q", err, want)
		}
	}
	if res.Created != 0 || res.Failed != 4 {
		t.Errorf("Apply() = %+v, want nothing created and 4 failed (the CA and 3 certificates)", res)
	}
	for _, l := range e.store.log {
		if strings.HasPrefix(l, "put ") {
			t.Errorf("store log has %q: a certificate committed without its CA", l)
		}
	}
	if _, err := os.Stat(filepath.Join(e.cfg.Dir, "out", "www.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("www was deployed although its CA failed")
	}

	e.store.failPutIssuer = nil
	p := e.plan()
	if got := describe(p); !slices.Contains(got, "+ issuer.internal: local CA is not in the state") {
		t.Errorf("Plan after the failure = %q, want the CA created again", got)
	}
	if res, err := e.apply(p, nil); err != nil || res.Created != 4 {
		t.Errorf("second Apply() = %+v, %v; want the CA and 3 certificates created", res, err)
	}
}

// subject_common_name = false: the leaf's subject is empty, its common
// name a SAN; the record says so; turning it back on replaces the
// certificate, naming subject_common_name as the forcing attribute.
func TestApplySubjectCommonName(t *testing.T) {
	e := newApplyEnv(t)
	e.cfg.Policies["standard"].OmitSubjectCommonName = true
	e.mustApply()
	rec := e.store.record(t, "www")
	leaf, err := pki.ParseCertificatePEM(rec.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.Subject.Names) != 0 || !rec.NoSubjectCommonName {
		t.Errorf("subject %q, record NoSubjectCommonName %v; want an empty subject, recorded", leaf.Subject, rec.NoSubjectCommonName)
	}
	if want := []string{"www.example.com", "example.com"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, want)
	}
	if got := describe(e.plan()); len(got) != 0 {
		t.Errorf("plan after apply = %q, want no changes", got)
	}

	e.cfg.Policies["standard"].OmitSubjectCommonName = false
	p := e.plan()
	var replaced []string
	for _, ch := range p.Changes {
		if ch.Action != ActionReplace {
			continue
		}
		replaced = append(replaced, ch.Name)
		if !slices.Equal(ch.Forces, []string{AttrSubjectCommonName}) || len(ch.Diffs) != 1 || ch.Diffs[0].Before != "false" || ch.Diffs[0].After != "true" {
			t.Errorf("%s: forces %q, diffs %+v; want subject_common_name false -> true", ch.Address, ch.Forces, ch.Diffs)
		}
	}
	slices.Sort(replaced)
	if want := []string{`sites["api"]`, "www"}; !slices.Equal(replaced, want) {
		t.Errorf("replaced %q, want %q (the standard policy's)", replaced, want)
	}
	e.mustApply()
	leaf, _ = pki.ParseCertificatePEM(e.store.record(t, "www").CertPEM)
	if leaf == nil || leaf.Subject.CommonName != "www.example.com" || e.store.record(t, "www").NoSubjectCommonName {
		t.Errorf("after replace: leaf %v, want CN www.example.com", leaf)
	}
}

// callIssuer records which way Apply asked it to sign.
type callIssuer struct {
	ca *pki.LocalCA

	mu         sync.Mutex
	csrs, keys int
	keyPubs    []crypto.PublicKey
}

func (c *callIssuer) Issue(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error) {
	c.mu.Lock()
	c.csrs++
	c.mu.Unlock()
	return c.ca.Issue(ctx, req)
}

type keyCallIssuer struct{ *callIssuer }

func (c keyCallIssuer) IssueForKey(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error) {
	c.mu.Lock()
	c.keys++
	c.keyPubs = append(c.keyPubs, req.PublicKey)
	c.mu.Unlock()
	if req.CSR != nil {
		return nil, errors.New("a CSR was built for IssueForKey")
	}
	return c.ca.IssueForKey(ctx, req)
}

// An issuer that signs keys directly gets the generated key, no CSR, and
// the key stored is the one certified; any other gets a CSR.
func TestApplySignsKeysDirectly(t *testing.T) {
	ca, err := pki.NewLocalCA(pki.CAConfig{Name: "internal", KeyAlgorithm: "ecdsa-p256"}, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, direct := range []bool{true, false} {
		e := newApplyEnv(t)
		ci := &callIssuer{ca: ca}
		var iss Issuer = ci
		if direct {
			iss = keyCallIssuer{ci}
		}
		res, err := e.apply(e.plan(), map[string]Issuer{"internal": iss})
		if err != nil || res.Failed != 0 {
			t.Fatalf("direct=%v: Apply: %v (%+v)", direct, err, res)
		}
		n := len(e.cfg.Certificates)
		if direct && (ci.keys != n || ci.csrs != 0) || !direct && (ci.csrs != n || ci.keys != 0) {
			t.Errorf("direct=%v: %d IssueForKey, %d Issue calls; want %d of the one, none of the other", direct, ci.keys, ci.csrs, n)
		}
		rec := e.store.record(t, "www")
		leaf, _ := pki.ParseCertificatePEM(rec.CertPEM)
		keyPEM, err := e.store.Unseal(rec.KeySealed)
		if err != nil {
			t.Fatal(err)
		}
		key, err := pki.ParsePrivateKeyPEM(keyPEM)
		if err != nil || leaf == nil || !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
			t.Errorf("direct=%v: the stored key does not match the certificate (%v)", direct, err)
		}
	}
}
