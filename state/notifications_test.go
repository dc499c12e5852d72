package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func newRow(cert string, at time.Time) *Notification {
	return &Notification{
		Event:       "expiring",
		Certificate: cert,
		Notifier:    "ops",
		Severity:    "warning",
		Payload:     json.RawMessage(`{"threshold":"14d","not_after":"2026-05-30T12:00:00Z"}`),
		CreatedAt:   at,
	}
}

// checkIndexes verifies that notify_due and notify_status hold exactly the
// keys the rows imply.
func checkIndexes(t *testing.T, db *DB) {
	t.Helper()
	err := db.view(func(tx *bbolt.Tx) error {
		nt, err := openNotifyTx(tx)
		if err != nil {
			return err
		}
		wantDue, wantStatus := map[string]bool{}, map[string]bool{}
		err = nt.rows.ForEach(func(k, v []byte) error {
			n, err := decodeNotification(string(k), v)
			if err != nil {
				return err
			}
			if n.ID != string(k) {
				t.Errorf("row under key %s has ID %s", k, n.ID)
			}
			if dk := dueKey(n); dk != nil {
				wantDue[string(dk)] = true
			}
			wantStatus[string(statusKey(n.Status, n.ID))] = true
			return nil
		})
		if err != nil {
			return err
		}
		for name, c := range map[string]struct {
			b    *bbolt.Bucket
			want map[string]bool
		}{"notify_due": {nt.due, wantDue}, "notify_status": {nt.status, wantStatus}} {
			got := map[string]bool{}
			_ = c.b.ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s has %d keys, rows imply %d (or they differ)", name, len(got), len(c.want))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNotificationLifecycle(t *testing.T) {
	db := openTemp(t)
	now := t0
	a, b, c := newRow("www", now), newRow("api", now.Add(time.Second)), newRow("db", now.Add(2*time.Second))
	if err := db.EnqueueNotifications(bg, a, b, c); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Notification{a, b, c} {
		if len(n.ID) != 32 || n.Status != NotifyPending {
			t.Fatalf("enqueued row: ID %q, status %q", n.ID, n.Status)
		}
	}
	if !(a.ID < b.ID && b.ID < c.ID) {
		t.Errorf("IDs do not sort by creation: %s %s %s", a.ID, b.ID, c.ID)
	}
	checkIndexes(t, db)

	// Pending rows are due at CreatedAt.
	due, err := db.DueNotifications(bg, now.Add(time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids(due) != ids([]*Notification{a, b}) {
		t.Fatalf("DueNotifications(now+1s) = %s, want %s", ids(due), ids([]*Notification{a, b}))
	}
	if !reflect.DeepEqual(due[0], a) {
		t.Errorf("stored row = %+v, want %+v", due[0], a)
	}
	if due, _ := db.DueNotifications(bg, now.Add(time.Hour), 2); len(due) != 2 {
		t.Errorf("DueNotifications(limit 2) returned %d rows", len(due))
	}

	// a is sent; b fails and is scheduled in 2 minutes; c fails for good.
	a.Status, a.SentAt = NotifySent, now
	b.Status, b.RetryCount, b.NextRetryAt, b.LastError = NotifyFailed, 1, now.Add(2*time.Minute), "503 Service Unavailable"
	c.Status, c.RetryCount, c.NextRetryAt, c.LastError = NotifyDead, 5, now.Add(time.Hour), "connection refused"
	if err := db.UpdateNotifications(bg, a, b, c); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, db)
	if !c.NextRetryAt.IsZero() {
		t.Error("a dead row kept its next_retry_at")
	}
	if due, _ := db.DueNotifications(bg, now.Add(time.Minute), 0); len(due) != 0 {
		t.Errorf("rows due before b's retry: %s", ids(due))
	}
	due, _ = db.DueNotifications(bg, now.Add(2*time.Minute), 0)
	if ids(due) != b.ID || due[0].RetryCount != 1 || due[0].LastError != "503 Service Unavailable" {
		t.Errorf("due at b's retry time = %+v", due)
	}

	counts, err := db.NotificationCounts(bg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{NotifyPending: 0, NotifySent: 1, NotifyFailed: 1, NotifyDead: 1, NotifyDropped: 0}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("NotificationCounts = %v, want %v", counts, want)
	}
	snap, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snap.NotificationCounts, want) || ids(snap.DeadNotifications) != c.ID || snap.DeadNotifications[0].LastError != "connection refused" {
		t.Errorf("Snapshot notifications = %v, dead %s; want %v, dead %s", snap.NotificationCounts, ids(snap.DeadNotifications), want, c.ID)
	}
	dead, _ := db.ListNotifications(bg, NotificationFilter{Status: NotifyDead})
	if ids(dead) != c.ID {
		t.Errorf("ListNotifications(dead) = %s, want %s", ids(dead), c.ID)
	}
	all, _ := db.ListNotifications(bg, NotificationFilter{})
	if ids(all) != ids([]*Notification{a, b, c}) {
		t.Errorf("ListNotifications() = %s", ids(all))
	}
	if got, _ := db.ListNotifications(bg, NotificationFilter{Certificate: "api"}); ids(got) != b.ID {
		t.Errorf("ListNotifications(certificate api) = %s", ids(got))
	}
	if _, err := db.ListNotifications(bg, NotificationFilter{Status: "lost"}); err == nil {
		t.Error("ListNotifications(status lost) succeeded")
	}

	// Updating an unknown row fails and writes nothing.
	ghost := newRow("x", now)
	ghost.ID, ghost.Status = "00000000000000000000000000000000", NotifySent
	b2 := *b
	b2.Status = NotifySent
	if err := db.UpdateNotifications(bg, &b2, ghost); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateNotifications(unknown) = %v, want ErrNotFound", err)
	}
	if got, _ := db.Notification(bg, b.ID); got.Status != NotifyFailed {
		t.Errorf("a failed update changed b to %s", got.Status)
	}
	// Enqueueing an existing ID fails.
	if err := db.EnqueueNotifications(bg, &Notification{ID: a.ID, CreatedAt: now}); err == nil {
		t.Error("enqueueing an existing ID succeeded")
	}
	for name, bad := range map[string]*Notification{
		"no created_at": {Event: "x"},
		"bad status":    {CreatedAt: now, Status: "lost"},
		"bad ID":        {CreatedAt: now, ID: "xyz"},
	} {
		if err := db.EnqueueNotifications(bg, bad); err == nil {
			t.Errorf("EnqueueNotifications(%s) succeeded", name)
		}
	}
	checkIndexes(t, db)
}

func TestRequeue(t *testing.T) {
	db := openTemp(t)
	s0, _ := db.Snapshot(bg)
	defer func() {
		// Notification writes leave the serial alone: a retry sweep must
		// not make saved plans stale.
		if s1, _ := db.Snapshot(bg); s1.Serial != s0.Serial {
			t.Errorf("notification writes moved the serial from %d to %d", s0.Serial, s1.Serial)
		}
	}()
	now := t0
	rows := []*Notification{newRow("a", now), newRow("b", now), newRow("c", now), newRow("d", now)}
	if err := db.EnqueueNotifications(bg, rows...); err != nil {
		t.Fatal(err)
	}
	for _, n := range rows[:3] {
		n.Status, n.RetryCount, n.LastError = NotifyDead, 5, "timeout"
	}
	rows[3].Status, rows[3].SentAt, rows[3].RetryCount = NotifySent, now, 2
	if err := db.UpdateNotifications(bg, rows...); err != nil {
		t.Fatal(err)
	}

	got, err := db.Requeue(bg, rows[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != NotifyPending || got.RetryCount != 0 || !got.NextRetryAt.IsZero() || got.LastError != "" {
		t.Errorf("requeued row = %+v", got)
	}
	stored, _ := db.Notification(bg, rows[0].ID)
	if !reflect.DeepEqual(stored, got) {
		t.Errorf("stored %+v, returned %+v", stored, got)
	}
	// Due at once: any sweep from now on sees it.
	if due, _ := db.DueNotifications(bg, now, 0); ids(due) != rows[0].ID {
		t.Errorf("after requeue, due = %s, want %s", ids(due), rows[0].ID)
	}

	// Not dead (now pending, or sent) and unknown rows are refused.
	for _, id := range []string{rows[0].ID, rows[3].ID} {
		if _, err := db.Requeue(bg, id); !errors.Is(err, ErrNotDead) {
			t.Errorf("Requeue(non-dead) = %v, want ErrNotDead", err)
		}
	}
	if _, err := db.Requeue(bg, "ffffffffffffffffffffffffffffffff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Requeue(unknown) = %v, want ErrNotFound", err)
	}
	if sent, _ := db.Notification(bg, rows[3].ID); sent.Status != NotifySent || sent.RetryCount != 2 {
		t.Errorf("refused requeue changed the sent row: %+v", sent)
	}

	requeued, err := db.RequeueAllDead(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(requeued) != 2 || requeued[0] > requeued[1] {
		t.Errorf("RequeueAllDead = %v, want the 2 remaining dead rows in order", requeued)
	}
	counts, _ := db.NotificationCounts(bg)
	if counts[NotifyDead] != 0 || counts[NotifyPending] != 3 || counts[NotifySent] != 1 {
		t.Errorf("counts after RequeueAllDead = %v", counts)
	}
	if again, err := db.RequeueAllDead(bg); err != nil || len(again) != 0 {
		t.Errorf("second RequeueAllDead = %v, %v", again, err)
	}
	checkIndexes(t, db)
}

// Random updates keep the indexes consistent with the rows.
func TestNotificationIndexConsistency(t *testing.T) {
	db := openTemp(t)
	var rows []*Notification
	for i := range 200 {
		rows = append(rows, newRow(fmt.Sprint("c", i%7), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	if err := db.EnqueueNotifications(bg, rows...); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		for i, n := range rows {
			switch (i + round*3) % 5 {
			case 0:
				n.Status, n.SentAt = NotifySent, t0
			case 1:
				n.Status, n.RetryCount, n.NextRetryAt = NotifyFailed, n.RetryCount+1, t0.Add(time.Duration(i+round)*time.Minute)
			case 2:
				n.Status = NotifyDead
			case 3:
				n.Status, n.Reason = NotifyDropped, "notifier ops removed"
			case 4:
				n.Status, n.NextRetryAt = NotifyPending, time.Time{}
			}
		}
		if err := db.UpdateNotifications(bg, rows...); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RequeueAllDead(bg); err != nil {
			t.Fatal(err)
		}
		checkIndexes(t, db)
	}
	// The sweep agrees with a scan of all rows.
	now := t0.Add(100 * time.Minute)
	due, _ := db.DueNotifications(bg, now, 0)
	all, _ := db.ListNotifications(bg, NotificationFilter{})
	n := 0
	for _, r := range all {
		if at, ok := r.DueAt(); ok && !at.After(now) {
			n++
		}
	}
	if len(due) != n {
		t.Errorf("DueNotifications = %d rows, a full scan finds %d", len(due), n)
	}
	for i := 1; i < len(due); i++ {
		a, _ := due[i-1].DueAt()
		b, _ := due[i].DueAt()
		if a.After(b) {
			t.Fatalf("due rows out of order at %d", i)
		}
	}
}

// Payload bytes are copied out of the transaction and never alias a
// decoder buffer.
func TestNotificationPayloadCopied(t *testing.T) {
	db := openTemp(t)
	var rows []*Notification
	for i := range 50 {
		r := newRow("c", t0)
		r.Payload = json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":"%0100d"}`, i, i))
		rows = append(rows, r)
	}
	if err := db.EnqueueNotifications(bg, rows...); err != nil {
		t.Fatal(err)
	}
	got, _ := db.ListNotifications(bg, NotificationFilter{})
	_, _ = db.Snapshot(bg) // more decoding, to overwrite any reused buffer
	want := map[string]json.RawMessage{}
	for _, r := range rows {
		want[r.ID] = r.Payload
	}
	for _, r := range got {
		if !bytes.Equal(r.Payload, want[r.ID]) {
			t.Fatalf("payload of %s = %s, want %s", r.ID, r.Payload, want[r.ID])
		}
	}
}

// TestKillSafety kills a process that enqueues and updates rows, at an
// arbitrary moment, with SIGKILL (no Close, no deferred code). Every row it
// reported as written must be in the state, with consistent indexes.
func TestKillSafety(t *testing.T) {
	if os.Getenv("CERTCTL_STATE_KILL_CHILD") != "" {
		killChild()
		return
	}
	path := testPath(t)
	mustOpen(t, path, Options{}).Close() // create the key file first
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillSafety$")
	cmd.Env = append(os.Environ(), "CERTCTL_STATE_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	written := map[string]string{} // id → last status reported durable
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(written) < 300 {
		var id, status string
		if _, err := fmt.Sscan(sc.Text(), &id, &status); err == nil {
			written[id] = status
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if len(written) < 300 {
		t.Fatalf("child reported only %d rows before exiting", len(written))
	}

	db := mustOpen(t, path, Options{})
	defer db.Close()
	for id, status := range written {
		n, err := db.Notification(bg, id)
		if err != nil {
			t.Fatalf("row %s reported durable is lost: %v", id, err)
		}
		// The child may have moved it on after reporting; never back.
		if status == NotifySent && n.Status != NotifySent {
			t.Errorf("row %s: reported sent, stored %s", id, n.Status)
		}
	}
	checkIndexes(t, db)
}

// killChild enqueues rows and marks every other one sent, forever, printing
// "ID status" after each call returns (that is, once it is durable).
func killChild() {
	db, err := Open(os.Getenv("CERTCTL_STATE_KILL_CHILD"), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		n := newRow(fmt.Sprint("c", i), t0.Add(time.Duration(i)*time.Second))
		if err := db.EnqueueNotifications(bg, n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(n.ID, n.Status)
		if i%2 == 0 {
			n.Status, n.SentAt = NotifySent, t0
			if err := db.UpdateNotifications(bg, n); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Println(n.ID, n.Status)
		}
	}
}

func ids(rows []*Notification) string {
	var b bytes.Buffer
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.ID)
	}
	return b.String()
}

func TestNotificationID(t *testing.T) {
	a, _ := NewNotificationID(t0)
	b, _ := NewNotificationID(t0)
	if a == b || a[:16] != b[:16] {
		t.Errorf("IDs at the same time: %s, %s; want same time prefix, different suffix", a, b)
	}
	raw := make([]byte, 8)
	binary.BigEndian.PutUint64(raw, uint64(t0.UnixNano()))
	if a[:16] != fmt.Sprintf("%x", raw) {
		t.Errorf("ID %s does not start with the creation time", a)
	}
	if z, _ := NewNotificationID(time.Time{}); z[:16] != "0000000000000000" {
		t.Errorf("ID for the zero time = %s", z)
	}
}
