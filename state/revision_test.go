package state

import (
	"context"
	"testing"
	"time"
)

func TestRevisionRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	snap, err := db.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != nil {
		t.Fatalf("new state has revision %+v", snap.Revision)
	}
	if err := db.PutRevision(ctx, &Revision{}); err == nil {
		t.Error("PutRevision of an empty ID succeeded")
	}
	want := &Revision{ID: "9fceb02d0ae598e95dc970b74767f19372d61af8", Author: "Alice <alice@example.com>",
		Source: "git file:///srv/pki.git (main) certs", AppliedAt: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.PutRevision(ctx, want); err != nil {
		t.Fatal(err)
	}
	for _, read := range []func(context.Context) (*Snapshot, error){db.Snapshot, db.Summary} {
		snap, err := read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := snap.Revision; got == nil || *got != *want {
			t.Errorf("Revision = %+v, want %+v", got, want)
		}
	}
}

func TestNextNotificationDue(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	if _, ok, err := db.NextNotificationDue(ctx); err != nil || ok {
		t.Fatalf("NextNotificationDue on an empty queue = %v, %v; want none", ok, err)
	}
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	late, early := newRow("www", t0.Add(time.Hour)), newRow("api", t0)
	if err := db.EnqueueNotifications(ctx, late, early); err != nil {
		t.Fatal(err)
	}
	at, ok, err := db.NextNotificationDue(ctx)
	if err != nil || !ok || !at.Equal(t0) {
		t.Fatalf("NextNotificationDue = %s, %v, %v; want %s", at, ok, err, t0)
	}
	// Sent rows leave the due index: the next due is the other one.
	early.Status, early.SentAt = NotifySent, t0
	if err := db.UpdateNotifications(ctx, early); err != nil {
		t.Fatal(err)
	}
	if at, ok, err = db.NextNotificationDue(ctx); err != nil || !ok || !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after sending the first, NextNotificationDue = %s, %v, %v; want %s", at, ok, err, t0.Add(time.Hour))
	}
}
