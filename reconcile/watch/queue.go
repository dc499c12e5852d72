package watch

import (
	"context"
	"sync"
	"time"

	"github.com/certctl/certctl/state"
)

// queue is the state's notification queue for a delivery sweep, opened
// only while it is read or written: a sweep that waits on a slow or hung
// notifier (up to its timeout per attempt) must not hold the state's lock,
// which plan, status, revoke and the agents' writes need meanwhile.
// Concurrent calls share one open DB (so their writes are still grouped
// into one transaction); it is closed when the last of them returns.
type queue struct {
	path    string
	timeout time.Duration

	mu    sync.Mutex // guards db, users
	db    *state.DB
	users int
}

var _ state.Notifications = (*queue)(nil)

func (q *queue) with(fn func(*state.DB) error) error {
	q.mu.Lock()
	if q.db == nil {
		db, err := state.Open(q.path, state.Options{Timeout: q.timeout})
		if err != nil {
			q.mu.Unlock()
			return err
		}
		q.db = db
	}
	q.users++
	db := q.db
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.users--; q.users == 0 {
			q.db.Close()
			q.db = nil
		}
	}()
	return fn(db)
}

func (q *queue) EnqueueNotifications(ctx context.Context, rows ...*state.Notification) error {
	return q.with(func(db *state.DB) error { return db.EnqueueNotifications(ctx, rows...) })
}

func (q *queue) DueNotifications(ctx context.Context, now time.Time, limit int) (rows []*state.Notification, err error) {
	err = q.with(func(db *state.DB) error { rows, err = db.DueNotifications(ctx, now, limit); return err })
	return rows, err
}

func (q *queue) UpdateNotifications(ctx context.Context, rows ...*state.Notification) error {
	return q.with(func(db *state.DB) error { return db.UpdateNotifications(ctx, rows...) })
}

func (q *queue) Requeue(ctx context.Context, id string) (n *state.Notification, err error) {
	err = q.with(func(db *state.DB) error { n, err = db.Requeue(ctx, id); return err })
	return n, err
}

func (q *queue) RequeueAllDead(ctx context.Context) (ids []string, err error) {
	err = q.with(func(db *state.DB) error { ids, err = db.RequeueAllDead(ctx); return err })
	return ids, err
}

func (q *queue) Notification(ctx context.Context, id string) (n *state.Notification, err error) {
	err = q.with(func(db *state.DB) error { n, err = db.Notification(ctx, id); return err })
	return n, err
}

func (q *queue) ListNotifications(ctx context.Context, f state.NotificationFilter) (rows []*state.Notification, err error) {
	err = q.with(func(db *state.DB) error { rows, err = db.ListNotifications(ctx, f); return err })
	return rows, err
}

func (q *queue) NotificationCounts(ctx context.Context) (m map[string]int, err error) {
	err = q.with(func(db *state.DB) error { m, err = db.NotificationCounts(ctx); return err })
	return m, err
}
