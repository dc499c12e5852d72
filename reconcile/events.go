package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Events. Apply raises an event for what it did to a certificate:
//
//	issued, renewed, replaced  an issuing change succeeded (committed first)
//	deployed                   a local target received the certificate
//	failed                     issuance or a deployment failed; raised when
//	                           the failure is new or its error changed, not
//	                           again on every apply that repeats it
//	expiring, expired          a notify change (see expiry.go)
//	revoked                    the revoke action (announce is its hook)
//
// Each event becomes one row per notifier it is routed to (notify.Route:
// the team's, the owner's and the certificate's own notifiers, filtered by
// their events), all written durably in one transaction before any
// delivery is tried; Deliver sends them. A row's id is the event id the
// receiver sees. The rows of an event are written in the transaction that
// commits the change they report (see commit, and remove for a
// revocation), so a crash keeps both or neither: an issued, renewed,
// replaced, failed, deployed or revoked event is never lost. An expiry
// notice's rows are written before the notice is recorded (raised twice
// rather than never).

// EventRows builds the rows for ev about certificate c: one per notifier
// that receives ev.Event, each with its own id (ev.ID is set to it) and the
// event as payload. It returns no rows when no notifier receives the event.
func EventRows(cfg *spec.Config, c *spec.Certificate, ev notify.Event, now time.Time) ([]*state.Notification, error) {
	to := notify.Route(cfg, c, ev.Event)
	rows := make([]*state.Notification, 0, len(to))
	for _, name := range to {
		id, err := state.NewNotificationID(now)
		if err != nil {
			return nil, err
		}
		ev := ev
		ev.ID = id
		ev.Version = notify.EventVersion
		payload, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encoding %s event: %w", ev.Event, err)
		}
		rows = append(rows, &state.Notification{
			ID: id, Event: ev.Event, Certificate: c.Name, Notifier: name, Severity: ev.Severity,
			Payload: payload, CreatedAt: now, Status: state.NotifyPending,
		})
	}
	return rows, nil
}

// eventOf describes certificate name (c may be nil for a certificate no
// longer in the configuration; rec may be nil before the first issuance).
func eventOf(c *spec.Certificate, rec *state.Certificate, name, event string, threshold time.Duration, msg string, details map[string]string, now time.Time, rev *state.Revision) notify.Event {
	ev := notify.Event{
		Version:    notify.EventVersion,
		Event:      event,
		Severity:   notify.Severity(event, threshold),
		Message:    msg,
		OccurredAt: now.UTC(),
		Details:    details,
	}
	if rev != nil {
		ev.Revision = &notify.Revision{ID: rev.ID, Author: rev.Author}
	}
	ev.Certificate.Name = name
	if rec != nil {
		ev.Certificate.CommonName = rec.CommonName
		ev.Certificate.DNSNames = slices.Clone(rec.DNSNames)
		ev.Certificate.Serial = rec.Serial
		if rec.Fingerprint != "" {
			ev.Certificate.NotAfter = rec.NotAfter.UTC()
		}
		ev.Certificate.Issuer, ev.Certificate.Owner, ev.Certificate.Team = rec.Issuer, rec.Owner, rec.Team
	}
	if c != nil {
		ev.Certificate.CommonName = cmp.Or(ev.Certificate.CommonName, c.CommonName)
		if ev.Certificate.DNSNames == nil {
			ev.Certificate.DNSNames = slices.Clone(c.DNSNames)
		}
		ev.Certificate.Issuer, ev.Certificate.Owner, ev.Certificate.Team = c.Issuer, c.Owner, c.Team
	}
	return ev
}

// eventRows builds the rows of an event about certificate name (see
// EventRows) without writing them. Without a queue (Deps.Notifications
// nil) or a notifier it builds none.
func (a *applier) eventRows(name string, rec *state.Certificate, event string, threshold time.Duration, msg string, details map[string]string) ([]*state.Notification, error) {
	if a.deps.Notifications == nil || len(a.cfg.Notifiers) == 0 {
		return nil, nil // no queue, or no notifier that an event could go to
	}
	c := a.cfg.Certificates[name]
	route := c
	if route == nil {
		if rec == nil {
			return nil, nil
		}
		route = &spec.Certificate{Name: name, Owner: rec.Owner, Team: rec.Team}
	}
	now := a.deps.Now()
	rows, err := EventRows(a.cfg, route, eventOf(c, rec, name, event, threshold, msg, details, now, a.deps.Revision), now)
	if err != nil {
		return nil, fmt.Errorf("recording the %s event of %s: %w", event, CertAddress(name), err)
	}
	return rows, nil
}

// announce records an event about certificate name: it builds the event
// and writes its rows (see EventRows) before returning. Without a queue
// (Deps.Notifications nil) it does nothing. It is also the hook for the
// revoke action: announce(ctx, name, rec, notify.EventRevoked, 0, msg, nil)
// works for a certificate that is no longer in the configuration, routed
// by the owner and team its record names.
func (a *applier) announce(ctx context.Context, name string, rec *state.Certificate, event string, threshold time.Duration, msg string, details map[string]string) error {
	rows, err := a.eventRows(name, rec, event, threshold, msg, details)
	if err != nil {
		return err
	}
	return a.enqueue(ctx, rows)
}

// enqueue writes rows, which are about one certificate, to the queue.
func (a *applier) enqueue(ctx context.Context, rows []*state.Notification) error {
	if len(rows) == 0 {
		return nil
	}
	if err := a.deps.Notifications.EnqueueNotifications(ctx, rows...); err != nil {
		var events []string
		for _, n := range rows {
			if !slices.Contains(events, n.Event) {
				events = append(events, n.Event)
			}
		}
		return fmt.Errorf("recording the %s event of %s: %w", strings.Join(events, " and "), CertAddress(rows[0].Certificate), err)
	}
	return nil
}

// certWithEvents is a store that writes a certificate record together with
// the rows of the events it reports, in one transaction (state.DB).
type certWithEvents interface {
	PutCertificateWithNotifications(ctx context.Context, rec *state.Certificate, rows ...*state.Notification) error
}

// commit stores rec and rows, the rows of the events that rec records. When
// the store is also the queue and can (certWithEvents), both go in one
// transaction, so that a crash keeps both or neither; otherwise rec is
// written first, then the rows. err is rec's error: when it is set no row
// was written either. evErr is the rows' error once rec was written.
func (a *applier) commit(ctx context.Context, rec *state.Certificate, rows []*state.Notification) (err, evErr error) {
	if len(rows) > 0 {
		// Store and queue are pointers (*state.DB) in practice: comparing
		// them is safe.
		s, ok := a.deps.Store.(certWithEvents)
		if q, _ := a.deps.Notifications.(certWithEvents); ok && s == q {
			return s.PutCertificateWithNotifications(ctx, rec, rows...), nil
		}
	}
	if err := a.deps.Store.PutCertificate(ctx, rec); err != nil {
		return err, nil
	}
	return nil, a.enqueue(ctx, rows)
}

// enqueueAlone writes the rows of a commit that failed (which wrote none of
// them): the events they report happened even though the record of them
// could not be stored. An interrupted apply announces nothing.
func (a *applier) enqueueAlone(ctx context.Context, rows []*state.Notification) error {
	if ctx.Err() != nil {
		return nil
	}
	return a.enqueue(ctx, rows)
}

var issueEvents = map[Action]string{ActionCreate: notify.EventIssued, ActionRenew: notify.EventRenewed, ActionReplace: notify.EventReplaced}

// issuedRows builds the rows of the event of an issuing change that
// succeeded: before is the record the change started from, after the
// record it commits. They are written with after (see commit).
func (a *applier) issuedRows(ch Change, before, after *state.Certificate) ([]*state.Notification, error) {
	ev := issueEvents[ch.Action]
	details := map[string]string{"reason": ch.Reason}
	if before != nil && before.Serial != "" {
		details["previous_serial"] = before.Serial
	}
	msg := fmt.Sprintf("certificate %s was %s: serial %s, expires %s", ch.Name, ev, after.Serial, ts(after.NotAfter))
	return a.eventRows(ch.Name, after, ev, 0, msg, details)
}

// failedRows builds the rows of the failed event of an issuing change
// that failed with err: before is the record the change started from,
// after the record of the failure. There are none when the apply was
// interrupted or the change is stale (nothing happened to announce), or
// when before failed the same way (announced when the failure began).
func (a *applier) failedRows(ctx context.Context, ch Change, before, after *state.Certificate, err error) ([]*state.Notification, error) {
	if ctx.Err() != nil || errors.Is(err, ErrStale) {
		return nil, nil
	}
	if before != nil && before.Status == state.StatusFailed && before.LastError == err.Error() {
		return nil, nil
	}
	return a.eventRows(ch.Name, after, notify.EventFailed, 0, err.Error(),
		map[string]string{"stage": "issuance", "action": ch.Action.String()})
}

// announceFailure writes the failed event of an issuing change that failed
// without a record of the failure being committed (see failedRows).
func (a *applier) announceFailure(ctx context.Context, ch Change, before, after *state.Certificate, err error) error {
	rows, evErr := a.failedRows(ctx, ch, before, after, err)
	return errors.Join(evErr, a.enqueue(ctx, rows))
}

// deployRows builds the rows of the outcome of one deployment to target t:
// rec is the record after it (committed with the rows), prevErr the
// target's last error before it.
func (a *applier) deployRows(ctx context.Context, name string, rec *state.Certificate, t, prevErr string) ([]*state.Notification, error) {
	if ctx.Err() != nil || rec == nil {
		return nil, nil
	}
	dep, ok := rec.Deployments[t]
	switch {
	case !ok:
		return nil, nil
	case dep.LastError == "" && dep.Fingerprint == rec.Fingerprint:
		return a.eventRows(name, rec, notify.EventDeployed, 0,
			fmt.Sprintf("certificate %s (serial %s) was deployed to target.%s", name, rec.Serial, t),
			map[string]string{"target": t})
	case dep.LastError != "" && dep.LastError != prevErr:
		return a.eventRows(name, rec, notify.EventFailed, 0,
			fmt.Sprintf("deploying certificate.%s to target.%s failed: %s", name, t, dep.LastError),
			map[string]string{"stage": "deployment", "target": t})
	}
	return nil, nil
}

// deployEvent writes the rows of deployRows at once, for a deploy change
// that committed nothing.
func (a *applier) deployEvent(ctx context.Context, name string, rec *state.Certificate, t, prevErr string) error {
	rows, err := a.deployRows(ctx, name, rec, t, prevErr)
	return errors.Join(err, a.enqueue(ctx, rows))
}

// notice raises the expiry notice of a notify change. It checks again, at
// apply time, that the notice is due: a renewal earlier in this apply (or
// by another process) makes it moot, and another apply may have raised it
// already. The rows are written before the notice is recorded on the
// certificate, so a crash in between raises it twice rather than never.
func (a *applier) notice(ctx context.Context, ch Change, rec *state.Certificate) error {
	if rec == nil || rec.Fingerprint != ch.Prior {
		return nil // a new version, or gone: nothing to warn about
	}
	c := a.cfg.Certificates[ch.Name]
	if c == nil {
		return fmt.Errorf("notifying %s: %w", ch.Address, ErrStale)
	}
	if a.deps.Notifications == nil {
		return fmt.Errorf("notifying %s: no notification queue", ch.Address)
	}
	var thresholds []time.Duration
	if pol := a.cfg.Policies[c.Policy]; pol != nil {
		thresholds = pol.NotifyBefore
	}
	now := a.deps.Now()
	n, ok := DueExpiryNotice(rec, thresholds, now)
	if !ok {
		return nil
	}
	var msg string
	details := map[string]string{}
	if n.Event == notify.EventExpired {
		msg = fmt.Sprintf("certificate %s expired at %s", ch.Name, ts(rec.NotAfter))
	} else {
		details["threshold"] = FormatThreshold(n.Threshold)
		details["expires_in"] = FormatThreshold(rec.NotAfter.Sub(now).Truncate(time.Hour))
		msg = fmt.Sprintf("certificate %s expires at %s (in %s; notify_before %s)", ch.Name, ts(rec.NotAfter), details["expires_in"], details["threshold"])
	}
	if rec.Status == state.StatusFailed && rec.LastError != "" {
		details["last_error"] = rec.LastError
		msg += "; renewal is failing: " + rec.LastError
	}
	if err := a.announce(ctx, ch.Name, rec, n.Event, n.Threshold, msg, details); err != nil {
		return err
	}
	var done []string
	if rec.Notified != nil && rec.Notified.Fingerprint == rec.Fingerprint {
		done = rec.Notified.Notices
	}
	notices := slices.Concat(done, n.Record)
	slices.Sort(notices)
	rec.Notified = &state.Notified{Fingerprint: rec.Fingerprint, Notices: slices.Compact(notices)}
	rec.UpdatedAt = now
	if err := a.deps.Store.PutCertificate(ctx, rec); err != nil {
		return fmt.Errorf("recording the %s notice of %s: %w", n.Event, ch.Address, err)
	}
	a.mu.Lock()
	a.res.Notified++
	a.mu.Unlock()
	return nil
}
