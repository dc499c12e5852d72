package reconcile

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

const day = 24 * time.Hour

// addNotifications gives richPlan a notifier, an expiry notice (mail: 10
// days left, notify_before 30d and 14d) and a queue with a dead row.
func addNotifications(cfg *spec.Config, snap *state.Snapshot) {
	cfg.Notifiers = map[string]*spec.Notifier{"ops": {
		Type: "webhook", Name: "ops", Attrs: map[string]string{"url": "https://hooks.example.com/certctl"},
		Retry: spec.Retry{Initial: 2 * time.Minute, Max: time.Hour, Attempts: 5},
	}}
	cfg.Teams["platform"].Notifiers = []string{"ops"}
	cfg.Policies["mail"].NotifyBefore = []time.Duration{30 * day, 14 * day}
	snap.NotificationCounts = map[string]int{state.NotifyPending: 1, state.NotifySent: 7, state.NotifyFailed: 2, state.NotifyDead: 1}
	snap.DeadNotifications = []*state.Notification{{
		ID: "0189f0c2a1b2c3d4e5f60718293a4b5c", Event: "failed", Certificate: "flaky", Notifier: "ops", Severity: "critical",
		CreatedAt: t0.Add(-2 * time.Hour), Status: state.NotifyDead, RetryCount: 5,
		LastError: "notifier.ops (webhook): HTTP 503 Service Unavailable: \"down for maintenance\"",
	}}
}

func TestFormatThreshold(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0d", 30 * day: "30d", 36 * time.Hour: "1d12h", 12 * time.Hour: "12h", 90 * time.Minute: "1h30m", -time.Hour: "0d",
	} {
		if got := FormatThreshold(d); got != want {
			t.Errorf("FormatThreshold(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestDueExpiryNotice(t *testing.T) {
	thresholds := []time.Duration{30 * day, 14 * day, 7 * day, 0}
	notAfter := t0.Add(90 * day)
	rec := func(notified ...string) *state.Certificate {
		r := &state.Certificate{Name: "www", Fingerprint: "fp1", NotAfter: notAfter}
		if notified != nil {
			r.Notified = &state.Notified{Fingerprint: "fp1", Notices: notified}
		}
		return r
	}
	older := rec()
	short := rec() // a 30-day certificate: notify_before 30d says nothing
	short.NotBefore = notAfter.Add(-30 * day)
	older.Notified = &state.Notified{Fingerprint: "fp0", Notices: []string{"expiring/30d", "expiring/14d", "expired"}}
	for _, tt := range []struct {
		name   string
		rec    *state.Certificate
		left   time.Duration // before not_after
		want   string        // "" for none, else "event/threshold"
		record []string
	}{
		{"far from expiry", rec(), 31 * day, "", nil},
		{"30d reached", rec(), 30 * day, "expiring/30d", []string{"expiring/30d"}},
		{"30d already raised", rec("expiring/30d"), 20 * day, "", nil},
		{"14d after 30d", rec("expiring/30d"), 13 * day, "expiring/14d", []string{"expiring/14d"}},
		{"first seen at 10d: one notice for the most urgent", rec(), 10 * day, "expiring/14d", []string{"expiring/14d", "expiring/30d"}},
		{"a new version starts afresh", older, 29 * day, "expiring/30d", []string{"expiring/30d"}},
		{"one hour left", rec("expiring/14d", "expiring/30d", "expiring/7d"), time.Hour, "", nil},
		{"expired stands for 0d", rec("expiring/14d", "expiring/30d", "expiring/7d"), 0, "expired", []string{"expired", "expiring/0d"}},
		{"expired once", rec("expired", "expiring/0d"), -day, "", nil},
		{"expired unseen", rec(), -day, "expired", []string{"expired", "expiring/0d", "expiring/14d", "expiring/30d", "expiring/7d"}},
		{"a threshold as long as the lifetime is ignored", short, 29 * day, "", nil},
		{"shorter thresholds still count", short, 13 * day, "expiring/14d", []string{"expiring/14d"}},
	} {
		n, ok := DueExpiryNotice(tt.rec, thresholds, notAfter.Add(-tt.left))
		got := ""
		if ok {
			got = n.Event
			if n.Event == notify.EventExpiring {
				got += "/" + FormatThreshold(n.Threshold)
			}
		}
		if got != tt.want || !slices.Equal(n.Record, tt.record) {
			t.Errorf("%s: DueExpiryNotice = %q %v, want %q %v", tt.name, got, n.Record, tt.want, tt.record)
		}
	}
	if _, ok := DueExpiryNotice(&state.Certificate{Name: "none"}, thresholds, t0); ok {
		t.Errorf("DueExpiryNotice(no certificate) is due")
	}
}

// notifyConfig is testConfig with a webhook notifier on team platform
// (www and mail) and thresholds on the standard policy.
func notifyConfig(dir, url string) *spec.Config {
	cfg := applyConfig(dir)
	cfg.Notifiers = map[string]*spec.Notifier{"ops": {
		Type: "webhook", Name: "ops", Attrs: map[string]string{"url": url},
		Retry: spec.Retry{Initial: time.Minute, Max: 4 * time.Minute, Attempts: 3},
	}}
	cfg.Teams["platform"].Notifiers = []string{"ops"}
	cfg.Policies["standard"].NotifyBefore = []time.Duration{30 * day, 14 * day, 7 * day, 0}
	return cfg
}

func TestPlanNotify(t *testing.T) {
	cfg := notifyConfig("/srv", "https://hooks.example.com/x")
	snap := appliedSnapshot(cfg)
	www := snap.Certificates["www"]
	www.NotBefore, www.NotAfter = t0.Add(-80*day), t0.Add(12*day)

	p := Plan(cfg, snap, observedAll(cfg), t0)
	want := []string{
		"R certificate.www: renewal window reached (renews at 2026-05-13T15:21:36Z, expires 2026-06-13T00:00:00Z)",
		"N certificate.www: expires 2026-06-13T00:00:00Z: notify_before 14d reached; skipped if the renew in this plan succeeds",
	}
	if got := describe(p); !slices.Equal(got, want) {
		t.Errorf("Plan() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ch := p.Changes[1]; ch.Event != "expiring" || ch.Threshold != "14d" || !slices.Equal(ch.Notifiers, []string{"ops"}) || p.Summary.Notify != 1 {
		t.Errorf("notify change = %+v, summary %+v", ch, p.Summary)
	}

	// Failed renewal waiting for its backoff: the notice still goes out.
	www.Status, www.LastError, www.NextAttemptAt = state.StatusFailed, "CA down", t0.Add(time.Hour)
	p = Plan(cfg, snap, observedAll(cfg), t0)
	if got := describe(p); len(got) != 2 || !strings.HasPrefix(got[0], "N certificate.www: expires 2026-06-13T00:00:00Z: notify_before 14d reached") || strings.Contains(got[0], "skipped") {
		t.Errorf("Plan(failing renewal) = %q", got)
	}

	// Raised already for this version: nothing to do.
	www.Notified = &state.Notified{Fingerprint: www.Fingerprint, Notices: []string{"expiring/14d", "expiring/30d"}}
	if p = Plan(cfg, snap, observedAll(cfg), t0); p.Summary.Notify != 0 {
		t.Errorf("Plan(notified) has %d notify changes", p.Summary.Notify)
	}

	// Nobody listens: no change (it stays due until someone does).
	www.Notified = nil
	cfg.Teams["platform"].Notifiers = nil
	if p = Plan(cfg, snap, observedAll(cfg), t0); p.Summary.Notify != 0 {
		t.Errorf("Plan(no notifiers) has %d notify changes", p.Summary.Notify)
	}
	cfg.Certificates["www"].Notifiers = []string{"ops"}
	cfg.Notifiers["ops"].Events = []string{"failed"}
	if p = Plan(cfg, snap, observedAll(cfg), t0); p.Summary.Notify != 0 {
		t.Errorf("Plan(notifier filters expiring out) has %d notify changes", p.Summary.Notify)
	}
}

func TestPlanQueueSection(t *testing.T) {
	_, _, p := richPlan(t)
	q := p.Notifications
	if len(q.Dead) != 1 || q.Dead[0].Requeue != "certctl requeue 0189f0c2a1b2c3d4e5f60718293a4b5c" || q.WaitingRetry != 2 || q.Pending != 1 {
		t.Errorf("Plan().Notifications = %+v", q)
	}
	// Dead rows alone are not changes: -detailed-exitcode stays 0.
	cfg := testConfig("/a")
	snap := appliedSnapshot(cfg)
	addNotifications(cfg, snap)
	cfg.Policies["mail"].NotifyBefore = nil
	if p := Plan(cfg, snap, observedAll(cfg), t0); p.HasChanges() || len(p.Notifications.Dead) != 1 {
		t.Errorf("Plan(only a dead row): HasChanges = %v, dead %d", p.HasChanges(), len(p.Notifications.Dead))
	}
}

// openQueue opens a real state in a temp dir.
func openQueue(t *testing.T) *state.DB {
	t.Helper()
	t.Setenv(state.KeyEnv, "")
	db, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func listRows(t *testing.T, q state.Notifications, f state.NotificationFilter) []*state.Notification {
	t.Helper()
	rows, err := q.ListNotifications(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// rowSummary is "event certificate -> notifier [status]".
func rowSummary(rows []*state.Notification) []string {
	var out []string
	for _, n := range rows {
		out = append(out, n.Event+" "+n.Certificate+" -> "+n.Notifier+" ["+n.Status+"]")
	}
	slices.Sort(out)
	return out
}

func TestApplyRaisesEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := notifyConfig(dir, "https://hooks.example.com/x")
	cfg.Owners["bob"].Notifiers = []string{"ops"}
	db := openQueue(t)
	exec := &recExec{}
	now := t0
	deps := Deps{Store: db, Notifications: db, Now: func() time.Time { return now }, Exec: exec.exec}

	snap, _ := db.Snapshot(ctx)
	res, err := Apply(ctx, Plan(cfg, snap, nil, now), cfg, deps)
	if err != nil {
		t.Fatalf("Apply = %v", err)
	}
	got := rowSummary(listRows(t, db, state.NotificationFilter{}))
	want := []string{
		"deployed mail -> ops [pending]",
		"deployed sites[\"api\"] -> ops [pending]",
		"deployed www -> ops [pending]",
		"issued mail -> ops [pending]",
		"issued sites[\"api\"] -> ops [pending]",
		"issued www -> ops [pending]",
	}
	if !slices.Equal(got, want) || res.Failed != 0 {
		t.Errorf("rows after the first apply =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var row *state.Notification
	for _, n := range listRows(t, db, state.NotificationFilter{Certificate: "www"}) {
		if n.Event == "issued" {
			row = n
		}
	}
	var ev notify.Event
	if err := json.Unmarshal(row.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if row.Event != "issued" || ev.ID != row.ID || ev.Certificate.Serial == "" || ev.Certificate.Owner != "alice" || ev.Severity != "info" || ev.OccurredAt != now {
		t.Errorf("issued event = %+v (row %s)", ev, row.ID)
	}

	// A failing deploy is announced once, not on every apply that repeats it.
	exec.fail = map[string]error{"nginx -t": errorString("config test failed")}
	for i := range 2 {
		now = now.Add(time.Minute)
		snap, _ = db.Snapshot(ctx)
		obs := Observed{"www": {"local": "drifted"}}
		if _, err := Apply(ctx, Plan(cfg, snap, obs, now), cfg, deps); err == nil {
			t.Fatalf("apply %d with a failing validate succeeded", i)
		}
	}
	failed := listRows(t, db, state.NotificationFilter{Certificate: "www"})
	if got := rowSummary(failed); !slices.Equal(got, []string{"deployed www -> ops [pending]", "failed www -> ops [pending]", "issued www -> ops [pending]"}) {
		t.Errorf("www rows after two failing deploys = %q", got)
	}

	// Expiry: 10 days left is one notice (14d), raised once, recorded on
	// the certificate; a renewal in the same plan that succeeds makes it moot.
	exec.fail = nil
	now = t0.Add(90*day - 10*day)
	cfg.Policies["mail"].NotifyBefore = []time.Duration{14 * day}
	snap, _ = db.Snapshot(ctx)
	p := Plan(cfg, snap, Observed{"www": {"local": "x"}}, now)
	if p.Summary.Notify != 3 || p.Summary.Renew != 3 {
		t.Fatalf("plan at 10 days left: %+v", p.Summary)
	}
	// mail's renewal fails: its notice is sent; the others renew.
	deps.Issuers = map[string]Issuer{}
	failIssuer := issuerFunc(func() error { return errorString("CA unreachable") })
	cfg.Certificates["mail"].Issuer = "broken"
	cfg.Issuers["broken"] = &spec.Issuer{Type: "acme", Name: "broken"}
	deps.Issuers["broken"] = failIssuer
	// Apply the plan made before the issuer switch: mail's renew goes to
	// "broken" because Apply reads the issuer from the configuration.
	res, _ = Apply(ctx, p, cfg, deps)
	if res.Notified != 1 || res.Renewed != 2 {
		t.Errorf("Apply at 10 days left: %+v", res)
	}
	exp := listRows(t, db, state.NotificationFilter{Certificate: "mail"})
	var kinds []string
	for _, n := range exp {
		kinds = append(kinds, n.Event)
	}
	if !slices.Contains(kinds, "expiring") || !slices.Contains(kinds, "failed") || slices.Contains(kinds, "renewed") {
		t.Errorf("mail rows = %v, want an expiring and a failed row, no renewed", kinds)
	}
	for _, n := range listRows(t, db, state.NotificationFilter{Certificate: "www"}) {
		if n.Event == "expiring" {
			t.Errorf("www was renewed, but its expiry notice was sent: %+v", n)
		}
	}
	snap, _ = db.Snapshot(ctx)
	if n := snap.Certificates["mail"].Notified; n == nil || !slices.Equal(n.Notices, []string{"expiring/14d"}) {
		t.Errorf("mail Notified = %+v", n)
	}
	// The next plan raises nothing new for mail.
	for _, ch := range Plan(cfg, snap, nil, now.Add(time.Hour)).Changes {
		if ch.Action == ActionNotify {
			t.Errorf("notice raised twice: %+v", ch)
		}
	}
}

type issuerFunc func() error

func (f issuerFunc) Issue(context.Context, pki.IssueRequest) (*pki.Issued, error) { return nil, f() }

// testDelivery is a sweep with one row of each outcome.
func testDelivery() *DeliveryResult {
	row := func(id, event, status string, retries int) *state.Notification {
		return &state.Notification{ID: id, Event: event, Certificate: "www", Notifier: "ops", CreatedAt: t0, Status: status, RetryCount: retries}
	}
	sent := row("18b4cbf3a3930000cb58cded6f588801", "issued", state.NotifySent, 2)
	sent.SentAt, sent.LastError = t0, "notifier.ops (webhook): HTTP 502 Bad Gateway"
	failed := row("18b4cbf3a3930000cb58cded6f588802", "deployed", state.NotifyFailed, 1)
	failed.LastError, failed.NextRetryAt = "notifier.ops (webhook): HTTP 503 Service Unavailable", t0.Add(2*time.Minute)
	dead := row("18b4cbf3a3930000cb58cded6f588803", "failed", state.NotifyDead, 5)
	dead.LastError = "notifier.ops (webhook): Post \"https://hooks.example.com/[REDACTED]\": connection refused"
	dropped := row("18b4cbf3a3930000cb58cded6f588804", "expiring", state.NotifyDropped, 0)
	dropped.Notifier, dropped.Reason = "old", "notifier.old is no longer in the configuration"
	return &DeliveryResult{Sent: 1, Failed: 1, Dead: 1, Dropped: 1, Rows: []*state.Notification{sent, failed, dead, dropped}}
}

func TestResultStringNotified(t *testing.T) {
	r := &Result{Renewed: 1, Notified: 2}
	want := "Apply complete: 0 created, 1 renewed, 0 replaced, 0 updated, 0 deployed, 0 forgotten, 2 notified, 0 failed."
	if r.String() != want {
		t.Errorf("Result.String() = %q, want %q", r.String(), want)
	}
	if got := (Summary{Renew: 1, Notify: 1}).SummaryLine(); got != "Plan: 0 to create, 1 to renew, 0 to replace, 0 to update, 0 to deploy, 0 to forget, 1 to notify." {
		t.Errorf("SummaryLine() = %q", got)
	}
}

// countingQueue is a state.DB that counts the rows written on their own,
// apart from a certificate record.
type countingQueue struct {
	*state.DB
	alone atomic.Int64
}

func (q *countingQueue) EnqueueNotifications(ctx context.Context, rows ...*state.Notification) error {
	q.alone.Add(int64(len(rows)))
	return q.DB.EnqueueNotifications(ctx, rows...)
}

// Every certificate an apply issues has its issued event, with its serial:
// committed with the record when the store is the queue, written after it
// when it is not.
func TestApplyCommitsEventsWithRecords(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(map[bool]string{true: "one transaction", false: "two writes"}[shared], func(t *testing.T) {
			ctx := context.Background()
			cfg := notifyConfig(t.TempDir(), "https://hooks.example.com/x")
			cfg.Owners["bob"].Notifiers = []string{"ops"} // every certificate is routed
			q := &countingQueue{DB: openQueue(t)}
			var store state.Store = q
			if !shared {
				store = newMemStore()
			}
			deps := Deps{Store: store, Notifications: q, Now: func() time.Time { return t0 }, Exec: (&recExec{}).exec}
			snap, err := store.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := Apply(ctx, Plan(cfg, snap, nil, t0), cfg, deps); err != nil || res.Created == 0 {
				t.Fatalf("Apply = %v, %v", res, err)
			}
			if snap, err = store.Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
			rows := listRows(t, q, state.NotificationFilter{})
			for name, rec := range snap.Certificates {
				var serials []string
				for _, n := range rows {
					var ev notify.Event
					if err := json.Unmarshal(n.Payload, &ev); err != nil {
						t.Fatal(err)
					}
					if n.Certificate == name && n.Event == notify.EventIssued {
						serials = append(serials, ev.Certificate.Serial)
					}
				}
				if rec.Fingerprint == "" || !slices.Equal(serials, []string{rec.Serial}) {
					t.Errorf("%s (serial %q): issued rows with serials %q, want one with its serial", name, rec.Serial, serials)
				}
			}
			alone := q.alone.Load()
			if shared && alone != 0 || !shared && alone != int64(len(rows)) {
				t.Errorf("%d of %d rows written apart from their record (shared store %v)", alone, len(rows), shared)
			}
		})
	}
}
