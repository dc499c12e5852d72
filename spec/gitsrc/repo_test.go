package gitsrc

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/google/go-cmp/cmp"
)

func TestRevisionResolvesRevs(t *testing.T) {
	dir := newRepo(t)
	first := commit(t, dir, "Add the platform team\n\nLonger body.", map[string]string{"certs/main.hcl": validConfig})
	run(t, dir, "tag", "-a", "v1", "-m", "release 1")
	run(t, dir, "tag", "light")
	second := commit(t, dir, "Add www", map[string]string{"certs/www.hcl": certBlock("www")})
	run(t, dir, "branch", "feature", first)
	run(t, dir, "update-ref", "refs/remotes/origin/main", first)

	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ rev, want string }{
		{"", second},
		{"HEAD", second},
		{"main", second},
		{"refs/heads/main", second},
		{"HEAD~1", first},
		{"HEAD^", first},
		{"feature", first},
		{"origin/main", first},
		{"v1", first}, // annotated: peeled to the commit
		{"light", first},
		{first, first},
		{first[:7], first},
		{second[:10], second},
	} {
		rev, err := r.Revision(tc.rev, "certs")
		if err != nil {
			t.Errorf("Revision(%q) = %v", tc.rev, err)
			continue
		}
		if rev.SHA != tc.want {
			t.Errorf("Revision(%q).SHA = %s, want %s", tc.rev, rev.SHA, tc.want)
		}
	}

	rev, err := r.Revision("HEAD~1", "certs/")
	if err != nil {
		t.Fatal(err)
	}
	want := Revision{
		SHA: first, Author: "Alice Example", AuthorEmail: "alice@example.com",
		Subject: "Add the platform team", Path: "certs",
		Time: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC),
	}
	got := *rev
	got.FS = nil
	if !got.Time.Equal(want.Time) {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	got.Time = want.Time
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Revision(HEAD~1) (-want +got):\n%s", diff)
	}
	if rev.ShortSHA() != first[:12] {
		t.Errorf("ShortSHA() = %s, want %s", rev.ShortSHA(), first[:12])
	}
	// HEAD~1 has no www.hcl; HEAD has.
	if _, err := fs.Stat(rev.FS, "www.hcl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(www.hcl) at HEAD~1 = %v, want not exist", err)
	}
}

func TestRevisionErrors(t *testing.T) {
	dir := newRepo(t)
	commit(t, dir, "init", map[string]string{"certs/main.hcl": validConfig, "README": "hi"})
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ rev, path, want string }{
		{"nope", "certs", `unknown revision "nope"`},
		{"HEAD~5", "certs", `"HEAD~5"`},
		{"deadbeef", "certs", `unknown revision "deadbeef"`},
		{"HEAD", "missing/", "directory missing does not exist"},
		{"HEAD", "README", "README is not a directory"},
		{"HEAD", "../x", `path "../x" must be a directory inside the repository`},
		{"HEAD", "/etc", `path "/etc" must be a directory inside the repository`},
	} {
		_, err := r.Revision(tc.rev, tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Revision(%q, %q) = %v, want an error containing %q", tc.rev, tc.path, err, tc.want)
		}
	}

	// A shallow clone, as CI checks out, says what is missing.
	shallow := filepath.Join(t.TempDir(), "shallow")
	commit(t, dir, "second", map[string]string{"certs/www.hcl": certBlock("www")})
	run(t, dir, "clone", "-q", "--depth", "1", "file://"+dir, shallow)
	sr, err := OpenRepo(shallow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sr.Revision("HEAD", "certs"); err != nil {
		t.Errorf("Revision(HEAD) of a shallow clone = %v", err)
	}
	if _, err := sr.Revision("HEAD~1", "certs"); err == nil || !strings.Contains(err.Error(), `unknown revision "HEAD~1"`) || !strings.Contains(err.Error(), "shallow clone") {
		t.Errorf("Revision(HEAD~1) of a shallow clone = %v, want unknown revision with a hint", err)
	}

	notRepo := t.TempDir()
	if _, err := OpenRepo(notRepo); err == nil || !strings.Contains(err.Error(), notRepo) {
		t.Errorf("OpenRepo(%s) = %v, want an error naming the path", notRepo, err)
	}
}

func TestOpenRepoForms(t *testing.T) {
	dir := newRepo(t)
	sha := commit(t, dir, "init", map[string]string{"certs/main.hcl": validConfig})
	bare := filepath.Join(t.TempDir(), "remote.git")
	run(t, dir, "clone", "-q", "--bare", dir, bare)
	wt := filepath.Join(t.TempDir(), "linked")
	run(t, dir, "worktree", "add", "-q", "-b", "other", wt)

	for name, p := range map[string]string{
		"work tree":        dir,
		"subdirectory":     filepath.Join(dir, "certs"),
		"bare":             bare,
		"linked work tree": wt,
	} {
		r, err := OpenRepo(p)
		if err != nil {
			t.Errorf("%s: OpenRepo(%s) = %v", name, p, err)
			continue
		}
		rev, err := r.Revision("HEAD", "certs")
		if err != nil {
			t.Errorf("%s: Revision(HEAD) = %v", name, err)
			continue
		}
		if rev.SHA != sha {
			t.Errorf("%s: Revision(HEAD).SHA = %s, want %s", name, rev.SHA, sha)
		}
	}
}

// The revision is read from objects: what is in the work tree, staged or
// not, does not show, and the work tree is left as it was.
func TestRevisionIgnoresWorkTree(t *testing.T) {
	dir := newRepo(t)
	commit(t, dir, "init", map[string]string{"certs/main.hcl": validConfig, "certs/www.hcl": certBlock("www")})
	writeFiles(t, dir, map[string]string{"certs/main.hcl": "broken {", "certs/new.hcl": certBlock("new")})
	run(t, dir, "add", "certs/new.hcl")
	if err := os.Remove(filepath.Join(dir, "certs/www.hcl")); err != nil {
		t.Fatal(err)
	}
	status := run(t, dir, "status", "--porcelain")

	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := r.Revision("HEAD", "certs")
	if err != nil {
		t.Fatal(err)
	}
	cfg, p, diags := spec.LoadWith("certs", spec.Options{FS: rev.FS})
	if diags.HasErrors() {
		var b bytes.Buffer
		p.WriteDiagnostics(&b, diags, false)
		t.Fatalf("LoadWith(HEAD) diagnostics:\n%s", b.String())
	}
	if _, ok := cfg.Certificates["www"]; !ok || len(cfg.Certificates) != 1 {
		t.Errorf("certificates at HEAD = %v, want only www", keys(cfg.Certificates))
	}
	if got := run(t, dir, "status", "--porcelain"); got != status {
		t.Errorf("git status changed from\n%s\nto\n%s", status, got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "certs/main.hcl")); string(b) != "broken {" {
		t.Errorf("work tree main.hcl = %q, was changed", b)
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Loading the spec fixture from a revision gives what loading it from
// disk gives, file() included.
func TestRevisionLoadsLikeDisk(t *testing.T) {
	const fixture = "../testdata/valid/full"
	files := map[string]string{}
	entries, err := os.ReadDir(fixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fixture, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files["certs/"+e.Name()] = string(b)
	}
	dir := newRepo(t)
	commit(t, dir, "fixture", files)
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := r.Revision("main", "certs/")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"OPS_WEBHOOK": "https://hooks.example.com/T0KEN", "SMTP_PASSWORD": "pw",
		"PD_KEY": "pd-key", "AGENT_TOKEN": "agent-token", "CERTCTL_VAR_region": "eu",
		"SECRET_HOST": "h", "SECRET_WEBHOOK_PATH": "p", "EAB_HMAC": "c2VjcmV0", "TSIG_SECRET_FILE": "/run/tsig",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	want, _, diags := spec.LoadWith(fixture, spec.Options{LookupEnv: lookup})
	if diags.HasErrors() {
		t.Fatalf("loading the fixture from disk: %v", diags)
	}
	got, p, diags := spec.LoadWith(fixture, spec.Options{FS: rev.FS, LookupEnv: lookup})
	if diags.HasErrors() {
		var b bytes.Buffer
		p.WriteDiagnostics(&b, diags, false)
		t.Fatalf("loading the fixture from git:\n%s", b.String())
	}
	if diff := cmp.Diff(want, got, cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
		t.Errorf("config from git differs from disk (-disk +git):\n%s", diff)
	}
}

// A revision with a syntax error still resolves; the load reports it at
// file:line:col with the source line, the file named as in the
// configuration directory.
func TestRevisionBadHCL(t *testing.T) {
	dir := newRepo(t)
	commit(t, dir, "good", map[string]string{"certs/main.hcl": validConfig})
	bad := commit(t, dir, "bad", map[string]string{"certs/www.hcl": "certificate \"www\" {\n  common_name = \n}\n"})
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := r.Revision("HEAD", "certs")
	if err != nil {
		t.Fatalf("Revision(bad commit) = %v", err)
	}
	if rev.SHA != bad {
		t.Fatalf("SHA = %s, want %s", rev.SHA, bad)
	}
	cfg, p, diags := spec.LoadWith("certs", spec.Options{FS: rev.FS})
	if !diags.HasErrors() || cfg != nil {
		t.Fatalf("LoadWith(bad revision) = %v, %v; want syntax errors and no config", cfg, diags)
	}
	d := diags[0]
	if d.Subject == nil || d.Subject.Filename != "www.hcl" || d.Subject.Start.Line != 2 {
		t.Errorf("first diagnostic at %v, want www.hcl line 2", d.Subject)
	}
	var b bytes.Buffer
	if err := p.WriteDiagnostics(&b, diags, false); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{"www.hcl:2:", "common_name ="} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, text)
		}
	}
	// The previous revision is still good.
	prev, err := r.Revision("HEAD~1", "certs")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, diags := spec.LoadWith("certs", spec.Options{FS: prev.FS}); diags.HasErrors() {
		t.Errorf("LoadWith(HEAD~1) = %v", diags)
	}
}

func TestRevisionFS(t *testing.T) {
	dir := newRepo(t)
	writeFiles(t, dir, map[string]string{
		"certs/main.hcl":       validConfig,
		"certs/sub/names.txt":  "a\nb\n",
		"certs/sub/deep/x.txt": "x",
		"certs/.hidden.hcl":    "ignored {",
		"certs/run.sh":         "#!/bin/sh\n",
		"outside.txt":          "secret-outside",
		"certs/aaa/zzz.txt":    "order",
		"certs/aaa.hcl.json":   `{}`,
	})
	if err := os.Chmod(filepath.Join(dir, "certs/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlinks := func(links map[string]string) {
		for link, target := range links {
			if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
		}
	}
	symlinks(map[string]string{"certs/link.txt": "sub/names.txt", "certs/linkdir": "sub"})
	commit(t, dir, "files", nil)
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	good, err := r.Revision("HEAD", "certs")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(good.FS, "main.hcl", "sub/names.txt", "sub/deep/x.txt", "aaa/zzz.txt", "run.sh", "link.txt"); err != nil {
		t.Error(err)
	}

	// Links that leave the directory, or loop, are errors.
	symlinks(map[string]string{"certs/escape.txt": "../outside.txt", "certs/absolute": "/etc/passwd", "certs/loop": "loop"})
	commit(t, dir, "bad links", nil)
	rev, err := r.Revision("HEAD", "certs")
	if err != nil {
		t.Fatal(err)
	}
	fsys := rev.FS

	for name, want := range map[string]string{
		"sub/names.txt":        "a\nb\n",
		"link.txt":             "a\nb\n",
		"linkdir/deep/x.txt":   "x",
		"sub/../sub/names.txt": "",
	} {
		b, err := fs.ReadFile(fsys, name)
		if want == "" {
			if err == nil {
				t.Errorf("ReadFile(%s) succeeded; want an invalid-path error", name)
			}
			continue
		}
		if err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", name, b, err, want)
		}
	}
	for _, name := range []string{"escape.txt", "absolute", "loop", "missing.hcl", "../outside.txt"} {
		if b, err := fs.ReadFile(fsys, name); err == nil {
			t.Errorf("ReadFile(%s) = %q, want an error", name, b)
		}
	}
	info, err := fs.Stat(fsys, "run.sh")
	if err != nil || info.Mode() != 0o755 || info.Size() != 10 || !info.ModTime().Equal(time.Date(2026, 11, 30, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("Stat(run.sh) = %v %v; want mode 0755, size 10, the commit time", info, err)
	}
}

// Concurrent reads of one revision, and of two revisions of one
// repository, are safe (run with -race).
func TestRevisionConcurrentReads(t *testing.T) {
	dir := newRepo(t)
	files := map[string]string{}
	for i := range 50 {
		files["certs/c"+string(rune('a'+i%26))+string(rune('a'+i/26))+".hcl"] = certBlock("c" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	files["certs/main.hcl"] = validConfig
	commit(t, dir, "many", files)
	commit(t, dir, "more", map[string]string{"certs/zz.hcl": certBlock("zz")})
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, rv := range []string{"HEAD", "HEAD~1", "HEAD", "HEAD~1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rev, err := r.Revision(rv, "certs")
			if err != nil {
				t.Error(err)
				return
			}
			cfg, _, diags := spec.LoadWith("certs", spec.Options{FS: rev.FS})
			if diags.HasErrors() {
				t.Errorf("LoadWith(%s) = %v", rv, diags)
				return
			}
			want := 50
			if rv == "HEAD" {
				want = 51
			}
			if len(cfg.Certificates) != want {
				t.Errorf("LoadWith(%s) has %d certificates, want %d", rv, len(cfg.Certificates), want)
			}
		}()
	}
	wg.Wait()
}
