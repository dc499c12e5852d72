package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/watch"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// testToken is agent NAME's token in the tests' configurations.
func testToken(name string) string { return "token-of-" + name + "-0123456789abcdef" }

func tokenHash(name string) string {
	sum := sha256.Sum256([]byte(testToken(name)))
	return hex.EncodeToString(sum[:])
}

// baseHCL declares a local CA, a policy and agents web1, web2, web3.
func baseHCL() string {
	var b strings.Builder
	b.WriteString(`
team "platform" {}
owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}
policy "internal" {
  validity        = "90d"
  key_algorithm   = "ecdsa-p256"
  allowed_domains = ["*.example.internal"]
}
issuer "local_ca" "internal" {}
`)
	for _, a := range []string{"web1", "web2", "web3"} {
		fmt.Fprintf(&b, "agent %q { token_sha256 = %q }\n", a, tokenHash(a))
	}
	return b.String()
}

// certHCL declares certificate NAME (NAME.example.internal) on targets.
func certHCL(name string, targets ...string) string {
	refs := make([]string, len(targets))
	for i, t := range targets {
		refs[i] = "target." + t
	}
	return fmt.Sprintf(`
certificate %q {
  common_name = "%s.example.internal"
  issuer      = issuer.internal
  policy      = policy.internal
  owner       = owner.alice
  team        = team.platform
  targets     = [%s]
}
`, name, name, strings.Join(refs, ", "))
}

// testServer is a watcher and the agents' API on loopback.
type testServer struct {
	dir, statePath string
	url            string
	srv            *Server
	watcher        *watch.Watcher
	// offset moves the watcher's clock (renewals).
	offset atomic.Int64
}

func startServer(t testing.TB, hcl string) *testServer {
	t.Helper()
	ts := &testServer{dir: t.TempDir()}
	ts.statePath = filepath.Join(ts.dir, "state.db")
	t.Setenv("CERTCTL_STATE_KEY", strings.Repeat("0", 63)+"1")
	if err := os.WriteFile(filepath.Join(ts.dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	statePath := func(*spec.Config) string { return ts.statePath }
	now := func() time.Time { return time.Now().Add(time.Duration(ts.offset.Load())) }
	var w *watch.Watcher
	srv, err := NewServer(ServerOptions{StatePath: statePath, Trigger: func() { w.Trigger() }, Now: now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	w, err = watch.New(watch.Options{
		Source: &watch.DirSource{Dir: ts.dir, Debounce: 20 * time.Millisecond}, StatePath: statePath,
		Resync: time.Hour, StateCheck: -1, Exec: reconcile.ShellExec(0), OnPass: srv.Observe, Now: now, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv, ts.watcher = srv, w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	ts.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		srv.Close()
	})
	waitFor(t, "the first pass", func() bool { return srv.view.Load() != nil })
	return ts
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// record reads a certificate record whole, waiting for the watcher's lock.
func (ts *testServer) record(t testing.TB, name string) *state.Certificate {
	t.Helper()
	db, err := state.Open(ts.statePath, state.Options{Timeout: 10 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec, err := db.Certificate(context.Background(), name)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// startAgent runs agent NAME against ts until the test ends.
func startAgent(t testing.TB, ts *testServer, name string, exec reconcile.ExecFunc) (*Agent, string) {
	t.Helper()
	dir := t.TempDir()
	a, err := New(Options{Server: ts.url, Name: name, Token: testToken(name), Dir: dir, PollWait: 2 * time.Second,
		MaxBackoff: 200 * time.Millisecond, Exec: exec, Logger: testLogger(t).With("agent", name)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a, dir
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
