package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

type nopSender struct{}

func (nopSender) Send(context.Context, notify.Event) error { return nil }

// BenchmarkDeliverSweep is a whole sweep — read the due index, send, record
// each outcome durably — over 100,000 stored rows of which 100 are due,
// with a sender that accepts at once. The read alone is state's
// BenchmarkDueSweep; the rest is 100 durable updates, grouped into a few
// fsyncs by the store's batching.
func BenchmarkDeliverSweep(b *testing.B) {
	ctx := context.Background()
	b.Setenv(state.KeyEnv, "")
	db, err := state.Open(b.TempDir()+"/state.db", state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cfg := &spec.Config{Notifiers: map[string]*spec.Notifier{"ops": {Type: "webhook", Name: "ops", Retry: spec.Retry{Initial: time.Minute, Max: time.Hour, Attempts: 5}}}}
	row := func(at time.Time, status string) *state.Notification {
		n := &state.Notification{Event: "issued", Certificate: "www", Notifier: "ops", Severity: "info", CreatedAt: at, Status: status,
			Payload: []byte(`{"version":1,"id":"x","event":"issued","severity":"info","certificate":{"name":"www","common_name":"www.example.com","dns_names":[]},"message":"m","occurred_at":"2026-06-01T00:00:00Z"}`)}
		if status == state.NotifyFailed {
			n.RetryCount, n.NextRetryAt = 1, at.Add(24*time.Hour)
		}
		return n
	}
	for chunk := 0; chunk < 10; chunk++ {
		rows := make([]*state.Notification, 0, 10000)
		for i := range 10000 {
			status := state.NotifySent
			if i%2 == 0 {
				status = state.NotifyFailed // in the due index, not due
			}
			rows = append(rows, row(t0.Add(-time.Hour), status))
		}
		if err := db.EnqueueNotifications(ctx, rows...); err != nil {
			b.Fatal(err)
		}
	}
	opts := DeliverOptions{Now: func() time.Time { return t0 }, NewSender: func(*spec.Notifier) (notify.Sender, error) { return nopSender{}, nil }}
	for b.Loop() {
		b.StopTimer()
		due := make([]*state.Notification, 100)
		for i := range due {
			due[i] = row(t0.Add(-time.Minute), state.NotifyPending)
		}
		if err := db.EnqueueNotifications(ctx, due...); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Deliver(ctx, cfg, db, opts)
		if err != nil || res.Sent != 100 {
			b.Fatalf("Deliver = %+v, %v", res, err)
		}
	}
}
