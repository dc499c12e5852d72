package importer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/discover"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

const mainHCL = `team "platform" {}

owner "alice" {
  team = team.platform
}

policy "standard" {}

issuer "local_ca" "internal" {}
`

// signer makes leaves signed by one CA key.
type signer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newSigner(tb testing.TB, cn string) *signer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(3650 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &signer{cert: cert, key: key}
}

// leaf returns a 90-day leaf for cn (and more DNS names) and its key.
func (s *signer) leaf(tb testing.TB, serial int64, cn string, dns ...string) (*x509.Certificate, crypto.Signer) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(89 * 24 * time.Hour),
		DNSNames: append([]string{cn}, dns...), BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.cert, key.Public(), s.key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func mustTemplate(tb testing.TB, s string) Options {
	tb.Helper()
	t, err := ParseNameTemplate(s)
	if err != nil {
		tb.Fatal(err)
	}
	return Options{Owner: "alice", Team: "platform", Policy: "standard", Issuer: "external", Name: t}
}

func loadMain(tb testing.TB, extra map[string][]byte) (string, *spec.Config) {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(mainHCL), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, p, diags := spec.LoadWith(dir, spec.Options{Extra: extra})
	if diags.HasErrors() {
		var b strings.Builder
		_ = p.WriteDiagnostics(&b, diags, false)
		tb.Fatalf("loading: %s", b.String())
	}
	return dir, cfg
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"www.example.com":   "www_example_com",
		"*.example.com":     "wildcard_example_com",
		"API.Example.COM":   "api_example_com",
		"1.example.com":     "_1_example_com",
		"a..b--c":           "a_b--c",
		"192.0.2.1":         "_192_0_2_1",
		"café.example":      "caf_example",
		"-lead.example.com": "_-lead_example_com",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrepare(t *testing.T) {
	ext := newSigner(t, "Legacy CA")
	local, err := pki.NewLocalCA(pki.CAConfig{Name: "internal"}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	www, wwwKey := ext.leaf(t, 10, "www.example.com", "example.com")
	api, _ := ext.leaf(t, 11, "api.example.com")
	csrKey, _ := pki.GenerateKey("ecdsa-p256")
	csr, _, _ := pki.NewCSR(csrKey, pki.CSRSubject{CommonName: "int.example.com"})
	internal, err := local.Issue(t.Context(), pki.IssueRequest{Name: "x", CSR: csr, Usages: []string{"server_auth"}, Validity: 30 * 24 * time.Hour, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	known, _ := ext.leaf(t, 12, "known.example.com")

	_, cfg := loadMain(t, nil)
	snap := &state.Snapshot{
		Issuers:      map[string]*state.Issuer{"internal": {Name: "internal", Type: "local_ca", CertPEM: local.CertPEM(), Digest: reconcile.IssuerDigest(cfg.Issuers["internal"])}},
		Certificates: map[string]*state.Certificate{"k": {Name: "k", Fingerprint: pki.Fingerprint(known)}},
	}
	found := []*discover.Found{
		{Leaf: www, Key: wwwKey, Source: "certs/www.crt"},
		{Leaf: api, Source: "api.example.com@127.0.0.1:443"},
		{Leaf: internal.Leaf, Source: "out/int.crt"},
		{Leaf: known, Source: "certs/known.pem"},
		{Leaf: www, Source: "127.0.0.1:443"}, // found twice
	}
	imp, err := Prepare(cfg, snap, found, mustTemplate(t, "{{.CommonName | slug}}"))
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	var got []string
	for _, it := range imp.Items {
		got = append(got, fmt.Sprintf("%s %s external=%v signed=%v", it.Name, it.Issuer, it.External, it.SignedBy))
	}
	want := []string{
		"api_example_com external external=true signed=false",
		"int_example_com internal external=false signed=true",
		"www_example_com external external=true signed=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Prepare() items =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(imp.Known) != 1 || imp.Known[0].Name != "k" || !imp.DeclaresExternal {
		t.Errorf("Prepare() known = %+v, declares external %v", imp.Known, imp.DeclaresExternal)
	}

	// The file loads with the configuration, and the records plan no
	// change.
	_, full := loadMain(t, map[string][]byte{"imported.hcl": imp.HCL})
	recs, err := imp.Records(full, func(b []byte) ([]byte, error) { return append([]byte("sealed:"), b[:0]...), nil }, time.Now())
	if err != nil {
		t.Fatalf("Records() = %v", err)
	}
	snap.Certificates = map[string]*state.Certificate{}
	for _, r := range recs {
		snap.Certificates[r.Name] = r
	}
	if p := reconcile.Plan(full, snap, nil, time.Now()); p.HasChanges() || len(p.Notes) > 0 {
		t.Errorf("Plan(imported) has changes: %+v %+v", p.Changes, p.Notes)
	}
	if string(snap.Certificates["www_example_com"].KeySealed) != "sealed:" || snap.Certificates["api_example_com"].KeySealed != nil {
		t.Errorf("keys: www %q, api %q; want www sealed, api none", snap.Certificates["www_example_com"].KeySealed, snap.Certificates["api_example_com"].KeySealed)
	}
	if !strings.Contains(string(snap.Certificates["int_example_com"].ChainPEM), string(local.CertPEM())) {
		t.Error("the local CA's certificate is not the chain of the certificate it signed")
	}

	// Naming a renewing issuer hands it the certificates no local CA of
	// the configuration signed.
	takeover := mustTemplate(t, "{{.CommonName | slug}}")
	takeover.Issuer = "internal"
	imp, err = Prepare(cfg, &state.Snapshot{}, found[:1], takeover)
	if err != nil || len(imp.Items) != 1 || imp.Items[0].Issuer != "internal" || imp.Items[0].External || imp.Items[0].SignedBy || imp.DeclaresExternal {
		t.Errorf("Prepare(-issuer internal) = %+v, %v; want www under internal, renewed by it", imp, err)
	}

	// Errors, before anything is decided.
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"missing", Options{Owner: "alice"}, "missing -team, -policy, -issuer, -name"},
		{"unknown", Options{Owner: "bob", Team: "platform", Policy: "p", Issuer: "le", Name: mustTemplate(t, "x").Name}, `no owner "bob"`},
		{"collision", mustTemplate(t, "same"), `gives "same" to both`},
		{"invalid name", mustTemplate(t, "{{.CommonName}}"), "not a valid certificate name"},
		{"bad field", mustTemplate(t, "{{.Nope}}"), "name template failed"},
	} {
		if _, err := Prepare(cfg, &state.Snapshot{}, found[:2], tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Prepare(%s) = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	cfg.Certificates["www_example_com"] = &spec.Certificate{Name: "www_example_com"}
	if _, err := Prepare(cfg, &state.Snapshot{}, found[:1], mustTemplate(t, "{{.CommonName | slug}}")); err == nil || !strings.Contains(err.Error(), "already declared") {
		t.Errorf("Prepare(declared name) = %v", err)
	}
}

// failingStore fails or records what Commit does.
type failingStore struct {
	imported, deleted []string
	importErr         error
}

func (s *failingStore) ImportCertificates(_ context.Context, recs []*state.Certificate) error {
	if s.importErr != nil {
		return s.importErr
	}
	for _, r := range recs {
		s.imported = append(s.imported, r.Name)
	}
	return nil
}

func (s *failingStore) DeleteCertificates(_ context.Context, names []string) error {
	s.deleted = append(s.deleted, names...)
	return nil
}

// TestCommit: the file appears only with the records, never over an
// existing file, and a failed commit leaves no file.
func TestCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imported.hcl")
	recs := []*state.Certificate{{Name: "a"}}

	s := &failingStore{importErr: errors.New("disk full")}
	if err := Commit(t.Context(), s, path, []byte("x"), recs); err == nil {
		t.Fatal("Commit(failing store) succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed commit left %v", entries)
	}

	s = &failingStore{}
	if err := Commit(t.Context(), s, path, []byte("x"), recs); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "x" || !slices.Equal(s.imported, []string{"a"}) {
		t.Errorf("Commit() wrote %q and imported %v", b, s.imported)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("Commit() left %d files, want 1", len(entries))
	}

	// The file exists: refused before the records.
	s = &failingStore{}
	if err := Commit(t.Context(), s, path, []byte("y"), recs); err == nil || len(s.imported) != 0 {
		t.Errorf("Commit(existing file) = %v, imported %v", err, s.imported)
	}
}

// TestCommitRaceUndo: a file that appears between the check and the link
// is not replaced, and the records are removed again.
func TestCommitRaceUndo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imported.hcl")
	s := &racingStore{path: path}
	err := Commit(t.Context(), s, path, []byte("ours"), []*state.Certificate{{Name: "a"}})
	if err == nil || !strings.Contains(err.Error(), "the records were not kept") {
		t.Errorf("Commit(raced) = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "theirs" || !slices.Equal(s.deleted, []string{"a"}) {
		t.Errorf("after the race the file holds %q and deleted = %v", b, s.deleted)
	}
}

type racingStore struct {
	failingStore
	path string
}

func (s *racingStore) ImportCertificates(ctx context.Context, recs []*state.Certificate) error {
	if err := os.WriteFile(s.path, []byte("theirs"), 0o644); err != nil {
		return err
	}
	return s.failingStore.ImportCertificates(ctx, recs)
}
