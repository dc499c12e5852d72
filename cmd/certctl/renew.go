package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// cmdRenew forces an attempt for one certificate now: it ignores the
// renewal time and the failure backoff of that certificate (not its
// issuer's rate limit), plans just that (reconcile.PlanRenew), shows the
// plan and applies it without asking: naming the certificate is the
// approval.
func cmdRenew(e *env, args []string) int {
	fs := newFlags(e, "renew", " [-json] NAME")
	var out outputFlags
	out.register(fs, false)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return e.errorf("renew takes one certificate name, such as www or 'sites[\"api\"]'")
	}
	name := strings.TrimPrefix(fs.Arg(0), "certificate.")
	if code, done := e.renewAgentKey(name); done {
		return code
	}

	return e.applyOne(name, out, func(cfg *spec.Config, snap *state.Snapshot) (*reconcile.ActionPlan, error) {
		return reconcile.PlanRenew(cfg, snap, nil, time.Now(), name)
	})
}

// applyOne is the body of the commands that act on one certificate now
// (renew, revoke): it checks that name is in the configuration, plans
// with planFn against the state, shows the plan, applies it without
// asking (naming the certificate is the approval), delivers the
// notifications and prints the result.
func (e *env) applyOne(name string, out outputFlags, planFn func(*spec.Config, *state.Snapshot) (*reconcile.ActionPlan, error)) int {
	view := out.view(e)
	cfg, ok := e.loadConfig()
	if !ok {
		return exitError
	}
	if cfg.Certificates[name] == nil {
		return e.errorf("no certificate named %q in the configuration", name)
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
	p, err := planFn(cfg, snap)
	if err != nil {
		return e.errorf("%v", err)
	}
	if !out.json {
		if err := reconcile.NewPlanView(view).Plan(e.stdout, p); err != nil {
			return e.errorf("writing plan: %v", err)
		}
	}
	res, err := reconcile.Apply(e.ctx, p, cfg, reconcile.Deps{
		Store:         db,
		Now:           time.Now,
		Exec:          reconcile.ShellExec(0),
		ACME:          reconcile.NewACMEPool(cfg, db),
		Notifications: db,
	})
	delivery, derr := e.deliver(cfg, db)
	if res != nil {
		res.Delivery = delivery
		if !out.json {
			fmt.Fprintln(e.stdout)
		}
		if werr := reconcile.NewApplyView(view).Result(e.stdout, res); werr != nil {
			return e.errorf("writing result: %v", werr)
		}
	}
	switch {
	case errors.Is(err, reconcile.ErrStale), err != nil && res == nil:
		return e.errorf("%v", err)
	case err != nil || res.Failed > 0 || len(res.Deferred) > 0:
		return exitError
	case derr != nil:
		return e.errorf("delivering notifications: %v", derr)
	case delivery.Failures() > 0:
		return exitError
	}
	return exitOK
}

// renewAgentKey handles renew of a certificate whose key an agent holds:
// nothing can be signed here, so the request is recorded for certctl
// watch, which asks the agent for a CSR (reconcile.RequestRenewal). done
// is false for any other certificate.
func (e *env) renewAgentKey(name string) (code int, done bool) {
	cfg, ok := e.loadConfig()
	if !ok {
		return exitError, true
	}
	c := cfg.Certificates[name]
	if c == nil || reconcile.KeyAgent(cfg, c) == "" {
		return 0, false
	}
	db, err := state.Open(e.statePath(cfg), state.Options{})
	if err != nil {
		return e.errorf("%v", err), true
	}
	defer db.Close()
	snap, err := db.Summary(e.ctx)
	if err != nil {
		return e.errorf("%v", err), true
	}
	agent, err := reconcile.RequestRenewal(e.ctx, db, cfg, snap, name, time.Now())
	if err != nil {
		return e.errorf("%v", err), true
	}
	fmt.Fprintf(e.stdout, "Renewal of %s requested. Its key is held by agent %s: certctl watch asks it for a new CSR at its next poll, and signs it.\n", reconcile.CertAddress(name), agent)
	return exitOK, true
}
