package gitsrc

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// remote is a bare repository that a work-tree clone pushes to, as an
// operator's CI would.
type remote struct {
	bare, work string
}

func newRemote(t *testing.T) *remote {
	t.Helper()
	r := &remote{bare: filepath.Join(t.TempDir(), "config.git"), work: newRepo(t)}
	run(t, filepath.Dir(r.bare), "init", "-q", "--bare", "-b", "main", r.bare)
	run(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// push commits files and pushes main; it returns the new SHA.
func (r *remote) push(t *testing.T, msg string, files map[string]string) string {
	t.Helper()
	sha := commit(t, r.work, msg, files)
	run(t, r.work, "push", "-q", "origin", "main")
	return sha
}

func noEnv(string) (string, bool) { return "", false }

func newSource(t *testing.T, opts Options) *Source {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	if opts.Env == nil {
		opts.Env = noEnv
	}
	s, err := NewSource(opts)
	if err != nil {
		t.Fatalf("NewSource(%+v) = %v", opts, err)
	}
	return s
}

func fetch(t *testing.T, s *Source) *Revision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rev, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch() = %v", err)
	}
	return rev
}

// mustLoad loads rev and returns its certificate names.
func mustLoad(t *testing.T, rev *Revision) []string {
	t.Helper()
	cfg, p, diags := spec.LoadWith(rev.Path, spec.Options{FS: rev.FS, LookupEnv: noEnv})
	if diags.HasErrors() {
		var b bytes.Buffer
		p.WriteDiagnostics(&b, diags, false)
		t.Fatalf("LoadWith(%s) diagnostics:\n%s", rev.ShortSHA(), b.String())
	}
	names := keys(cfg.Certificates)
	slices.Sort(names)
	return names
}

// The watch scenario: commits pushed to a bare repository are picked up,
// a bad commit is fetched but does not load (the caller keeps the last
// good revision), and a force-push that rewrites history is followed.
func TestSourceFollowsPushes(t *testing.T) {
	for _, form := range []string{"path", "file URL"} {
		t.Run(form, func(t *testing.T) {
			r := newRemote(t)
			first := r.push(t, "init", map[string]string{"certs/main.hcl": validConfig, "certs/www.hcl": certBlock("www")})
			url := r.bare
			if form == "file URL" {
				url = "file://" + r.bare
			}
			s := newSource(t, Options{URL: url, Ref: "main", Path: "certs/"})

			rev := fetch(t, s)
			if rev.SHA != first || rev.Author != "Alice Example" || rev.Subject != "init" {
				t.Fatalf("first Fetch = %s by %s (%q), want %s by Alice Example", rev.SHA, rev.Author, rev.Subject, first)
			}
			if got := mustLoad(t, rev); fmt.Sprint(got) != "[www]" {
				t.Errorf("certificates = %v, want [www]", got)
			}
			if again := fetch(t, s); again.SHA != first {
				t.Errorf("Fetch with nothing new = %s, want %s", again.SHA, first)
			}

			second := r.push(t, "add api", map[string]string{"certs/api.hcl": certBlock("api")})
			rev = fetch(t, s)
			if rev.SHA != second {
				t.Fatalf("Fetch after a push = %s, want %s", rev.SHA, second)
			}
			if got := mustLoad(t, rev); fmt.Sprint(got) != "[api www]" {
				t.Errorf("certificates = %v, want [api www]", got)
			}
			good := rev

			bad := r.push(t, "break it", map[string]string{"certs/api.hcl": "certificate \"api\" {\n  common_name = \"api.example.com\"\n"})
			rev = fetch(t, s)
			if rev.SHA != bad {
				t.Fatalf("Fetch after a bad push = %s, want %s", rev.SHA, bad)
			}
			_, p, diags := spec.LoadWith(rev.Path, spec.Options{FS: rev.FS, LookupEnv: noEnv})
			var b bytes.Buffer
			p.WriteDiagnostics(&b, diags, false)
			if !diags.HasErrors() || !strings.Contains(b.String(), "api.hcl:") {
				t.Errorf("loading the bad commit: want a diagnostic in api.hcl, got:\n%s", b.String())
			}
			// The last good revision still loads from the cache.
			if got := mustLoad(t, good); fmt.Sprint(got) != "[api www]" {
				t.Errorf("last good certificates = %v, want [api www]", got)
			}

			// Force-push: drop the bad commit and the one before it.
			run(t, r.work, "reset", "-q", "--hard", first)
			forced := commit(t, r.work, "rewrite", map[string]string{"certs/db.hcl": certBlock("db")})
			run(t, r.work, "push", "-q", "--force", "origin", "main")
			rev = fetch(t, s)
			if rev.SHA != forced {
				t.Fatalf("Fetch after a force-push = %s, want %s", rev.SHA, forced)
			}
			if got := mustLoad(t, rev); fmt.Sprint(got) != "[db www]" {
				t.Errorf("certificates after force-push = %v, want [db www]", got)
			}
		})
	}
}

func TestSourceRefs(t *testing.T) {
	r := newRemote(t)
	first := r.push(t, "init", map[string]string{"certs/main.hcl": validConfig})
	run(t, r.work, "tag", "-a", "v1", "-m", "v1")
	run(t, r.work, "tag", "light")
	second := r.push(t, "two", map[string]string{"certs/www.hcl": certBlock("www")})
	run(t, r.work, "tag", "dup", first)
	run(t, r.work, "push", "-q", "origin", "v1", "light", "refs/tags/dup", "main:release", "main:refs/heads/dup")

	for _, tc := range []struct{ ref, want string }{
		{"", second},
		{"HEAD", second},
		{"main", second},
		{"refs/heads/main", second},
		{"release", second},
		{"v1", first},
		{"light", first},
		{"refs/tags/v1", first},
		{"dup", first}, // the tag, as git rev-parse takes it
		{"refs/heads/dup", second},
		{first, first},
	} {
		s := newSource(t, Options{URL: r.bare, Ref: tc.ref, Path: "certs"})
		rev, err := s.Fetch(context.Background())
		if err != nil {
			t.Errorf("Fetch(ref %q) = %v", tc.ref, err)
			continue
		}
		if rev.SHA != tc.want {
			t.Errorf("Fetch(ref %q).SHA = %s, want %s", tc.ref, rev.SHA, tc.want)
		}
	}

	for _, tc := range []struct{ ref, path, want string }{
		{"nope", "certs", `no branch or tag "nope" on the remote (branches: dup, main, release)`},
		{strings.Repeat("ab", 20), "certs", "commit abababababababababababababababababababab is not on any branch"},
		{"main", "missing", "directory missing does not exist"},
	} {
		s := newSource(t, Options{URL: r.bare, Ref: tc.ref, Path: tc.path})
		_, err := s.Fetch(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), r.bare) || !strings.Contains(err.Error(), "ref "+tc.ref) {
			t.Errorf("Fetch(ref %q, path %q) = %v; want an error naming the URL, the ref and %q", tc.ref, tc.path, err, tc.want)
		}
	}
}

func TestSourceUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	missing := filepath.Join(t.TempDir(), "missing.git")
	for url, shown := range map[string]string{
		missing:                            missing,
		"file://" + missing:                "file://" + missing,
		"http://" + closed + "/config.git": "http://" + closed + "/config.git",
		"https://tok3n-s3cret@" + closed + "/x.git": "https://***@" + closed + "/x.git",
		"https://u:pa55-s3cret@" + closed + "/x":    "https://***@" + closed + "/x",
	} {
		s := newSource(t, Options{URL: url, Ref: "main"})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := s.Fetch(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "fetching "+shown+" (ref main): ") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Fetch(%s) = %v, want an error naming %s and the ref", url, err, shown)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.git")
	run(t, filepath.Dir(empty), "init", "-q", "--bare", empty)
	s := newSource(t, Options{URL: empty, Ref: "main"})
	if _, err := s.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "fetching "+empty+" (ref main): remote repository is empty") {
		t.Errorf("Fetch(empty repository) = %v, want it to say so", err)
	}

	// A source that worked keeps its error clear when the remote goes.
	r := newRemote(t)
	r.push(t, "init", map[string]string{"main.hcl": validConfig})
	s = newSource(t, Options{URL: r.bare, Ref: "main"})
	fetch(t, s)
	if err := os.RemoveAll(r.bare); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "fetching "+r.bare+" (ref main): ") || !errors.Is(err, transport.ErrRepositoryNotFound) {
		t.Errorf("Fetch after the remote went = %v, want repository not found naming it", err)
	}
}

func TestSourceCanceled(t *testing.T) {
	r := newRemote(t)
	r.push(t, "init", map[string]string{"main.hcl": validConfig})
	s := newSource(t, Options{URL: r.bare, Ref: "main"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch(canceled) = %v, want context.Canceled", err)
	}
}

// A cache that was damaged, or that is not a repository at all, is
// replaced by a fresh clone.
func TestSourceCorruptCache(t *testing.T) {
	r := newRemote(t)
	r.push(t, "init", map[string]string{"main.hcl": validConfig})
	cache := t.TempDir()
	s := newSource(t, Options{URL: r.bare, Ref: "main", CacheDir: cache})
	fetch(t, s)

	damage := map[string]func(dir string){
		"objects removed": func(dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "objects")); err != nil {
				t.Fatal(err)
			}
		},
		"not a repository": func(dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"garbage HEAD": func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, "HEAD"), []byte("\x00\x01garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			// The running Source, then a new one, as after a restart.
			for _, restart := range []bool{false, true} {
				sha := r.push(t, name, map[string]string{"www.hcl": certBlock(fmt.Sprintf("w%d", time.Now().UnixNano()))})
				f(s.dir)
				if restart {
					s = newSource(t, Options{URL: r.bare, Ref: "main", CacheDir: cache})
				}
				rev := fetch(t, s)
				if rev.SHA != sha {
					t.Errorf("Fetch after damage (restart %v) = %s, want %s", restart, rev.SHA, sha)
				}
				mustLoad(t, rev)
			}
		})
	}
}

// gitHTTPServer serves the repositories under root with git's own smart
// HTTP backend on loopback, asking for basic authentication user:pass.
func gitHTTPServer(t *testing.T, root, user, pass string, tls bool) *httptest.Server {
	t.Helper()
	exe, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(exe)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir()},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, req)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewUnstartedServer(h)
		srv.StartTLS()
	} else {
		srv = httptest.NewUnstartedServer(h)
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestSourceHTTPAuth(t *testing.T) {
	r := newRemote(t)
	sha := r.push(t, "init", map[string]string{"main.hcl": validConfig})
	const user, token = "ci-bot", "glpat-S3cr3tT0k3n"
	srv := gitHTTPServer(t, filepath.Dir(r.bare), user, token, false)
	base := strings.TrimPrefix(srv.URL, "http://")
	repoURL := srv.URL + "/config.git"

	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	ok := []struct {
		name string
		url  string
		env  func(string) (string, bool)
	}{
		{"credentials in the URL", "http://" + user + ":" + token + "@" + base + "/config.git", noEnv},
		{"token from the environment", repoURL, env(EnvToken, token, EnvUsername, user)},
		{"password from the environment", repoURL, env(EnvUsername, user, EnvPassword, token)},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			s := newSource(t, Options{URL: tc.url, Ref: "main", CacheDir: cache, Env: tc.env})
			if strings.Contains(s.URL(), token) {
				t.Errorf("URL() = %s shows the token", s.URL())
			}
			rev := fetch(t, s)
			if rev.SHA != sha {
				t.Errorf("Fetch = %s, want %s", rev.SHA, sha)
			}
			assertNotInTree(t, cache, token)
		})
	}

	bad := []struct {
		name, url, want string
		env             func(string) (string, bool)
	}{
		{"wrong password in the URL", "http://" + user + ":" + token + "x@" + base + "/config.git", "http://***@" + base + "/config.git", noEnv},
		{"token as the URL's user", "http://" + token + "@" + base + "/config.git", "http://***@" + base + "/config.git", noEnv},
		{"wrong token from the environment", repoURL, repoURL, env(EnvToken, token+"x")},
		{"no credentials", repoURL, repoURL, noEnv},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s := newSource(t, Options{URL: tc.url, Ref: "main", Env: tc.env})
			_, err := s.Fetch(context.Background())
			if err == nil {
				t.Fatal("Fetch succeeded with wrong credentials")
			}
			msg := err.Error()
			if strings.Contains(msg, token) || strings.Contains(msg, tc.url) && tc.url != repoURL {
				t.Errorf("Fetch error shows a credential: %s", msg)
			}
			if !strings.Contains(msg, "fetching "+tc.want+" (ref main): ") {
				t.Errorf("Fetch error = %s, want it to name %s and the ref", msg, tc.want)
			}
			if !errors.Is(err, transport.ErrAuthenticationRequired) && !errors.Is(err, transport.ErrAuthorizationFailed) {
				t.Errorf("Fetch error = %v, want it to match an authentication error", err)
			}
		})
	}
}

// assertNotInTree fails if any file under dir contains secret.
func assertNotInTree(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// HTTPS with a private CA given by EnvCAFile; without it the server's
// certificate is refused.
func TestSourceHTTPSPrivateCA(t *testing.T) {
	r := newRemote(t)
	sha := r.push(t, "init", map[string]string{"main.hcl": validConfig})
	srv := gitHTTPServer(t, filepath.Dir(r.bare), "u", "p", true)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(srv.URL, "https://", "https://u:p@", 1) + "/config.git"

	s := newSource(t, Options{URL: url, Ref: "main", Env: func(k string) (string, bool) {
		if k == EnvCAFile {
			return caFile, true
		}
		return "", false
	}})
	if rev := fetch(t, s); rev.SHA != sha {
		t.Errorf("Fetch = %s, want %s", rev.SHA, sha)
	}

	s = newSource(t, Options{URL: url, Ref: "main"})
	_, err := s.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "u:p@") {
		t.Errorf("Fetch without the CA = %v, want a certificate error without credentials", err)
	}
}

func TestNewSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{CacheDir: "c"}, "URL is empty"},
		{Options{URL: "x"}, "no cache directory"},
		{Options{URL: "x", CacheDir: "c", Path: "../up"}, `path "../up" must be a directory inside the repository`},
		{Options{URL: "https://u:hunter2@exa mple.com/x", CacheDir: "c"}, "invalid URL"},
		{Options{URL: "ssh://git@example.com/x", CacheDir: "c", Env: func(k string) (string, bool) {
			if k == EnvSSHKey {
				return "/nonexistent/id_ed25519", true
			}
			return "", false
		}}, "reading the SSH key from CERTCTL_GIT_SSH_KEY"},
		{Options{URL: "ssh://git@example.com/x", CacheDir: "c", Env: func(k string) (string, bool) {
			if k == EnvSSHKey {
				return "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----\n", true
			}
			return "", false
		}}, "reading the SSH key from CERTCTL_GIT_SSH_KEY"},
	} {
		_, err := NewSource(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSource(%q) = %v, want an error containing %q", tc.opts.URL, err, tc.want)
			continue
		}
		for _, secret := range []string{"hunter2", "c2VjcmV0LWtleS1tYXRlcmlhbA"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("NewSource(%q) error shows a secret: %v", tc.opts.URL, err)
			}
		}
	}
}

// Each fetch adds a packfile; past maxPacks the clone is repacked into
// one, and fetching goes on as before.
func TestSourceCompactsPacks(t *testing.T) {
	defer func(n int) { maxPacks = n }(maxPacks)
	maxPacks = 3
	r := newRemote(t)
	r.push(t, "init", map[string]string{"main.hcl": validConfig})
	s := newSource(t, Options{URL: r.bare, Ref: "main"})
	fetch(t, s)
	packs := func() int {
		m, err := filepath.Glob(filepath.Join(s.dir, "objects", "pack", "*.pack"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	most := 0
	for i := range 8 {
		sha := r.push(t, fmt.Sprint(i), map[string]string{fmt.Sprintf("c%d.hcl", i): certBlock(fmt.Sprintf("c%d", i))})
		rev := fetch(t, s)
		if rev.SHA != sha {
			t.Fatalf("Fetch %d = %s, want %s", i, rev.SHA, sha)
		}
		if got := mustLoad(t, rev); len(got) != i+1 {
			t.Fatalf("Fetch %d loads %v, want %d certificates", i, got, i+1)
		}
		most = max(most, packs())
	}
	if most > maxPacks {
		t.Errorf("the clone had %d packfiles, want at most %d", most, maxPacks)
	}
}
