package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Delivery contract (DESIGN.md, Notifications). A row is written before
// anything is sent (see events.go). A sweep reads the rows due now from
// the due index (pending rows, and failed rows whose next_retry_at has
// passed), makes one attempt per row and records its outcome at once:
//
//	sent     the receiver accepted it: sent_at set, next_retry_at cleared;
//	         retry_count is kept ("delivered on attempt retry_count+1")
//	failed   retry_count+1, last_error (secrets redacted by the sender),
//	         next_retry_at = now + min(initial × 2^(retry_count), max)
//	dead     the attempt that failed was the notifier's last (`attempts`,
//	         default 5): retry_count+1, last_error, next_retry_at cleared;
//	         only `certctl requeue` revives it
//	dropped  the notifier is no longer in the configuration, or no longer
//	         takes the event: closed with the reason, never sent
//
// Delivery is at least once. The outcome is recorded after the receiver
// answered, so a crash between the two leaves the row pending (or failed)
// and the next sweep sends it again, with the same id and occurred_at:
// receivers deduplicate on the event id (the X-Certctl-Delivery header of
// a webhook). A row is never lost: it is durable before the first attempt
// and every change to it is one transaction.

// DefaultDeliverParallelism bounds concurrent deliveries in a sweep.
const DefaultDeliverParallelism = 8

// deliverBatch is how many due rows a sweep reads at a time.
const deliverBatch = 256

// DeliverOptions tune a sweep. The zero value is ready to use.
type DeliverOptions struct {
	// Now defaults to time.Now. A sweep takes the rows due at its first
	// reading and dates retries by the time each attempt failed.
	Now func() time.Time
	// NewSender builds the sender of a notifier; notify.FromSpec if nil.
	NewSender func(*spec.Notifier) (notify.Sender, error)
	// Parallelism bounds concurrent deliveries; DefaultDeliverParallelism
	// if < 1.
	Parallelism int
}

// DeliveryResult is what a sweep did: counts by outcome, and the rows it
// changed as stored, sorted by id (creation).
type DeliveryResult struct {
	Sent, Failed, Dead, Dropped int
	Rows                        []*state.Notification
}

// Empty reports whether the sweep tried nothing.
func (r *DeliveryResult) Empty() bool { return r == nil || len(r.Rows) == 0 }

// Failures is the number of attempts that failed (rows now failed or dead).
func (r *DeliveryResult) Failures() int {
	if r == nil {
		return 0
	}
	return r.Failed + r.Dead
}

// String is the one-line summary of a sweep:
// "Notifications: 2 sent, 1 failed (will retry), 0 dead, 0 dropped."
func (r *DeliveryResult) String() string {
	return fmt.Sprintf("Notifications: %d sent, %d failed (will retry), %d dead, %d dropped.", r.Sent, r.Failed, r.Dead, r.Dropped)
}

// Deliver runs one delivery sweep over q for the notifiers of cfg: every
// row due now gets one attempt, and its outcome is written before Deliver
// moves on from it (see the delivery contract above). Rows to different
// notifiers are sent concurrently. Deliver reads only the due index, so
// its cost grows with the rows due, not with the rows stored.
//
// The result counts what was done even when the error (store failures,
// joined) is not nil. An interrupted delivery (ctx done) does not count as
// an attempt: the row stays due.
func Deliver(ctx context.Context, cfg *spec.Config, q state.Notifications, o DeliverOptions) (*DeliveryResult, error) {
	res := &DeliveryResult{}
	if q == nil {
		return res, errors.New("delivering notifications: no queue")
	}
	d := &deliverer{cfg: cfg, q: q, o: o, res: res, senders: map[string]senderOrErr{}}
	if d.o.Now == nil {
		d.o.Now = time.Now
	}
	if d.o.NewSender == nil {
		d.o.NewSender = notify.FromSpec
	}
	workers := cmp.Or(max(o.Parallelism, 0), DefaultDeliverParallelism)
	now := d.o.Now()
	seen := map[string]bool{}
	var errs []error
	for ctx.Err() == nil {
		due, err := q.DueNotifications(ctx, now, deliverBatch)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading due notifications: %w", err))
			break
		}
		var fresh []*state.Notification
		for _, n := range due {
			if !seen[n.ID] { // each row is tried at most once per sweep
				seen[n.ID] = true
				fresh = append(fresh, n)
			}
		}
		if len(fresh) == 0 {
			break
		}
		sem := make(chan struct{}, workers)
		var wg sync.WaitGroup
		for _, n := range fresh {
			sem <- struct{}{}
			wg.Go(func() {
				released := false
				release := func() {
					if !released {
						released = true
						<-sem
					}
				}
				defer release()
				if err := d.one(ctx, n, release); err != nil {
					d.mu.Lock()
					errs = append(errs, err)
					d.mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(due) < deliverBatch {
			break
		}
	}
	sortRows(res.Rows)
	return res, errors.Join(errs...)
}

type senderOrErr struct {
	s   notify.Sender
	err error
}

type deliverer struct {
	cfg *spec.Config
	q   state.Notifications
	o   DeliverOptions

	mu      sync.Mutex // guards res, senders
	res     *DeliveryResult
	senders map[string]senderOrErr
}

func (d *deliverer) sender(n *spec.Notifier) (notify.Sender, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.senders[n.Name]; ok {
		return s.s, s.err
	}
	s, err := d.o.NewSender(n)
	d.senders[n.Name] = senderOrErr{s, err}
	return s, err
}

// one makes one attempt at row n and records the outcome. It calls
// release once the attempt is over and only the recording is left, so that
// the next attempt starts while this outcome waits for its commit: the
// outcomes of a sweep then share a few transactions instead of one each.
func (d *deliverer) one(ctx context.Context, n *state.Notification, release func()) error {
	nt := d.cfg.Notifiers[n.Notifier]
	switch {
	case nt == nil:
		n.Status, n.Reason = state.NotifyDropped, "notifier."+n.Notifier+" is no longer in the configuration"
	case !notify.Wants(nt, n.Event):
		n.Status, n.Reason = state.NotifyDropped, "notifier."+n.Notifier+" no longer receives "+n.Event+" events"
	default:
		err := d.send(ctx, nt, n)
		if err != nil && ctx.Err() != nil {
			return nil // interrupted, not failed: the row stays due
		}
		now := d.o.Now()
		if err == nil {
			n.Status, n.SentAt = state.NotifySent, now
		} else {
			n.LastError = err.Error()
			if notify.Exhausted(n.RetryCount, nt.Retry.Attempts) {
				n.Status = state.NotifyDead
			} else {
				n.Status = state.NotifyFailed
				n.NextRetryAt = notify.NextRetry(now, n.RetryCount, nt.Retry.Initial, nt.Retry.Max)
			}
			n.RetryCount++
		}
	}
	if n.Status != state.NotifyFailed {
		n.NextRetryAt = time.Time{}
	}
	release()
	// The outcome is recorded now, not at the end of the sweep: a crash
	// re-sends at most the rows in flight.
	if err := d.q.UpdateNotifications(context.WithoutCancel(ctx), n); err != nil {
		return fmt.Errorf("recording notification %s: %w", n.ID, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch n.Status {
	case state.NotifySent:
		d.res.Sent++
	case state.NotifyFailed:
		d.res.Failed++
	case state.NotifyDead:
		d.res.Dead++
	case state.NotifyDropped:
		d.res.Dropped++
	}
	d.res.Rows = append(d.res.Rows, n)
	return nil
}

// send decodes the row's event and sends it; the event id is the row id.
func (d *deliverer) send(ctx context.Context, nt *spec.Notifier, n *state.Notification) error {
	s, err := d.sender(nt)
	if err != nil {
		return err
	}
	var ev notify.Event
	if err := json.Unmarshal(n.Payload, &ev); err != nil {
		return fmt.Errorf("notification %s: reading its event: %w", n.ID, err)
	}
	ev.ID = n.ID
	return s.Send(ctx, ev)
}

func sortRows(rows []*state.Notification) {
	slices.SortFunc(rows, func(a, b *state.Notification) int { return strings.Compare(a.ID, b.ID) })
}

// CheckNotifiers builds the sender of every notifier in cfg and returns an
// error diagnostic, at the notifier block, for each problem found (a
// ca_bundle that holds no certificate, SMTP credentials without TLS, ...):
// what delivery would refuse is refused when the configuration loads. The
// messages contain no secret.
func CheckNotifiers(cfg *spec.Config) hcl.Diagnostics {
	if cfg == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, name := range slices.Sorted(maps.Keys(cfg.Notifiers)) {
		n := cfg.Notifiers[name]
		if _, err := notify.FromSpec(n); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				rng := n.DeclRange
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid notifier",
					Detail:   strings.TrimSuffix(line, ".") + ".",
					Subject:  &rng,
				})
			}
		}
	}
	return diags
}
