package main

import (
	"time"

	"github.com/certctl/certctl/reconcile"
)

func cmdShow(e *env, args []string) int {
	fs := newFlags(e, "show", " [-json|-markdown] [NAME]")
	var out outputFlags
	out.register(fs, true)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return e.errorf("show takes at most one certificate name")
	}
	cfg, snap, ok := e.loadAndRead()
	if !ok {
		return exitError
	}
	certs := reconcile.Inventory(cfg, snap, time.Now())
	if name := fs.Arg(0); name != "" {
		var one []reconcile.CertStatus
		for _, c := range certs {
			if c.Name == name || c.Address == name {
				one = append(one, c)
			}
		}
		if len(one) == 0 {
			return e.errorf("no certificate named %q in the configuration or the state", name)
		}
		certs = one
	}
	if err := reconcile.NewShowView(out.view(e)).Show(e.stdout, certs); err != nil {
		return e.errorf("writing output: %v", err)
	}
	return exitOK
}
