package metrics

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/watch"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// TestWatchWiring runs a real watcher over a configuration directory with
// the metrics wired as certctl watch wires them (Observe, AfterPass), on a
// state that already holds dead notification rows, and checks /metrics
// against certctl status's counts of the state the watcher left.
func TestWatchWiring(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(testHCL), 0o600); err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(dir, ".certctl", "state.db")
	db, err := state.Open(statePath, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	(&env{t: t, db: db}).enqueue(state.NotifyDead, state.NotifyDead, state.NotifyDead, state.NotifySent)
	db.Close()

	m := New("test")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	passes := make(chan struct{}, 1)
	w, err := watch.New(watch.Options{
		Source:     &watch.DirSource{Dir: dir, Debounce: 50 * time.Millisecond},
		StatePath:  func(*spec.Config) string { return statePath },
		StateCheck: -1,
		Observe:    m.ObserveIssuance,
		AfterPass: func(p *watch.Pass) {
			if p.Snapshot != nil {
				m.ObserveState(p.Config, p.Snapshot, p.Start.Add(p.Duration))
			}
			m.ObserveReconcile(Pass{Start: p.Start, Duration: p.Duration, Revision: p.Revision.ID, Author: p.Revision.Author, Err: p.Err})
			select {
			case passes <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx) }()
	select {
	case <-passes:
	case <-time.After(30 * time.Second):
		t.Fatal("no pass within 30 s")
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}

	db, err = state.Open(statePath, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := &env{t: t, db: db, m: m, url: srv.URL + "/metrics"}
	e.cfg, _, _ = spec.Load(dir)
	snap := e.summary()
	if dead := reconcile.Status(e.cfg, snap, time.Now()).Notifications.ByStatus[state.NotifyDead]; dead != 3 {
		t.Fatalf("certctl status counts %d dead rows, want the 3 stored", dead)
	}
	fams := e.checkState(snap, time.Now())
	if got := one(t, fams, "certctl_notification_dead_total"); got != 3 {
		t.Errorf("certctl_notification_dead_total = %v, want 3", got)
	}
	issued := series(fams, "certctl_issuance_total", "issuer", "action", "result")
	if got := issued[`issuer="internal",action="create",result="success"`]; got != 3 {
		t.Errorf("internal creates = %v, want 3 (www and the two sites): %v", got, issued)
	}
	// broken's CA is a real local CA here, so all four issue.
	if got := issued[`issuer="flaky",action="create",result="success"`]; got != 1 {
		t.Errorf("flaky creates = %v, want 1", got)
	}
	if got := series(fams, "certctl_reconcile_total", "result"); got[`result="success"`]+got[`result="error"`] < 1 {
		t.Errorf("certctl_reconcile_total = %v, want the pass", got)
	}
	if got := series(fams, "certctl_source_info", "revision"); len(got) != 1 {
		t.Errorf("certctl_source_info = %v, want the directory's revision", got)
	}
}
