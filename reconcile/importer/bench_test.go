package importer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/discover"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// certDir writes n leaves of one external CA, each with its key, as
// certs/NNNN.crt (leaf and CA) and certs/NNNN.key.
func certDir(tb testing.TB, n int) string {
	tb.Helper()
	ext := newSigner(tb, "Legacy CA")
	dir := filepath.Join(tb.TempDir(), "certs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	caPEM := pki.EncodeCertificatePEM(ext.cert.Raw)
	for i := range n {
		leaf, key := ext.leaf(tb, int64(100+i), fmt.Sprintf("svc%04d.example.com", i))
		keyPEM, err := pki.MarshalPrivateKeyPEM(key)
		if err != nil {
			tb.Fatal(err)
		}
		base := filepath.Join(dir, fmt.Sprintf("%04d", i))
		if err := os.WriteFile(base+".crt", append(pki.EncodeCertificatePEM(leaf.Raw), caPEM...), 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(base+".key", keyPEM, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// importDir is certctl import without its output: scan, decide, check the
// file with the configuration, seal keys, commit file and records.
func importDir(ctx context.Context, cfgDir, certs string, opts Options) (int, error) {
	cfg, _, diags := spec.Load(cfgDir)
	if diags.HasErrors() {
		return 0, diags
	}
	res, err := discover.Dir(certs)
	if err != nil {
		return 0, err
	}
	imp, err := Prepare(cfg, nil, res.Leaves, opts)
	if err != nil {
		return 0, err
	}
	full, _, diags := spec.LoadWith(cfgDir, spec.Options{Extra: map[string][]byte{"imported.hcl": imp.HCL}})
	if diags.HasErrors() {
		return 0, diags
	}
	db, err := state.Open(filepath.Join(cfgDir, ".certctl", "state.db"), state.Options{Key: make([]byte, 32)})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	recs, err := imp.Records(full, db.Seal, time.Now())
	if err != nil {
		return 0, err
	}
	return len(recs), Commit(ctx, db, filepath.Join(cfgDir, "imported.hcl"), imp.HCL, recs)
}

func newConfigDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(mainHCL), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestImportThenPlan: after an import of many certificates the plan
// shows no change, and one whose renewal time has come is a note (its
// issuer is external), not a renewal.
func TestImportThenPlan(t *testing.T) {
	certs := certDir(t, 50)
	dir := newConfigDir(t)
	n, err := importDir(t.Context(), dir, certs, mustTemplate(t, "{{.CommonName | slug}}"))
	if err != nil || n != 50 {
		t.Fatalf("import = %d, %v; want 50", n, err)
	}
	cfg, snap := loadImported(t, dir)
	if p := reconcile.Plan(cfg, snap, nil, time.Now()); certChanges(p) != 0 || len(p.Notes) != 0 {
		t.Errorf("Plan after import: %d certificate changes, %d notes; want none", certChanges(p), len(p.Notes))
	}
	later := time.Now().Add(80 * 24 * time.Hour) // past 33% of 90 days before expiry
	if p := reconcile.Plan(cfg, snap, nil, later); certChanges(p) != 0 || len(p.Notes) != 50 || p.Notes[0].Kind != reconcile.NoteExternal {
		t.Errorf("Plan when due: %d certificate changes, %d notes; want 0 and 50 external notes", certChanges(p), len(p.Notes))
	}
}

// loadImported reads the configuration and state an import wrote in dir.
func loadImported(tb testing.TB, dir string) (*spec.Config, *state.Snapshot) {
	tb.Helper()
	cfg, _, diags := spec.Load(dir)
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	db, err := state.Open(filepath.Join(dir, ".certctl", "state.db"), state.Options{Key: make([]byte, 32), ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	snap, err := db.Summary(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, snap
}

// certChanges counts a plan's certificate changes: the configuration's
// local CA is still to create, and that is not the import's business.
func certChanges(p *reconcile.ActionPlan) int {
	n := 0
	for _, ch := range p.Changes {
		if ch.Kind == reconcile.KindCertificate {
			n++
		}
	}
	return n
}

// BenchmarkImport1000 imports a directory of 1,000 certificates with
// their keys and chains into a fresh configuration and state: scan,
// decide, check the generated file with the configuration, seal the keys
// and commit. The goal is at most 2 s.
func BenchmarkImport1000(b *testing.B) {
	certs := certDir(b, 1000)
	opts := mustTemplate(b, "{{.CommonName | slug}}")
	var dir string
	for b.Loop() {
		b.StopTimer()
		dir = newConfigDir(b)
		b.StartTimer()
		n, err := importDir(b.Context(), dir, certs, opts)
		if err != nil || n != 1000 {
			b.Fatalf("import = %d, %v", n, err)
		}
	}
	b.StopTimer()
	// The plan that follows has nothing to do for them.
	cfg, snap := loadImported(b, dir)
	if p := reconcile.Plan(cfg, snap, nil, time.Now()); certChanges(p) != 0 || len(p.Notes) != 0 || len(snap.Certificates) != 1000 {
		b.Fatalf("Plan after importing 1,000: %d certificate changes, %d notes, %d records", certChanges(p), len(p.Notes), len(snap.Certificates))
	}
}
