package reconcile

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// flakyHook is a webhook receiver on loopback that fails its first fail
// requests with 503 (echoing the request's signature and path, as a
// careless service might) and records what it received.
type flakyHook struct {
	mu       sync.Mutex
	fail     int
	requests int
	ids      []string // X-Certctl-Delivery of each request
	bodies   []string // bodies of accepted requests
}

func (h *flakyHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	h.ids = append(h.ids, r.Header.Get(notify.HeaderDelivery))
	if h.fail > 0 {
		h.fail--
		http.Error(w, "busy: "+r.URL.Path+" "+r.Header.Get(notify.HeaderSignature), http.StatusServiceUnavailable)
		return
	}
	h.bodies = append(h.bodies, string(body))
	w.WriteHeader(http.StatusAccepted)
}

const hookSecret = "whsec-3b1f0a9c77d2"

// deliverSetup is a config whose team notifies webhook "ops" at the
// receiver (a secret path token and a signing secret, both sensitive),
// a real state and a clock.
type deliverSetup struct {
	t    *testing.T
	cfg  *spec.Config
	db   *state.DB
	hook *flakyHook
	now  time.Time
}

func newDeliverSetup(t *testing.T, fail, attempts int) *deliverSetup {
	hook := &flakyHook{fail: fail}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	cfg := notifyConfig(t.TempDir(), srv.URL+"/hooks/tok-5ecret-path")
	ops := cfg.Notifiers["ops"]
	ops.Attrs["secret"] = hookSecret
	ops.Sensitive = map[string]bool{"url": true, "secret": true}
	ops.Retry = spec.Retry{Initial: time.Minute, Max: 4 * time.Minute, Attempts: attempts}
	return &deliverSetup{t: t, cfg: cfg, db: openQueue(t), hook: hook, now: t0}
}

// enqueue stores the rows of an issued event about www.
func (s *deliverSetup) enqueue() *state.Notification {
	s.t.Helper()
	c := s.cfg.Certificates["www"]
	ev := eventOf(c, nil, "www", notify.EventIssued, 0, "certificate www was issued", nil, s.now, nil)
	rows, err := EventRows(s.cfg, c, ev, s.now)
	if err != nil || len(rows) != 1 {
		s.t.Fatalf("EventRows = %d rows, %v", len(rows), err)
	}
	if err := s.db.EnqueueNotifications(context.Background(), rows...); err != nil {
		s.t.Fatal(err)
	}
	return rows[0]
}

func (s *deliverSetup) sweep(at time.Time) *DeliveryResult {
	s.t.Helper()
	res, err := Deliver(context.Background(), s.cfg, s.db, DeliverOptions{Now: func() time.Time { return at }})
	if err != nil {
		s.t.Fatalf("Deliver(%s) = %v", at, err)
	}
	return res
}

func (s *deliverSetup) row(id string) *state.Notification {
	s.t.Helper()
	n, err := s.db.Notification(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

func TestDeliverRetriesWithBackoff(t *testing.T) {
	s := newDeliverSetup(t, 2, 5)
	id := s.enqueue().ID

	// Attempt 1 fails: retry after initial (1m).
	if r := s.sweep(t0); r.Failed != 1 || r.Sent != 0 {
		t.Fatalf("sweep 1 = %+v", r)
	}
	n := s.row(id)
	if n.Status != state.NotifyFailed || n.RetryCount != 1 || !n.NextRetryAt.Equal(t0.Add(time.Minute)) || n.LastError == "" {
		t.Fatalf("after attempt 1: %+v", n)
	}
	// Not due yet: nothing happens.
	if r := s.sweep(t0.Add(59 * time.Second)); !r.Empty() {
		t.Fatalf("sweep before next_retry_at = %+v", r)
	}
	// Attempt 2 fails: retry after 2m (initial × 2^1).
	at := t0.Add(time.Minute)
	s.sweep(at)
	if n = s.row(id); n.RetryCount != 2 || !n.NextRetryAt.Equal(at.Add(2*time.Minute)) {
		t.Fatalf("after attempt 2: %+v", n)
	}
	// Attempt 3 succeeds: sent, retry_count kept.
	at = at.Add(2 * time.Minute)
	if r := s.sweep(at); r.Sent != 1 {
		t.Fatalf("sweep 3 = %+v", r)
	}
	n = s.row(id)
	if n.Status != state.NotifySent || n.RetryCount != 2 || !n.SentAt.Equal(at) || !n.NextRetryAt.IsZero() {
		t.Errorf("after attempt 3: %+v", n)
	}
	if s.hook.requests != 3 || len(s.hook.bodies) != 1 {
		t.Errorf("receiver got %d requests, accepted %d; want 3 and 1", s.hook.requests, len(s.hook.bodies))
	}
	for _, got := range s.hook.ids {
		if got != id {
			t.Errorf("a retry carried delivery id %q, want %q", got, id)
		}
	}
	var ev notify.Event
	if err := json.Unmarshal([]byte(s.hook.bodies[0]), &ev); err != nil || ev.ID != id || ev.Event != "issued" || !ev.OccurredAt.Equal(t0) {
		t.Errorf("delivered event = %+v, %v", ev, err)
	}
	// Nothing is due any more.
	if r := s.sweep(at.Add(time.Hour)); !r.Empty() {
		t.Errorf("sweep after delivery = %+v", r)
	}
}

func TestDeliverDeadThenRequeue(t *testing.T) {
	ctx := context.Background()
	s := newDeliverSetup(t, 100, 3)
	id := s.enqueue().ID
	at := t0
	for i := range 3 {
		r := s.sweep(at)
		if r.Failures() != 1 {
			t.Fatalf("sweep %d = %+v", i+1, r)
		}
		at = at.Add(time.Hour)
	}
	n := s.row(id)
	if n.Status != state.NotifyDead || n.RetryCount != 3 || !n.NextRetryAt.IsZero() {
		t.Fatalf("after the budget: %+v", n)
	}
	for _, secret := range []string{hookSecret, "tok-5ecret-path"} {
		if strings.Contains(n.LastError, secret) {
			t.Errorf("last_error shows a secret: %q", n.LastError)
		}
	}
	if !strings.Contains(n.LastError, "503") {
		t.Errorf("last_error = %q, want the receiver's status", n.LastError)
	}
	if r := s.sweep(at.Add(24 * time.Hour)); !r.Empty() {
		t.Errorf("a dead row was tried again: %+v", r)
	}
	snap, _ := s.db.Snapshot(ctx)
	p := Plan(s.cfg, snap, nil, at)
	if len(p.Notifications.Dead) != 1 || p.Notifications.Dead[0].Requeue != "certctl requeue "+id {
		t.Errorf("plan dead section = %+v", p.Notifications)
	}

	// The operator fixes the receiver and requeues: delivered once.
	s.hook.mu.Lock()
	s.hook.fail = 0
	s.hook.mu.Unlock()
	if _, err := s.db.Requeue(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := s.sweep(at); r.Sent != 1 {
		t.Fatalf("sweep after requeue = %+v", r)
	}
	if n = s.row(id); n.Status != state.NotifySent || n.RetryCount != 0 || len(s.hook.bodies) != 1 {
		t.Errorf("after requeue: %+v, %d accepted", n, len(s.hook.bodies))
	}
}

func TestDeliverDropsRowsOfRemovedNotifiers(t *testing.T) {
	s := newDeliverSetup(t, 0, 5)
	gone := s.enqueue().ID
	filtered := s.enqueue().ID
	delete(s.cfg.Notifiers, "ops")
	s.cfg.Notifiers["ops2"] = &spec.Notifier{Type: "webhook", Name: "ops2", Attrs: map[string]string{"url": "http://127.0.0.1:1/x"}}
	// Rewrite the second row as one for ops2, which no longer wants it.
	n := s.row(filtered)
	n.Notifier = "ops2"
	s.cfg.Notifiers["ops2"].Events = []string{"failed"}
	if err := s.db.UpdateNotifications(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if r := s.sweep(t0); r.Dropped != 2 || r.Failures() != 0 {
		t.Fatalf("sweep = %+v", r)
	}
	if n := s.row(gone); n.Status != state.NotifyDropped || n.Reason != "notifier.ops is no longer in the configuration" {
		t.Errorf("row of a removed notifier: %+v", n)
	}
	if n := s.row(filtered); n.Status != state.NotifyDropped || n.Reason != "notifier.ops2 no longer receives issued events" {
		t.Errorf("row a notifier filters out: %+v", n)
	}
	if s.hook.requests != 0 {
		t.Errorf("the receiver got %d requests", s.hook.requests)
	}
}

func TestDeliverInterruptedIsNotAnAttempt(t *testing.T) {
	s := newDeliverSetup(t, 0, 5)
	id := s.enqueue().ID
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, _ := Deliver(ctx, s.cfg, s.db, DeliverOptions{Now: func() time.Time { return t0 }})
	if !res.Empty() {
		t.Errorf("Deliver(cancelled) = %+v", res)
	}
	if n := s.row(id); n.Status != state.NotifyPending || n.RetryCount != 0 {
		t.Errorf("row after an interrupted sweep: %+v", n)
	}
}

func TestDeliverBadNotifierCountsAsAttempt(t *testing.T) {
	s := newDeliverSetup(t, 0, 2)
	id := s.enqueue().ID
	s.cfg.Notifiers["ops"].Attrs["url"] = "ftp://example.com/" + hookSecret
	s.sweep(t0)
	n := s.row(id)
	if n.Status != state.NotifyFailed || n.RetryCount != 1 || !strings.Contains(n.LastError, "url") || strings.Contains(n.LastError, hookSecret) {
		t.Errorf("row for a misconfigured notifier: %+v", n)
	}
}
