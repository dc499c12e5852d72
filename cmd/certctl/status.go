package main

import (
	"time"

	"github.com/certctl/certctl/reconcile"
)

// cmdStatus counts certificates by status and notification rows by status
// (dead included). It reads the state without creating it.
func cmdStatus(e *env, args []string) int {
	fs := newFlags(e, "status", " [-json]")
	var out outputFlags
	out.register(fs, false)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.errorf("status takes no arguments, got %q", fs.Arg(0))
	}
	cfg, snap, ok := e.loadAndRead()
	if !ok {
		return exitError
	}
	if err := reconcile.NewStatusView(out.view(e)).Status(e.stdout, reconcile.Status(cfg, snap, time.Now())); err != nil {
		return e.errorf("writing output: %v", err)
	}
	return exitOK
}
