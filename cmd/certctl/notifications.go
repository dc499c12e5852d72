package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// cmdNotifications lists notification rows, oldest first.
func cmdNotifications(e *env, args []string) int {
	fs := newFlags(e, "notifications", " [-status STATUS] [-certificate NAME] [-notifier NAME] [-json]")
	var out outputFlags
	out.register(fs, false)
	status := fs.String("status", "", "only rows in `STATUS`: "+strings.Join(state.NotifyStatuses(), ", "))
	cert := fs.String("certificate", "", "only rows about certificate `NAME`")
	notifier := fs.String("notifier", "", "only rows for notifier `NAME`")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.errorf("notifications takes no arguments, got %q", fs.Arg(0))
	}
	if *status != "" && !validStatus(*status) {
		return e.errorf("unknown notification status %q; want one of %s", *status, strings.Join(state.NotifyStatuses(), ", "))
	}
	path, ok := e.queuePath()
	if !ok {
		return exitError
	}
	var rows []*state.Notification
	err := e.withState(path, true, func(db *state.DB) error {
		var err error
		rows, err = db.ListNotifications(e.ctx, state.NotificationFilter{Status: *status, Certificate: *cert, Notifier: *notifier})
		return err
	})
	if err != nil {
		return e.errorf("%v", err)
	}
	if err := reconcile.NewNotificationsView(out.view(e)).Notifications(e.stdout, rows); err != nil {
		return e.errorf("writing output: %v", err)
	}
	return exitOK
}

func validStatus(s string) bool {
	for _, v := range state.NotifyStatuses() {
		if v == s {
			return true
		}
	}
	return false
}

// queuePath is the state path for the commands that only touch the
// notification queue (requeue, notifications). With -state or
// CERTCTL_STATE they need no configuration at all, so an operator can
// requeue while the configuration is broken or its secrets are not in the
// environment; otherwise the configuration says where the state is.
func (e *env) queuePath() (string, bool) {
	if e.state != "" {
		return e.state, true
	}
	cfg, ok := e.loadConfig()
	if !ok {
		return "", false
	}
	return e.statePath(cfg), true
}

// withState opens the state for the length of fn (read-only when ro). A
// state that does not exist yet reads as empty: fn is not called.
func (e *env) withState(path string, ro bool, fn func(*state.DB) error) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if ro {
			return nil
		}
		return fmt.Errorf("no state at %s: nothing has been applied yet", path)
	}
	db, err := state.Open(path, state.Options{ReadOnly: ro})
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// deliver runs the delivery sweep after an apply: every row due now gets
// one attempt (reconcile.Deliver). Its result goes into the apply's result.
func (e *env) deliver(cfg *spec.Config, db *state.DB) (*reconcile.DeliveryResult, error) {
	return reconcile.Deliver(e.ctx, cfg, db, reconcile.DeliverOptions{})
}

// deliverOnly is apply when the plan has no changes: it runs the delivery
// sweep and reports it, if it tried anything (always, with -json).
func (e *env) deliverOnly(cfg *spec.Config, db *state.DB, view reconcile.ViewOptions) int {
	d, err := e.deliver(cfg, db)
	if view.Format == reconcile.FormatJSON {
		if werr := reconcile.NewApplyView(view).Result(e.stdout, &reconcile.Result{Delivery: d}); werr != nil {
			return e.errorf("writing result: %v", werr)
		}
	} else if !d.Empty() {
		fmt.Fprintln(e.stdout)
		if werr := reconcile.NewDeliveryView(view).Delivery(e.stdout, d); werr != nil {
			return e.errorf("writing result: %v", werr)
		}
	}
	switch {
	case err != nil:
		return e.errorf("delivering notifications: %v", err)
	case d.Failures() > 0:
		return exitError
	}
	return exitOK
}
