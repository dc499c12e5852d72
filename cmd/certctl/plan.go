package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// outputFlags are the output options plan, apply and show share.
type outputFlags struct {
	json     bool
	markdown bool
	noColor  bool
}

func (o *outputFlags) register(fs *flag.FlagSet, markdown bool) {
	fs.BoolVar(&o.json, "json", false, "machine-readable JSON output (see schemas/)")
	if markdown {
		fs.BoolVar(&o.markdown, "markdown", false, "Markdown output, for pull-request comments")
	}
	fs.BoolVar(&o.noColor, "no-color", false, "never colour the output (also NO_COLOR)")
}

func (o *outputFlags) view(e *env) reconcile.ViewOptions {
	v := reconcile.ViewOptions{Format: reconcile.FormatText, Color: !o.noColor && useColor(e.stdout)}
	switch {
	case o.json:
		v.Format, v.Color = reconcile.FormatJSON, false
	case o.markdown:
		v.Format, v.Color = reconcile.FormatMarkdown, false
	}
	return v
}

func cmdPlan(e *env, args []string) int {
	fs := newFlags(e, "plan", " [-json|-markdown] [-out FILE] [-detailed-exitcode]")
	var out outputFlags
	out.register(fs, true)
	outFile := fs.String("out", "", "save the plan to `FILE` for a later 'certctl apply FILE'")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.errorf("plan takes no arguments, got %q", fs.Arg(0))
	}
	cfg, snap, ok := e.loadAndRead()
	if !ok {
		return exitError
	}
	p, err := e.makePlan(cfg, snap)
	if err != nil {
		return e.errorf("%v", err)
	}
	if err := reconcile.NewPlanView(out.view(e)).Plan(e.stdout, p); err != nil {
		return e.errorf("writing plan: %v", err)
	}
	if *outFile != "" {
		if err := reconcile.WritePlanFile(*outFile, p); err != nil {
			return e.errorf("%v", err)
		}
		if !out.json {
			fmt.Fprintf(e.stdout, "\nSaved the plan to %s. To apply exactly these actions, run: certctl apply %s\n", *outFile, *outFile)
		}
	}
	if *detailed && p.HasChanges() {
		return exitChanges
	}
	return exitOK
}

// makePlan reads the local targets (drift) and plans at the current time.
func (e *env) makePlan(cfg *spec.Config, snap *state.Snapshot) (*reconcile.ActionPlan, error) {
	obs, err := reconcile.Refresh(e.ctx, cfg, snap)
	if err != nil {
		// A target that cannot be read is left out of the drift check;
		// it must not stop the plan for every other certificate.
		fmt.Fprintf(e.stderr, "Warning: reading targets: %v\n", err)
	}
	return reconcile.Plan(cfg, snap, obs, time.Now()), nil
}
