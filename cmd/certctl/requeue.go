package main

import (
	"errors"
	"fmt"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/state"
)

// cmdRequeue resets dead notification rows to pending (retry_count 0,
// next_retry_at and last_error cleared), each in one transaction; the next
// apply delivers them.
func cmdRequeue(e *env, args []string) int {
	fs := newFlags(e, "requeue", " ID... | -all-dead")
	allDead := fs.Bool("all-dead", false, "requeue every dead notification, in one transaction")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	switch {
	case *allDead && fs.NArg() > 0:
		return e.errorf("requeue takes IDs or -all-dead, not both")
	case !*allDead && fs.NArg() == 0:
		return e.errorf("requeue needs the ID of a dead notification (see 'certctl notifications -status dead'), or -all-dead")
	}
	path, ok := e.queuePath()
	if !ok {
		return exitError
	}
	failed := false
	err := e.withState(path, false, func(db *state.DB) error {
		if *allDead {
			ids, err := db.RequeueAllDead(e.ctx)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				fmt.Fprintln(e.stdout, "No dead notifications.")
				return nil
			}
			for _, id := range ids {
				fmt.Fprintf(e.stdout, "Requeued %s.\n", id)
			}
			fmt.Fprintf(e.stdout, "%d notifications are pending again; 'certctl apply' delivers them.\n", len(ids))
			return nil
		}
		for _, id := range fs.Args() {
			n, err := db.Requeue(e.ctx, id)
			if errors.Is(err, state.ErrNotFound) || errors.Is(err, state.ErrNotDead) {
				e.errorf("%v", err)
				failed = true
				continue
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Requeued %s (%s %s -> notifier.%s); 'certctl apply' delivers it.\n",
				n.ID, n.Event, reconcile.CertAddress(n.Certificate), n.Notifier)
		}
		return nil
	})
	if err != nil {
		return e.errorf("%v", err)
	}
	if failed {
		return exitError
	}
	return exitOK
}
