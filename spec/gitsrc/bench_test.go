package gitsrc

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/certctl/certctl/spec"
)

// writeRepo10k commits 10,000 certificates in 100 files under certs/, with
// one more commit that changes one line (what `certctl diff` compares).
func writeRepo10k(b *testing.B, pack bool) string {
	dir := newRepo(b)
	files := map[string]string{"certs/main.hcl": validConfig}
	for f := range 100 {
		var sb strings.Builder
		for i := range 100 {
			sb.WriteString(certBlock(fmt.Sprintf("h%03d-%02d", f, i)))
		}
		files[fmt.Sprintf("certs/certs_%03d.hcl", f)] = sb.String()
	}
	commit(b, dir, "10,000 certificates", files)
	commit(b, dir, "one line", map[string]string{"certs/certs_042.hcl": strings.Replace(files["certs/certs_042.hcl"], "h042-07.example.com", "h042-07b.example.com", 1)})
	if pack {
		run(b, dir, "gc", "-q")
	}
	return dir
}

// BenchmarkRevision10k opens the repository, resolves HEAD and loads its
// 10,000 certificates through spec.LoadWith: one side of a diff, with a
// cold object cache. "packed" is a repository after git gc (as a clone
// is); "loose" has just been committed to.
func BenchmarkRevision10k(b *testing.B) {
	for _, pack := range []bool{true, false} {
		name := map[bool]string{true: "packed", false: "loose"}[pack]
		b.Run(name, func(b *testing.B) {
			dir := writeRepo10k(b, pack)
			b.ReportAllocs()
			for b.Loop() {
				loadRevision10k(b, benchRepo(b, dir), "HEAD")
			}
		})
	}
}

// BenchmarkDiskLoad10k is spec.Load of the same 10,000 certificates from
// the work tree, for comparison with BenchmarkRevision10k.
func BenchmarkDiskLoad10k(b *testing.B) {
	dir := writeRepo10k(b, true)
	b.ReportAllocs()
	for b.Loop() {
		cfg, _, diags := spec.LoadWith(dir+"/certs", spec.Options{})
		if diags.HasErrors() || len(cfg.Certificates) != 10000 {
			b.Fatalf("Load: %v", diags)
		}
	}
}

// BenchmarkRevisionFiles10k is BenchmarkRevision10k without the load:
// what reading the 101 files out of git costs.
func BenchmarkRevisionFiles10k(b *testing.B) {
	dir := writeRepo10k(b, true)
	b.ReportAllocs()
	for b.Loop() {
		rev, err := benchRepo(b, dir).Revision("HEAD", "certs/")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for f := range 100 {
			data, err := rev.FS.(interface{ ReadFile(string) ([]byte, error) }).ReadFile(fmt.Sprintf("certs_%03d.hcl", f))
			if err != nil {
				b.Fatal(err)
			}
			n += len(data)
		}
		b.SetBytes(int64(n))
	}
}

// BenchmarkDiffRevisions10k is the git side of `certctl diff HEAD~1 HEAD`
// on 10,000 certificates with a one-line change: open, resolve both
// revisions and load both, one after the other.
func BenchmarkDiffRevisions10k(b *testing.B) {
	dir := writeRepo10k(b, true)
	b.ReportAllocs()
	for b.Loop() {
		r := benchRepo(b, dir)
		for _, rv := range []string{"HEAD~1", "HEAD"} {
			loadRevision10k(b, r, rv)
		}
	}
}

// BenchmarkFetchUnchanged is one poll of `certctl watch -git` when the
// remote has not moved: list the remote's refs, find the commit in the
// cache, check the configuration directory's objects (the 101 files of
// 10,000 certificates).
func BenchmarkFetchUnchanged(b *testing.B) {
	dir := writeRepo10k(b, true)
	s, err := NewSource(Options{URL: dir, Ref: "main", Path: "certs", CacheDir: b.TempDir(), Env: noEnv})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Fetch(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRepo opens dir, failing b if it cannot.
func benchRepo(b *testing.B, dir string) *Repo {
	r, err := OpenRepo(dir)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// loadRevision10k loads certs/ at rev and checks its 10,000 certificates.
func loadRevision10k(b *testing.B, r *Repo, rev string) {
	rv, err := r.Revision(rev, "certs/")
	if err != nil {
		b.Fatal(err)
	}
	cfg, _, diags := spec.LoadWith("certs", spec.Options{FS: rv.FS})
	if diags.HasErrors() || len(cfg.Certificates) != 10000 {
		b.Fatalf("LoadWith(%s): %v", rev, diags)
	}
}
