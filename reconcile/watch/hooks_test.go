package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
)

// TestWatchHooks checks Observe and AfterPass, which metrics use: each
// issuing change of a pass is observed, and AfterPass sees every pass
// with its duration and error, also one that could not open the state.
func TestWatchHooks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), fmt.Sprintf(baseHCL, ""))
	writeFile(t, filepath.Join(dir, "certs.hcl"), certHCL("www", "api"))
	var mu sync.Mutex
	var outcomes []reconcile.Outcome
	var passes []Pass
	w, err := New(Options{
		Source:     &DirSource{Dir: dir, Debounce: 50 * time.Millisecond},
		StatePath:  statePath(dir),
		StateCheck: -1,
		Observe: func(o reconcile.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, o)
		},
		AfterPass: func(p *Pass) {
			mu.Lock()
			defer mu.Unlock()
			passes = append(passes, *p)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	waitFor(t, "a pass", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(passes) > 0
	})
	stop(10 * time.Second)

	mu.Lock()
	defer mu.Unlock()
	got := map[string]reconcile.Outcome{}
	for _, o := range outcomes {
		got[o.Name] = o
	}
	for _, name := range []string{"www", "api"} {
		if o, ok := got[name]; !ok || o.Issuer != "internal" || o.Action != reconcile.ActionCreate || o.Err != nil || o.Duration <= 0 {
			t.Errorf("Outcome of %s = %+v (seen %v), want a create by internal", name, o, ok)
		}
	}
	p := passes[0]
	if p.Err != nil || p.Duration <= 0 || p.Snapshot == nil || p.Config == nil || !strings.HasPrefix(p.Revision.ID, "sha256:") {
		t.Errorf("AfterPass got %+v, want a successful pass with its duration, snapshot and revision", p)
	}
	if p.Unseal != nil {
		t.Error("AfterPass got an Unseal, but the state is closed by then")
	}
}

// TestWatchAfterPassFailed: a pass that cannot open the state still
// reaches AfterPass, with its error and no snapshot.
func TestWatchAfterPassFailed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), fmt.Sprintf(baseHCL, ""))
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan Pass, 1)
	w, err := New(Options{
		Source:     &DirSource{Dir: dir, Debounce: 50 * time.Millisecond},
		StatePath:  func(*spec.Config) string { return filepath.Join(blocker, "state.db") },
		StateCheck: -1,
		AfterPass: func(p *Pass) {
			select {
			case done <- *p:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	var p Pass
	select {
	case p = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("no pass within 20 s")
	}
	stop(10 * time.Second)
	if p.Err == nil || p.Snapshot != nil || p.Duration < 0 {
		t.Errorf("AfterPass got Err %v, Snapshot %v, Duration %v; want the state's error and no snapshot", p.Err, p.Snapshot != nil, p.Duration)
	}
}
