package reconcile

import (
	"time"

	"github.com/certctl/certctl/state"
)

// QueueStatus is what a plan reports about the notification queue: the
// rows that need an operator (dead: their retry budget is spent) with the
// command that revives each, and how many rows wait for delivery.
//
// None of it is a change: `plan -detailed-exitcode` exits 2 for changes
// only, so dead rows alone leave it at 0 — they are attention items, to be
// requeued by a person once the notifier works again, and waiting rows are
// delivered by the next apply (or watch) whatever the plan says.
type QueueStatus struct {
	// Dead rows, oldest first.
	Dead []DeadNotification `json:"dead"`
	// WaitingRetry counts failed rows waiting for their next attempt.
	WaitingRetry int `json:"waiting_retry"`
	// Pending counts rows not yet tried (new or requeued).
	Pending int `json:"pending"`
}

// NeedsAttention reports whether the plan has anything to say about the
// queue.
func (q *QueueStatus) NeedsAttention() bool {
	return len(q.Dead) > 0 || q.WaitingRetry > 0 || q.Pending > 0
}

// DeadNotification is a dead row as a plan shows it.
type DeadNotification struct {
	ID          string    `json:"id"`
	Event       string    `json:"event"`
	Certificate string    `json:"certificate"`
	Notifier    string    `json:"notifier"`
	Severity    string    `json:"severity,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	RetryCount  int       `json:"retry_count"`
	LastError   string    `json:"last_error"`
	// Requeue is the exact command that revives the row.
	Requeue string `json:"requeue_command"`
}

// RequeueCommand is the command that resets the dead row id to pending.
func RequeueCommand(id string) string { return "certctl requeue " + id }

// queueStatus reads the queue part of a snapshot (see state.Snapshot).
func queueStatus(snap *state.Snapshot) QueueStatus {
	q := QueueStatus{
		WaitingRetry: snap.NotificationCounts[state.NotifyFailed],
		Pending:      snap.NotificationCounts[state.NotifyPending],
	}
	for _, n := range snap.DeadNotifications {
		q.Dead = append(q.Dead, DeadNotification{
			ID: n.ID, Event: n.Event, Certificate: n.Certificate, Notifier: n.Notifier, Severity: n.Severity,
			CreatedAt: n.CreatedAt.UTC(), RetryCount: n.RetryCount, LastError: n.LastError,
			Requeue: RequeueCommand(n.ID),
		})
	}
	return q
}
