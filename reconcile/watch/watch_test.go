package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// baseHCL is a configuration without certificates: a local CA and a file
// target writing to out/ (relative to the configuration directory).
const baseHCL = `
team "platform" {}
owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}
policy "internal" {
  validity        = "90d"
  key_algorithm   = "ecdsa-p256"
  allowed_domains = ["example.internal", "*.example.internal"]
}
issuer "local_ca" "internal" {}
target "file" "out" {
  dir    = "out"
  reload = %q
}
`

func certHCL(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, `
certificate %q {
  common_name = "%s.example.internal"
  issuer      = issuer.internal
  policy      = policy.internal
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out]
}
`, n, n)
	}
	return b.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// syncBuffer is a log sink the test reads while the watcher writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines decodes the JSON log lines whose msg is msg.
func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		var m map[string]any
		if l == "" {
			continue
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// started runs w until the test ends and returns a func that stops it and
// waits, failing the test unless Run returns nil within limit.
func started(t *testing.T, w *Watcher) (stop func(limit time.Duration)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func(limit time.Duration) {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(limit):
				t.Fatalf("Run did not return within %s of the cancel", limit)
			}
		})
	}
	t.Cleanup(func() { stop(30 * time.Second) })
	return stop
}

func statePath(dir string) func(*spec.Config) string {
	return func(*spec.Config) string { return filepath.Join(dir, ".certctl", "state.db") }
}

func readState(t *testing.T, dir string) *state.Snapshot {
	t.Helper()
	db, err := state.Open(statePath(dir)(nil), state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, err := db.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestWatchDir follows a configuration directory: the first pass issues,
// an edit adds a certificate, a half-written file is reported with its
// location and changes nothing, and the fixed file is applied.
func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), fmt.Sprintf(baseHCL, ""))
	writeFile(t, filepath.Join(dir, "certs.hcl"), certHCL("www"))
	logs := &syncBuffer{}
	var passes []*Pass
	var mu sync.Mutex
	w, err := New(Options{
		Source:     &DirSource{Dir: dir, Debounce: 50 * time.Millisecond},
		StatePath:  statePath(dir),
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
		StateCheck: -1,
		OnPass: func(p *Pass) {
			mu.Lock()
			defer mu.Unlock()
			passes = append(passes, p)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)

	waitFor(t, "out/www.crt", func() bool { return exists(filepath.Join(dir, "out", "www.crt")) })
	waitFor(t, "ready", w.Ready)
	first := w.Status().Revision.ID
	if !strings.HasPrefix(first, "sha256:") {
		t.Errorf("directory revision = %q, want sha256:…", first)
	}

	// An edit: a second certificate.
	writeFile(t, filepath.Join(dir, "certs.hcl"), certHCL("www", "api"))
	waitFor(t, "out/api.crt", func() bool { return exists(filepath.Join(dir, "out", "api.crt")) })

	// A half-written file: reported, located, nothing applied.
	writeFile(t, filepath.Join(dir, "certs.hcl"), certHCL("www", "api")+"certificate \"db\" {\n  common_name = ")
	waitFor(t, "the bad revision", func() bool { return w.Status().BadRevision != "" })
	if bad := w.Status().BadRevision; !strings.Contains(bad, "certs.hcl:") {
		t.Errorf("BadRevision = %q, want the file:line:col of the error", bad)
	}
	diags := logs.lines(t, "configuration diagnostic")
	if len(diags) == 0 || !strings.HasPrefix(fmt.Sprint(diags[0]["at"]), "certs.hcl:") {
		t.Errorf("diagnostic log lines = %v, want one at certs.hcl:…", diags)
	}
	if got := w.Status().Revision.ID; got == first {
		t.Errorf("serving revision %s, want the one with api", got)
	}
	if !w.Ready() {
		t.Error("not ready after a bad revision; the last good one should keep serving")
	}

	// Fixed: applied.
	writeFile(t, filepath.Join(dir, "certs.hcl"), certHCL("www", "api", "db"))
	waitFor(t, "out/db.crt", func() bool { return exists(filepath.Join(dir, "out", "db.crt")) })
	waitFor(t, "the bad revision cleared", func() bool { return w.Status().BadRevision == "" })
	stop(10 * time.Second)

	// Every pass logged its revision, plan summary and duration.
	recs := logs.lines(t, "reconcile")
	if len(recs) < 3 {
		t.Fatalf("%d reconcile log lines, want at least 3:\n%s", len(recs), logs)
	}
	for _, r := range recs {
		for _, k := range []string{"revision", "duration", "create", "renew", "replace"} {
			if _, ok := r[k]; !ok {
				t.Errorf("reconcile log line %v lacks %q", r, k)
			}
		}
	}
	snap := readState(t, dir)
	for _, n := range []string{"www", "api", "db"} {
		if rec := snap.Certificates[n]; rec == nil || rec.Status != state.StatusIssued {
			t.Errorf("state has %s = %+v, want issued", n, rec)
		}
	}
	if snap.Revision == nil || !strings.HasPrefix(snap.Revision.ID, "sha256:") || snap.Revision.Source != "dir "+dir {
		t.Errorf("state revision = %+v, want the directory's", snap.Revision)
	}
	mu.Lock()
	defer mu.Unlock()
	if last := passes[len(passes)-1]; last.Wake.At.IsZero() || last.Wake.Reason == "" {
		t.Errorf("last pass wakes at %+v, want a renewal or notice time", last.Wake)
	}
}

// TestWatchDrain stops the watcher while a deploy runs: the change in
// flight finishes and commits, the ones not started are left for the next
// start, and Run returns within the drain timeout.
func TestWatchDrain(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "reloading")
	// The reload signals that it runs, then takes a second.
	writeFile(t, filepath.Join(dir, "main.hcl"), fmt.Sprintf(baseHCL, "touch "+marker+" && sleep 1"))
	// More certificates than Apply keeps in flight with Parallelism 1.
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("c%02d", i))
	}
	writeFile(t, filepath.Join(dir, "certs.hcl"), certHCL(names...))
	w, err := New(Options{
		Source:       &DirSource{Dir: dir},
		StatePath:    statePath(dir),
		StateCheck:   -1,
		Parallelism:  1,
		DrainTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	waitFor(t, "a reload in flight", func() bool { return exists(marker) })
	start := time.Now()
	stop(10 * time.Second)
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("Run returned %s after the cancel: it did not wait for the reload in flight", d)
	}
	snap := readState(t, dir)
	issued := 0
	for _, rec := range snap.Certificates {
		if rec.Status == state.StatusIssued {
			issued++
			if _, ok := rec.Deployments["out"]; !ok {
				t.Errorf("%s was issued but its deploy in flight was not recorded", rec.Name)
			}
		}
	}
	if issued == 0 || issued == len(names) {
		t.Errorf("%d of %d certificates issued after a stop during the first deploy, want some but not all", issued, len(names))
	}
	for _, rec := range snap.Certificates {
		if rec.Status == state.StatusFailed {
			t.Errorf("%s recorded as failed (%s): a change not started must leave no trace", rec.Name, rec.LastError)
		}
	}
}

// git runs the git command line in dir.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files into the work tree, commits and pushes them, and
// returns the commit's SHA.
func commit(t *testing.T, work, msg string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		if content == "" {
			git(t, work, "rm", "-q", name)
			continue
		}
		writeFile(t, filepath.Join(work, name), content)
		git(t, work, "add", name)
	}
	git(t, work, "commit", "-q", "-m", msg)
	git(t, work, "push", "-q", "origin", "HEAD:main")
	return git(t, work, "rev-parse", "HEAD")
}

// TestWatchGit follows a bare repository: a push is picked up at the next
// poll, a bad commit is reported and the last good revision keeps serving,
// and the applied revision's SHA and author are in the state and in show.
func TestWatchGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git command")
	}
	root := t.TempDir()
	remote := filepath.Join(root, "remote.git")
	work := filepath.Join(root, "work")
	git(t, root, "init", "-q", "--bare", "-b", "main", remote)
	git(t, root, "clone", "-q", remote, work)
	dir := filepath.Join(root, "run") // the service's directory: state and out/
	first := commit(t, work, "base", map[string]string{
		"certs/main.hcl":  fmt.Sprintf(baseHCL, ""),
		"certs/certs.hcl": certHCL("www"),
		"README.md":       "not configuration\n",
	})

	src, err := NewGitSource(GitOptions{URL: remote, Ref: "main", Path: "certs", CacheDir: filepath.Join(root, "cache"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	w, err := New(Options{
		Source: src, StatePath: statePath(dir), Poll: 100 * time.Millisecond, StateCheck: -1,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	waitFor(t, "out/www.crt", func() bool { return exists(filepath.Join(dir, "out", "www.crt")) })
	if got := w.Status().Revision.ID; got != first {
		t.Errorf("serving %s, want %s", got, first)
	}

	second := commit(t, work, "add api", map[string]string{"certs/certs.hcl": certHCL("www", "api")})
	waitFor(t, "out/api.crt", func() bool { return exists(filepath.Join(dir, "out", "api.crt")) })

	bad := commit(t, work, "half a block", map[string]string{"certs/bad.hcl": "certificate \"x\" {\n"})
	waitFor(t, "the bad commit reported", func() bool { return strings.HasPrefix(w.Status().BadRevision, bad+": ") })
	if got := w.Status().Revision.ID; got != second {
		t.Errorf("after a bad commit serving %s, want the last good %s", got, second)
	}
	if !strings.Contains(w.Status().BadRevision, "bad.hcl:") {
		t.Errorf("BadRevision = %q, want bad.hcl's location", w.Status().BadRevision)
	}

	// db has a notifier: its issued event names the revision.
	events := make(chan []byte, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		events <- b
	}))
	defer hook.Close()
	dbHCL := strings.Replace(certHCL("db"), "  targets", "  notifiers   = [notifier.ops]\n  targets", 1)
	third := commit(t, work, "fix and add db", map[string]string{
		"certs/bad.hcl":    "",
		"certs/certs.hcl":  certHCL("www", "api") + dbHCL,
		"certs/notify.hcl": fmt.Sprintf("notifier \"webhook\" \"ops\" {\n  url = %q\n}\n", hook.URL),
	})
	waitFor(t, "out/db.crt", func() bool { return exists(filepath.Join(dir, "out", "db.crt")) })
	waitFor(t, "the fix served", func() bool { return w.Status().Revision.ID == third })
	// Its issued and deployed events (in either order) name the revision.
	seen := map[string]bool{}
	for range 2 {
		select {
		case b := <-events:
			var ev struct {
				Event    string `json:"event"`
				Revision struct{ ID, Author string }
			}
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatalf("event %s: %v", b, err)
			}
			seen[ev.Event] = true
			if ev.Revision.ID != third || ev.Revision.Author != "Alice <alice@example.com>" {
				t.Errorf("event %s, want revision %s by Alice", b, third)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("events for db: got %v, want issued and deployed", seen)
		}
	}
	if !seen["issued"] || !seen["deployed"] {
		t.Errorf("events for db: %v, want issued and deployed", seen)
	}

	// The remote goes away: reported, and the last good revision serves.
	if err := os.Rename(remote, remote+".gone"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source failure reported", func() bool { return w.Status().SourceError != "" })
	if st := w.Status(); st.Revision.ID != third || !st.Ready {
		t.Errorf("with the remote gone: serving %s, ready %v; want %s, ready", st.Revision.ID, st.Ready, third)
	}
	if err := os.Rename(remote+".gone", remote); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source back", func() bool { return w.Status().SourceError == "" })
	stop(10 * time.Second)
	if fails := logs.lines(t, "reading the source failed"); len(fails) == 0 || fails[0]["keeping"] != third {
		t.Errorf("source failure log lines = %v, want one keeping %s", fails, third)
	}

	snap := readState(t, dir)
	if snap.Revision == nil || snap.Revision.ID != third || snap.Revision.Author != "Alice <alice@example.com>" {
		t.Errorf("state revision = %+v, want %s by Alice <alice@example.com>", snap.Revision, third)
	}
	if rec := snap.Certificates["db"]; rec == nil || rec.Revision != third || rec.RevisionAuthor != "Alice <alice@example.com>" {
		t.Errorf("db's record = %+v, want revision %s", rec, third)
	}
	if rec := snap.Certificates["www"]; rec == nil || rec.Revision != first {
		t.Errorf("www's record names revision %q, want %s (it was issued then)", rec.Revision, first)
	}
	inv := reconcile.Inventory(nil, snap, time.Now())
	for _, s := range inv {
		if s.Name == "db" && s.Revision != third {
			t.Errorf("show lists db at revision %q, want %s", s.Revision, third)
		}
	}
	if strings.Contains(logs.String(), "secret") {
		t.Error("the log mentions a secret")
	}
}

// TestWatchRecovers: a git remote that does not exist yet when watch
// starts is asked again (with a backoff that other wake-ups, such as the
// state check, do not push back) until it answers; and a configuration
// that stops loading because of a file read through file() is reported at
// the next resync, then taken again once the file is fixed.
func TestWatchRecovers(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git command")
	}
	// Restored after the watcher stops (cleanups run last-first).
	old := minRetry
	t.Cleanup(func() { minRetry = old })
	minRetry = 50 * time.Millisecond
	root := t.TempDir()
	remote := filepath.Join(root, "remote.git")
	dir := filepath.Join(root, "run")
	src, err := NewGitSource(GitOptions{URL: remote, Ref: "main", Path: "certs", CacheDir: filepath.Join(root, "cache"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{Source: src, StatePath: statePath(dir), Poll: time.Hour, Resync: 300 * time.Millisecond, StateCheck: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	started(t, w)
	waitFor(t, "the missing remote reported", func() bool { return w.Status().SourceError != "" })
	time.Sleep(200 * time.Millisecond)

	git(t, root, "init", "-q", "--bare", "-b", "main", remote)
	work := filepath.Join(root, "work")
	git(t, root, "clone", "-q", remote, work)
	commit(t, work, "base", map[string]string{
		"certs/main.hcl":  fmt.Sprintf(baseHCL, ""),
		"certs/certs.hcl": certHCL("www"),
	})
	waitFor(t, "out/www.crt once the remote exists", func() bool { return exists(filepath.Join(dir, "out", "www.crt")) })
}

// TestWatchReloadsFiles: what file() reads is read again at every resync.
func TestWatchReloadsFiles(t *testing.T) {
	dir := t.TempDir()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	writeFile(t, filepath.Join(dir, "main.hcl"), fmt.Sprintf(baseHCL, "")+
		"notifier \"webhook\" \"ops\" {\n  url = trimspace(file(\"hook.txt\"))\n}\n")
	writeFile(t, filepath.Join(dir, "hook.txt"), hook.URL+"\n")
	writeFile(t, filepath.Join(dir, "certs.hcl"), certHCL("www"))
	w, err := New(Options{Source: &DirSource{Dir: dir}, StatePath: statePath(dir), Resync: 200 * time.Millisecond, StateCheck: -1})
	if err != nil {
		t.Fatal(err)
	}
	started(t, w)
	waitFor(t, "ready", w.Ready)

	// The file changes, no *.hcl does: the resync reads it again.
	writeFile(t, filepath.Join(dir, "hook.txt"), "not a URL\n")
	waitFor(t, "the bad file reported", func() bool { return w.Status().BadRevision != "" })
	if bad := w.Status().BadRevision; !strings.Contains(bad, "main.hcl:") {
		t.Errorf("BadRevision = %q, want the location of the url", bad)
	}
	writeFile(t, filepath.Join(dir, "hook.txt"), hook.URL+"\n")
	waitFor(t, "the fixed file taken", func() bool { return w.Status().BadRevision == "" })
}

// TestWatchDeliversWithoutTheLock: while a notifier hangs, the state is
// not held: another certctl (here, an Open with a short timeout) gets it.
func TestWatchDeliversWithoutTheLock(t *testing.T) {
	dir := t.TempDir()
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer hook.Close()
	defer close(release)
	writeFile(t, filepath.Join(dir, "main.hcl"), fmt.Sprintf(baseHCL, "")+
		fmt.Sprintf("notifier \"webhook\" \"ops\" {\n  url = %q\n}\n", hook.URL))
	writeFile(t, filepath.Join(dir, "certs.hcl"), strings.Replace(certHCL("www"), "  targets", "  notifiers   = [notifier.ops]\n  targets", 1))
	w, err := New(Options{Source: &DirSource{Dir: dir}, StatePath: statePath(dir), StateCheck: -1, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
	db, err := state.Open(statePath(dir)(nil), state.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("opening the state while a delivery hangs: %v", err)
	}
	db.Close()
	// A stop does not wait for the hung notifier.
	start := time.Now()
	stop(10 * time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %s with a notifier hung", d)
	}
}
