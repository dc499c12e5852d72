package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// PlanRenew plans `certctl renew NAME`: an attempt for certificate name
// now, whatever its renewal time and its failure backoff say. The plan
// holds that certificate's issuing change (a renewal, or the create or
// replace it needs anyway, with its deploys) and the change to its issuer
// when one is planned (an ACME account to register); its issuer's rate
// limit still applies. It fails when name is not a certificate of cfg, or
// is one of an external issuer (certctl cannot renew it).
// Pure, like Plan.
func PlanRenew(cfg *spec.Config, snap *state.Snapshot, obs Observed, now time.Time, name string) (*ActionPlan, error) {
	c := cfg.Certificates[name]
	if c == nil {
		return nil, fmt.Errorf("no certificate named %q in the configuration", name)
	}
	if isExternal(cfg, c) {
		return nil, fmt.Errorf("certificate %s is from %s, an external issuer: certctl cannot renew it; renew it at its CA and import it", name, IssuerAddress(c.Issuer))
	}
	p := plan(cfg, snap, obs, now, name)
	p.Changes = slices.DeleteFunc(p.Changes, func(ch Change) bool {
		if ch.Kind == KindIssuer {
			return ch.Name != c.Issuer
		}
		return ch.Name != name || !ch.Action.Issues()
	})
	p.Notes = slices.DeleteFunc(p.Notes, func(n Note) bool {
		return n.Kind == NoteRateLimit || (n.Address != CertAddress(name) && n.Address != IssuerAddress(c.Issuer))
	})
	rateLimitNotes(cfg, snap, now, p)
	slices.SortFunc(p.Notes, func(a, b Note) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Target, b.Target), strings.Compare(string(a.Kind), string(b.Kind)))
	})
	p.Summary = Summary{}
	for i := range p.Changes {
		p.Summary.add(p.Changes[i].Action)
	}
	return p, nil
}
