package agent

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

const agentTargetsHCL = `
target "file" "t1" {
  agent = agent.web1
  dir   = "tls"
}
target "file" "t2" {
  agent = agent.web2
  dir   = "tls"
}
target "file" "here" {
  dir = "out"
}
`

func serialOf(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	c, err := pki.ParseCertificatePEM(b)
	if err != nil {
		return ""
	}
	return pki.SerialHex(c)
}

// deployedOn reports whether rec's current certificate is recorded as
// deployed to target with no error.
func deployedOn(rec *state.Certificate, target string) bool {
	if rec == nil || rec.Fingerprint == "" {
		return false
	}
	d, ok := rec.Deployments[target]
	return ok && d.Fingerprint == rec.Fingerprint && d.LastError == "" && d.FilesDigest != ""
}

func mode(t testing.TB, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestAgentsPullTheirDeploymentsKeysStayOnHost(t *testing.T) {
	ts := startServer(t, baseHCL()+agentTargetsHCL+certHCL("www", "t1")+certHCL("api", "t2")+certHCL("shared", "t1", "t2")+certHCL("local", "here"))
	_, dir1 := startAgent(t, ts, "web1", nil)
	_, dir2 := startAgent(t, ts, "web2", nil)

	waitFor(t, "www deployed on web1 and recorded", func() bool { return deployedOn(ts.record(t, "www"), "t1") })
	waitFor(t, "api deployed on web2 and recorded", func() bool { return deployedOn(ts.record(t, "api"), "t2") })

	// The key was generated on web1: the state has none, only its CSR's
	// certificate; the agent's key file and the deployed key are 0600.
	www := ts.record(t, "www")
	if len(www.KeySealed) != 0 || www.KeyAgent != "web1" || www.CSR != nil {
		t.Fatalf("www record: key sealed %d bytes, key agent %q, csr %v; want no key, agent web1, no pending CSR", len(www.KeySealed), www.KeyAgent, www.CSR)
	}
	if d := www.Deployments["t1"]; d.Agent != "web1" || d.ReportedAt.IsZero() {
		t.Errorf("www deployment to t1 = %+v, want reported by web1", d)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(dir1, "keys", "www.key"):      0o600,
		filepath.Join(dir1, "keys"):                 0o700,
		filepath.Join(dir1, "tls", "www.key"):       0o600,
		filepath.Join(dir1, "tls", "www.crt"):       0o644,
		filepath.Join(dir1, "tls", "www.chain.crt"): 0o644,
	} {
		if got := mode(t, path); got != want {
			t.Errorf("mode of %s = %o, want %o", path, got, want)
		}
	}
	checkKeyMatches(t, filepath.Join(dir1, "tls", "www.key"), filepath.Join(dir1, "tls", "www.crt"))
	if got, want := serialOf(t, filepath.Join(dir1, "tls", "www.crt")), www.Serial; got != want {
		t.Errorf("web1's www.crt serial = %s, want the state's %s", got, want)
	}

	// Each agent has only its own certificates.
	for _, p := range []string{filepath.Join(dir1, "tls", "api.crt"), filepath.Join(dir2, "tls", "www.crt"),
		filepath.Join(dir1, "tls", "shared.crt"), filepath.Join(dir2, "tls", "shared.crt")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists; it belongs to another agent (or to none)", p)
		}
	}
	// A certificate on two agents' targets keeps its key in the state and
	// is never sent: both agents are told why.
	doc := getDoc(t, ts, "web1")
	var sawShared bool
	for _, d := range doc.Deployments {
		if d.Certificate == "shared" {
			sawShared = true
			if d.Error == "" || d.CertPEM != "" {
				t.Errorf("web1's shared deployment = %+v, want an error and no certificate", d)
			}
		}
		if d.Certificate == "api" {
			t.Errorf("web1's view has web2's certificate api")
		}
	}
	if !sawShared {
		t.Errorf("web1's view lacks certificate shared")
	}
	// Server-side keys stay for local targets.
	if rec := ts.record(t, "local"); rec == nil || len(rec.KeySealed) == 0 || rec.KeyAgent != "" || !deployedOn(rec, "here") {
		t.Errorf("local certificate: %+v, want a sealed key deployed to target here", rec)
	}

	// The plan sees the agents' deployments: nothing awaits www or api.
	plan := ts.plan(t)
	for _, n := range plan.Notes {
		if n.Address == "certificate.www" || n.Address == "certificate.api" {
			t.Errorf("plan note %+v after the agents deployed", n)
		}
	}

	// Renewal: when it is due, the plan awaits web1's CSR; web1 makes a
	// new key, the server signs its CSR and web1 deploys it.
	oldSerial := www.Serial
	oldKey, _ := os.ReadFile(filepath.Join(dir1, "keys", "www.key"))
	ts.offset.Store(int64(80 * 24 * time.Hour))
	ts.watcher.Trigger()
	waitFor(t, "www renewed and redeployed on web1", func() bool {
		rec := ts.record(t, "www")
		return rec.Serial != oldSerial && deployedOn(rec, "t1") && serialOf(t, filepath.Join(dir1, "tls", "www.crt")) == rec.Serial
	})
	newKey, _ := os.ReadFile(filepath.Join(dir1, "keys", "www.key"))
	if bytes.Equal(oldKey, newKey) {
		t.Errorf("the renewal kept the old key")
	}
	if _, err := os.Stat(filepath.Join(dir1, "keys", "www.next.key")); err == nil {
		t.Errorf("keys/www.next.key left behind after the renewal")
	}
	checkKeyMatches(t, filepath.Join(dir1, "tls", "www.key"), filepath.Join(dir1, "tls", "www.crt"))

	// Drift: a changed file on the host is put back by the agent.
	crt := filepath.Join(dir1, "tls", "www.crt")
	want, _ := os.ReadFile(crt)
	if err := os.WriteFile(crt, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web1 repairs the drift", func() bool {
		got, _ := os.ReadFile(crt)
		return bytes.Equal(got, want)
	})

	// Re-keying: the host's keys are gone; the agent sends a CSR unasked
	// and deploys the certificate for its new key.
	before := ts.record(t, "www")
	for _, p := range []string{filepath.Join(dir1, "keys", "www.key"), filepath.Join(dir1, "tls", "www.key")} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "www re-keyed and redeployed on web1", func() bool {
		rec := ts.record(t, "www")
		return rec.Serial != before.Serial && deployedOn(rec, "t1") && serialOf(t, crt) == rec.Serial
	})
	checkKeyMatches(t, filepath.Join(dir1, "tls", "www.key"), crt)
	if rec := ts.record(t, "www"); len(rec.History) == 0 || rec.History[len(rec.History)-1].Reason != "renew" {
		t.Errorf("the re-keyed certificate's history = %+v, want the previous version superseded by a renewal", rec.History)
	}
}

// getDoc fetches an agent's deployments directly.
func getDoc(t testing.TB, ts *testServer, name string) *Deployments {
	t.Helper()
	a, err := New(Options{Server: ts.url, Name: name, Token: testToken(name), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := a.poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func (ts *testServer) plan(t testing.TB) *reconcile.ActionPlan {
	t.Helper()
	cfg, _, diags := spec.LoadWith(ts.dir, spec.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	db, err := state.Open(ts.statePath, state.Options{Timeout: 10 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, err := db.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return reconcile.Plan(cfg, snap, nil, time.Now().Add(time.Duration(ts.offset.Load())))
}

func checkKeyMatches(t testing.TB, keyPath, certPath string) {
	t.Helper()
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParsePrivateKeyPEM(kb)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := os.ReadFile(certPath)
	cert, err := pki.ParseCertificatePEM(cb)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Fatalf("%s does not certify the key in %s", certPath, keyPath)
	}
}

// A deployment whose validate fails is rolled back on the host, and the
// server records the error against the target; the next good one clears
// it.
func TestAgentRollsBackAndReportsFailure(t *testing.T) {
	hcl := baseHCL() + `
target "file" "t3" {
  agent    = agent.web3
  dir      = "tls"
  validate = "test ! -e ../fail"
  reload   = "echo reloaded >> ../reloads"
}
` + certHCL("www", "t3")
	ts := startServer(t, hcl)
	_, dir := startAgent(t, ts, "web3", nil)
	waitFor(t, "www deployed on web3", func() bool { return deployedOn(ts.record(t, "www"), "t3") })
	first := ts.record(t, "www")
	if b, _ := os.ReadFile(filepath.Join(dir, "reloads")); string(b) != "reloaded\n" {
		t.Fatalf("reloads = %q, want one reload", b)
	}

	// The service's check now fails: the renewal is rolled back.
	if err := os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ts.offset.Store(int64(80 * 24 * time.Hour))
	ts.watcher.Trigger()
	waitFor(t, "the failure recorded", func() bool {
		rec := ts.record(t, "www")
		return rec.Serial != first.Serial && rec.Deployments["t3"].LastError != ""
	})
	rec := ts.record(t, "www")
	dep := rec.Deployments["t3"]
	if dep.Fingerprint != first.Fingerprint || !strings.Contains(dep.LastError, "validate failed (previous files restored)") {
		t.Errorf("deployment after a failed validate = %+v, want the first fingerprint %s and the validate error", dep, first.Fingerprint)
	}
	if got := serialOf(t, filepath.Join(dir, "tls", "www.crt")); got != first.Serial {
		t.Errorf("www.crt serial after the rollback = %s, want the first %s", got, first.Serial)
	}
	checkKeyMatches(t, filepath.Join(dir, "tls", "www.key"), filepath.Join(dir, "tls", "www.crt"))
	if b, _ := os.ReadFile(filepath.Join(dir, "reloads")); string(b) != "reloaded\n" {
		t.Errorf("reloads = %q: a failed validate must not reload", b)
	}
	// The plan shows the failure for the host.
	var saw bool
	for _, n := range ts.plan(t).Notes {
		if n.Kind == reconcile.NoteAwaitingAgent && n.Target == "t3" && strings.Contains(n.Error, "validate failed") {
			saw = true
		}
	}
	if !saw {
		t.Errorf("the plan has no awaiting_agent note with the validate error for t3: %+v", ts.plan(t).Notes)
	}
}
