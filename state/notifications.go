package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Notification statuses (DESIGN.md, Notifications): pending → sent, or
// failed (retried at NextRetryAt) → … → dead; dropped closes a row whose
// notifier no longer exists.
const (
	NotifyPending = "pending"
	NotifySent    = "sent"
	NotifyFailed  = "failed"
	NotifyDead    = "dead"
	NotifyDropped = "dropped"
)

// NotifyStatuses lists every notification status in a fixed order.
func NotifyStatuses() []string {
	return []string{NotifyPending, NotifySent, NotifyFailed, NotifyDead, NotifyDropped}
}

func validNotifyStatus(s string) bool {
	for _, v := range NotifyStatuses() {
		if s == v {
			return true
		}
	}
	return false
}

// Notification is one event for one notifier: a durable row written before
// any delivery is tried. The store keeps it; deciding statuses and retry
// times (backoff) is the caller's job.
type Notification struct {
	// ID is 32 hex digits: the creation time (unix nanoseconds, 8 bytes
	// big-endian) then 8 random bytes, so IDs sort by creation.
	ID          string          `json:"id"`
	Event       string          `json:"event"`
	Certificate string          `json:"certificate"`
	Notifier    string          `json:"notifier"`
	Severity    string          `json:"severity,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"` // event details
	CreatedAt   time.Time       `json:"created_at"`
	Status      string          `json:"status"`
	// RetryCount is the number of failed attempts; success never resets
	// it, so a sent row says "delivered on attempt RetryCount+1".
	RetryCount  int       `json:"retry_count"`
	NextRetryAt time.Time `json:"next_retry_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	SentAt      time.Time `json:"sent_at,omitzero"`
	Reason      string    `json:"reason,omitempty"` // why it was dropped
}

// DueAt is when a sweep should try the row, and whether it is due at all:
// pending and failed rows are due at NextRetryAt, or at CreatedAt when
// that is unset (a new or requeued row); other statuses never are.
func (n *Notification) DueAt() (time.Time, bool) {
	if n.Status != NotifyPending && n.Status != NotifyFailed {
		return time.Time{}, false
	}
	if !n.NextRetryAt.IsZero() {
		return n.NextRetryAt, true
	}
	return n.CreatedAt, true
}

// NotificationFilter selects rows for ListNotifications. Zero fields match
// everything.
type NotificationFilter struct {
	Status      string
	Certificate string
	Notifier    string
	Limit       int // at most this many rows (0: no limit)
}

// Notifications is the durable notification queue. *DB implements it. It is
// apart from Store so that fakes of Store need not grow, and so that another
// backend can add it later.
//
// Every write is atomic with the indexes it maintains and durable before it
// returns. Delivery is at-least-once: a crash after a notifier accepted an
// event but before UpdateNotifications recorded "sent" delivers it again.
type Notifications interface {
	// EnqueueNotifications stores new rows, durably, in one transaction.
	EnqueueNotifications(ctx context.Context, rows ...*Notification) error
	// DueNotifications returns up to limit pending or failed rows due at or
	// before now, earliest first. It reads the due index only.
	DueNotifications(ctx context.Context, now time.Time, limit int) ([]*Notification, error)
	// UpdateNotifications replaces existing rows and moves their index
	// entries, in one transaction.
	UpdateNotifications(ctx context.Context, rows ...*Notification) error
	// Requeue revives one dead row; RequeueAllDead revives them all.
	Requeue(ctx context.Context, id string) (*Notification, error)
	RequeueAllDead(ctx context.Context) ([]string, error)
	// Notification returns one row.
	Notification(ctx context.Context, id string) (*Notification, error)
	ListNotifications(ctx context.Context, f NotificationFilter) ([]*Notification, error)
	// NotificationCounts counts rows by status; every status is present.
	NotificationCounts(ctx context.Context) (map[string]int, error)
}

var _ Notifications = (*DB)(nil)

// NewNotificationID returns a fresh ID for a row created at t.
func NewNotificationID(t time.Time) (string, error) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(unixNano(t)))
	if _, err := rand.Read(b[8:]); err != nil {
		return "", fmt.Errorf("generating notification ID: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// unixNano is t in unix nanoseconds, clamped to what an index key holds:
// times before 1970 (and the zero time) sort first, times after 2262 last.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, 1<<63-1)):
		return 1<<63 - 1
	}
	return t.UnixNano()
}

// Index keys. notify_due: due time (8 bytes big-endian unix-nano) + ID, so
// a cursor walks rows in due order and stops at the first one after now.
// notify_status: status + NUL + ID, so a status's rows are one key range.
func dueKey(n *Notification) []byte {
	at, ok := n.DueAt()
	if !ok {
		return nil
	}
	k := make([]byte, 8, 8+len(n.ID))
	binary.BigEndian.PutUint64(k, uint64(unixNano(at)))
	return append(k, n.ID...)
}

func statusKey(status, id string) []byte {
	return append(statusPrefix(status), id...)
}

func statusPrefix(status string) []byte {
	return append([]byte(status), 0)
}

type notificationEntry struct {
	V int           `json:"v"`
	N *Notification `json:"notification"`
}

func encodeNotification(n *Notification) ([]byte, error) {
	return json.Marshal(notificationEntry{V: entryVersion, N: n})
}

// decodeNotification copies everything out of v (see unmarshal).
func decodeNotification(id string, v []byte) (*Notification, error) {
	var e notificationEntry
	if err := unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("notification %s: %w", id, err)
	}
	if err := checkEntryVersion(e.V, "notification", id); err != nil {
		return nil, err
	}
	if e.N == nil {
		return nil, fmt.Errorf("notification %s: empty entry", id)
	}
	return e.N, nil
}

// normalize checks a row before it is written and clears NextRetryAt for
// statuses that are never retried, so a dead row cannot look scheduled.
func normalize(n *Notification) error {
	if n == nil {
		return errors.New("nil notification")
	}
	if len(n.ID) != 32 {
		return fmt.Errorf("notification ID %q: want 32 hex digits", n.ID)
	}
	if _, err := hex.DecodeString(n.ID); err != nil {
		return fmt.Errorf("notification ID %q: want 32 hex digits", n.ID)
	}
	if !validNotifyStatus(n.Status) {
		return fmt.Errorf("notification %s: unknown status %q", n.ID, n.Status)
	}
	if n.CreatedAt.IsZero() {
		return fmt.Errorf("notification %s: created_at is not set", n.ID)
	}
	if n.Status != NotifyPending && n.Status != NotifyFailed {
		n.NextRetryAt = time.Time{}
	}
	return nil
}

// notifyTx bundles the buckets a notification write touches.
type notifyTx struct {
	rows, due, status *bbolt.Bucket
}

func openNotifyTx(tx *bbolt.Tx) (notifyTx, error) {
	t := notifyTx{tx.Bucket(bucketNotifications), tx.Bucket(bucketNotifyDue), tx.Bucket(bucketNotifyStatus)}
	if t.rows == nil || t.due == nil || t.status == nil {
		return t, errors.New("notification buckets missing")
	}
	return t, nil
}

// get reads and decodes a row inside a transaction; nil if absent.
func (t notifyTx) get(id string) (*Notification, error) {
	v := t.rows.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return decodeNotification(id, v)
}

// put writes n and moves its index entries from where old had them. old is
// nil for a new row. The row and both indexes change in the caller's
// transaction, so they are never seen out of step.
func (t notifyTx) put(old, n *Notification, val []byte) error {
	if old != nil {
		if k := dueKey(old); k != nil {
			if err := t.due.Delete(k); err != nil {
				return err
			}
		}
		if err := t.status.Delete(statusKey(old.Status, old.ID)); err != nil {
			return err
		}
	}
	if err := t.rows.Put([]byte(n.ID), val); err != nil {
		return err
	}
	if k := dueKey(n); k != nil {
		if err := t.due.Put(k, nil); err != nil {
			return err
		}
	}
	return t.status.Put(statusKey(n.Status, n.ID), nil)
}

// EnqueueNotifications stores new rows durably before returning, all in one
// transaction (shared with concurrent writers). A row without an ID gets
// one from NewNotificationID(CreatedAt), and a row without a Status is
// pending; both are filled in on the caller's row. CreatedAt must be set.
// An ID that already exists is an error and nothing is stored.
func (db *DB) EnqueueNotifications(ctx context.Context, rows ...*Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	enqueue, err := prepareNotifications(rows)
	if err != nil {
		return err
	}
	if err := db.batch(keepsSerial, enqueue); err != nil {
		return fmt.Errorf("enqueueing notifications: %w", err)
	}
	return nil
}

// prepareNotifications fills in, checks and encodes new rows (see
// EnqueueNotifications) and returns the function that stores them, with
// their index entries, in a transaction. It may run more than once (see
// DB.batch): it only puts the values encoded here.
func prepareNotifications(rows []*Notification) (func(tx *bbolt.Tx) error, error) {
	vals := make([][]byte, len(rows))
	for i, n := range rows {
		if n == nil {
			return nil, errors.New("enqueueing notifications: nil row")
		}
		if n.ID == "" {
			id, err := NewNotificationID(n.CreatedAt)
			if err != nil {
				return nil, err
			}
			n.ID = id
		}
		if n.Status == "" {
			n.Status = NotifyPending
		}
		if err := normalize(n); err != nil {
			return nil, fmt.Errorf("enqueueing notifications: %w", err)
		}
		val, err := encodeNotification(n)
		if err != nil {
			return nil, fmt.Errorf("enqueueing notification %s: %w", n.ID, err)
		}
		vals[i] = val
	}
	return func(tx *bbolt.Tx) error {
		t, err := openNotifyTx(tx)
		if err != nil {
			return err
		}
		for i, n := range rows {
			if t.rows.Get([]byte(n.ID)) != nil {
				return fmt.Errorf("notification %s already exists", n.ID)
			}
			if err := t.put(nil, n, vals[i]); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// DueNotifications returns up to limit (0: no limit) rows that are due at
// or before now, earliest first. It seeks the due index and stops at the
// first entry after now, so its cost grows with the rows returned, not with
// the rows stored. An index entry whose row is gone is skipped.
func (db *DB) DueNotifications(ctx context.Context, now time.Time, limit int) ([]*Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var end [8]byte
	binary.BigEndian.PutUint64(end[:], uint64(unixNano(now)))
	var out []*Notification
	err := db.view(func(tx *bbolt.Tx) error {
		due, rows := tx.Bucket(bucketNotifyDue), tx.Bucket(bucketNotifications)
		if due == nil || rows == nil {
			return nil
		}
		c := due.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end[:]) <= 0; k, _ = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			id := string(k[8:])
			v := rows.Get([]byte(id))
			if v == nil {
				continue
			}
			n, err := decodeNotification(id, v)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, wrapRead(db.path, err)
	}
	return out, nil
}

// UpdateNotifications replaces existing rows (matched by ID) with the given
// ones and moves their index entries, atomically and durably. The caller
// sets Status, RetryCount, NextRetryAt, LastError, SentAt or Reason; for
// sent, dead and dropped rows NextRetryAt is cleared. An unknown ID is an
// error matching ErrNotFound, and then nothing is written.
func (db *DB) UpdateNotifications(ctx context.Context, rows ...*Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	vals := make([][]byte, len(rows))
	for i, n := range rows {
		if err := normalize(n); err != nil {
			return fmt.Errorf("updating notifications: %w", err)
		}
		val, err := encodeNotification(n)
		if err != nil {
			return fmt.Errorf("updating notification %s: %w", n.ID, err)
		}
		vals[i] = val
	}
	err := db.batch(keepsSerial, func(tx *bbolt.Tx) error {
		t, err := openNotifyTx(tx)
		if err != nil {
			return err
		}
		for i, n := range rows {
			old, err := t.get(n.ID)
			if err != nil {
				return err
			}
			if old == nil {
				return fmt.Errorf("notification %s: %w", n.ID, ErrNotFound)
			}
			if err := t.put(old, n, vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("updating notifications: %w", err)
	}
	return nil
}

// Requeue atomically resets a dead row to pending: retry_count 0,
// next_retry_at and last_error cleared. The row keeps its CreatedAt, so it
// is due at once. It returns the row as stored. An unknown ID matches
// ErrNotFound; a row that is not dead matches ErrNotDead and is unchanged.
func (db *DB) Requeue(ctx context.Context, id string) (*Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out *Notification
	err := db.update(keepsSerial, func(tx *bbolt.Tx) error {
		t, err := openNotifyTx(tx)
		if err != nil {
			return err
		}
		out, err = requeueIn(t, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func requeueIn(t notifyTx, id string) (*Notification, error) {
	old, err := t.get(id)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, newError(ErrNotFound, nil, fmt.Sprintf("notification %s not found", id))
	}
	if old.Status != NotifyDead {
		return nil, newError(ErrNotDead, nil, fmt.Sprintf("notification %s is %s, not dead: only dead notifications can be requeued", id, old.Status))
	}
	n := *old
	n.Status, n.RetryCount, n.NextRetryAt, n.LastError = NotifyPending, 0, time.Time{}, ""
	val, err := encodeNotification(&n)
	if err != nil {
		return nil, err
	}
	return &n, t.put(old, &n, val)
}

// RequeueAllDead requeues every dead row (see Requeue) in one transaction
// and returns their IDs, oldest first.
func (db *DB) RequeueAllDead(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ids []string
	err := db.update(keepsSerial, func(tx *bbolt.Tx) error {
		ids = nil // fn runs once, but keep it safe to re-run
		t, err := openNotifyTx(tx)
		if err != nil {
			return err
		}
		prefix := statusPrefix(NotifyDead)
		c := t.status.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			// Seek again each time: requeueIn deletes the key under the cursor.
			id := string(k[len(prefix):])
			if _, err := requeueIn(t, id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// Notification returns the row with id, or an error matching ErrNotFound.
func (db *DB) Notification(ctx context.Context, id string) (*Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var n *Notification
	err := db.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketNotifications)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		var err error
		n, err = decodeNotification(id, v)
		return err
	})
	if err != nil {
		return nil, wrapRead(db.path, err)
	}
	if n == nil {
		return nil, newError(ErrNotFound, nil, fmt.Sprintf("notification %s not found", id))
	}
	return n, nil
}

// ListNotifications returns the rows that match f, oldest first. With a
// Status it reads that status's index range only; otherwise it reads every
// row.
func (db *DB) ListNotifications(ctx context.Context, f NotificationFilter) ([]*Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.Status != "" && !validNotifyStatus(f.Status) {
		return nil, fmt.Errorf("unknown notification status %q (want one of %v)", f.Status, NotifyStatuses())
	}
	var out []*Notification
	keep := func(n *Notification) bool {
		return (f.Certificate == "" || n.Certificate == f.Certificate) && (f.Notifier == "" || n.Notifier == f.Notifier)
	}
	full := func() bool { return f.Limit > 0 && len(out) >= f.Limit }
	err := db.view(func(tx *bbolt.Tx) error {
		rows, status := tx.Bucket(bucketNotifications), tx.Bucket(bucketNotifyStatus)
		if rows == nil || status == nil {
			return nil
		}
		if f.Status == "" {
			c := rows.Cursor()
			for k, v := c.First(); k != nil && !full(); k, v = c.Next() {
				n, err := decodeNotification(string(k), v)
				if err != nil {
					return err
				}
				if keep(n) {
					out = append(out, n)
				}
			}
			return nil
		}
		prefix := statusPrefix(f.Status)
		c := status.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && !full(); k, _ = c.Next() {
			id := string(k[len(prefix):])
			v := rows.Get([]byte(id))
			if v == nil {
				continue
			}
			n, err := decodeNotification(id, v)
			if err != nil {
				return err
			}
			if keep(n) {
				out = append(out, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapRead(db.path, err)
	}
	return out, nil
}

// NotificationCounts returns the number of rows in each status; every
// status is a key, with 0 when it has no rows. It counts index keys and
// decodes no row.
func (db *DB) NotificationCounts(ctx context.Context) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var counts map[string]int
	err := db.view(func(tx *bbolt.Tx) error {
		counts = countStatuses(tx)
		return nil
	})
	if err != nil {
		return nil, wrapRead(db.path, err)
	}
	return counts, nil
}

// listByStatus returns the rows with status, oldest first.
func listByStatus(tx *bbolt.Tx, status string) ([]*Notification, error) {
	nt, err := openNotifyTx(tx)
	if err != nil {
		return nil, nil // a state from before notifications: none
	}
	var out []*Notification
	prefix := statusPrefix(status)
	c := nt.status.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n, err := nt.get(string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		if n != nil {
			out = append(out, n)
		}
	}
	return out, nil
}

func countStatuses(tx *bbolt.Tx) map[string]int {
	counts := map[string]int{}
	for _, s := range NotifyStatuses() {
		counts[s] = 0
	}
	status := tx.Bucket(bucketNotifyStatus)
	if status == nil {
		return counts
	}
	for _, s := range NotifyStatuses() {
		prefix := statusPrefix(s)
		c := status.Cursor()
		n := 0
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		counts[s] = n
	}
	return counts
}
