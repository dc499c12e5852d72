package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/state"
)

func cmdApply(e *env, args []string) int {
	fs := newFlags(e, "apply", " [-auto-approve] [-parallelism N] [PLANFILE]")
	var out outputFlags
	out.register(fs, false)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	parallelism := fs.Int("parallelism", 10, "how many certificates to sign at once (commits and deploys overlap beyond it)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return e.errorf("apply takes at most one saved plan file")
	}
	if *parallelism < 1 {
		return e.errorf("-parallelism must be at least 1, got %d", *parallelism)
	}
	planFile := fs.Arg(0)
	view := out.view(e)

	if planFile == "" && !*autoApprove && !isTerminal(e.stdin) {
		// Refuse before anything is read or created.
		return e.errorf("apply needs -auto-approve (or a saved plan file) when not run from a terminal")
	}
	tuneGCForApply() // memory.go
	cfg, ok := e.loadConfig()
	if !ok {
		return exitError
	}
	db, err := state.Open(e.statePath(cfg), state.Options{})
	if err != nil {
		return e.errorf("%v", err)
	}
	defer db.Close()
	snap, err := db.Snapshot(e.ctx)
	if err != nil {
		return e.errorf("%v", err)
	}

	pool := reconcile.NewACMEPool(cfg, db) // ACME issuers, built once: acme.go
	var p *reconcile.ActionPlan
	if planFile != "" {
		// A saved plan was reviewed: apply exactly it, or nothing.
		if p, err = reconcile.ReadPlanFile(planFile); err != nil {
			return e.errorf("%v", err)
		}
		if err := p.CheckFresh(snap, reconcile.ConfigDigest(cfg)); err != nil {
			return e.errorf("%v", err)
		}
	} else {
		if snap, err = e.refreshRenewalInfo(cfg, db, snap, pool); err != nil {
			return e.errorf("%v", err)
		}
		if p, err = e.makePlan(cfg, snap); err != nil {
			return e.errorf("%v", err)
		}
		if !out.json {
			if err := reconcile.NewPlanView(view).Plan(e.stdout, p); err != nil {
				return e.errorf("writing plan: %v", err)
			}
		}
		if !p.HasChanges() {
			// No changes, but notification rows may be due.
			return e.deliverOnly(cfg, db, view)
		}
		if !*autoApprove {
			if code, ok := e.confirm(); !ok {
				return code
			}
		}
	}

	progress, finish := e.progress(len(p.Changes))
	start := time.Now()
	res, err := reconcile.Apply(e.ctx, p, cfg, reconcile.Deps{
		Store:       db,
		Now:         time.Now,
		Parallelism: *parallelism,
		Progress:    progress,
		Exec:        reconcile.ShellExec(0),
		ACME:        pool,
		// Events are written here before Deliver sends them.
		Notifications: db,
	})
	finish(time.Since(start))
	delivery, derr := e.deliver(cfg, db)
	if res != nil {
		res.Delivery = delivery
	}
	if res != nil {
		if !out.json {
			fmt.Fprintln(e.stdout)
		}
		if werr := reconcile.NewApplyView(view).Result(e.stdout, res); werr != nil {
			return e.errorf("writing result: %v", werr)
		}
	}
	switch {
	case errors.Is(err, reconcile.ErrStale):
		return e.errorf("%v", err)
	case err != nil && res == nil:
		return e.errorf("%v", err)
	case err != nil || (res != nil && res.Failed > 0):
		return exitError
	case derr != nil:
		return e.errorf("delivering notifications: %v", derr)
	case delivery.Failures() > 0:
		return exitError // a notifier failed: its rows are retried or dead
	}
	return exitOK
}

// confirm asks for "yes" on a terminal. Without one, apply needs
// -auto-approve or a saved plan: a pipeline must not hang on a prompt.
func (e *env) confirm() (int, bool) {
	if !isTerminal(e.stdin) {
		e.errorf("apply needs -auto-approve (or a saved plan file) when not run from a terminal")
		return exitError, false
	}
	fmt.Fprint(e.stdout, "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return e.errorf("reading the answer: %v", err), false
	}
	if strings.TrimSpace(line) != "yes" {
		fmt.Fprintln(e.stdout, "\nApply cancelled.")
		return exitError, false
	}
	return 0, true
}

// progress returns the callback Apply reports to and a func to call when it
// is done. On a terminal it redraws one status line on stderr (done/total,
// rate, failures so far); elsewhere it prints nothing, since the summary
// line ends every apply anyway.
func (e *env) progress(total int) (reconcile.ProgressFunc, func(time.Duration)) {
	if !isTerminal(e.stderr) || total == 0 {
		return nil, func(time.Duration) {}
	}
	start := time.Now()
	var last time.Time
	draw := func(done, failed int, final bool) {
		elapsed := time.Since(start).Seconds()
		rate := 0.0
		if elapsed > 0 {
			rate = float64(done) / elapsed
		}
		fmt.Fprintf(e.stderr, "\r\033[KApplying: %d/%d done, %.1f/s, %d failed", done, total, rate, failed)
		if final {
			fmt.Fprintln(e.stderr)
		}
	}
	var lastDone, lastFailed int
	cb := func(done, total, failed int) {
		lastDone, lastFailed = done, failed
		if now := time.Now(); done == total || now.Sub(last) > 100*time.Millisecond {
			last = now
			draw(done, failed, false)
		}
	}
	return cb, func(time.Duration) { draw(lastDone, lastFailed, true) }
}
