package main

import (
	"strings"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// cmdRevoke revokes one certificate now (reconcile.PlanRevoke): at its
// ACME CA, or in its local CA's CRL and OCSP. It shows the plan and
// applies it without asking, as renew does: naming the certificate is
// the approval. The record stays, marked revoked, and the next apply
// issues a replacement. Flags may come before or after NAME.
func cmdRevoke(e *env, args []string) int {
	fs := newFlags(e, "revoke", " [-reason REASON] [-json] NAME")
	reason := fs.String("reason", "unspecified", "the RFC 5280 revocation `REASON`: "+strings.Join(pki.RevocationReasons, ", "))
	var out outputFlags
	out.register(fs, false)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var names []string
	for rest := fs.Args(); len(rest) > 0; rest = fs.Args() {
		names = append(names, rest[0])
		if code, ok := parseFlags(fs, rest[1:]); !ok {
			return code
		}
	}
	if len(names) != 1 {
		return e.errorf("revoke takes one certificate name, such as www or 'sites[\"api\"]'")
	}
	if _, err := pki.ParseRevocationReason(*reason); err != nil {
		return e.errorf("invalid value %q for -reason: want one of %s", *reason, strings.Join(pki.RevocationReasons, ", "))
	}
	name := strings.TrimPrefix(names[0], "certificate.")
	return e.applyOne(name, out, func(cfg *spec.Config, snap *state.Snapshot) (*reconcile.ActionPlan, error) {
		return reconcile.PlanRevoke(cfg, snap, time.Now(), name, *reason)
	})
}
