package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Order budgets (an acme issuer's rate_limit = { orders, per }).
//
// The budget is counted from the state, so that it holds across commands
// and processes: the orders an issuer placed in the last `per` are the
// certificates it issued then (current versions and the history of
// earlier ones). Failed attempts are not counted: most never reached an
// order (CA down, bad configuration). Plan adds a note when the issuing
// changes planned for an issuer exceed what its budget leaves; Apply
// issues the most urgent ones the budget covers and defers the others,
// untouched, to a later run. That keeps certctl under a CA's limits (Let's
// Encrypt: 300 new orders per 3 hours) instead of learning about them
// from refused orders half-way through an apply.

// orderBudget is what a rate limit leaves at some time.
type orderBudget struct {
	limit     spec.ACMERateLimit
	used      int // orders in (now-per, now]
	available int
}

// orderBudgets returns, for each acme issuer of cfg with a rate limit, the
// orders snap shows in its last period before now and what is left.
// Pure; nil when no issuer has a rate limit.
func orderBudgets(cfg *spec.Config, snap *state.Snapshot, now time.Time) map[string]*orderBudget {
	var out map[string]*orderBudget
	for name, is := range cfg.Issuers {
		if is.Type == spec.IssuerTypeACME && is.ACME != nil && is.ACME.RateLimit != nil {
			if out == nil {
				out = make(map[string]*orderBudget)
			}
			out[name] = &orderBudget{limit: *is.ACME.RateLimit}
		}
	}
	if out == nil || snap == nil {
		return out
	}
	count := func(issuer string, at time.Time) {
		if b := out[issuer]; b != nil && !at.IsZero() && at.After(now.Add(-b.limit.Per)) && !at.After(now) {
			b.used++
		}
	}
	for _, rec := range snap.Certificates {
		if rec.Fingerprint != "" {
			count(rec.Issuer, rec.IssuedAt)
		}
		for i := range rec.History {
			count(rec.History[i].Issuer, rec.History[i].IssuedAt)
		}
	}
	for _, b := range out {
		b.available = max(b.limit.Orders-b.used, 0)
	}
	return out
}

// urgency orders issuing changes for a budget: expired certificates
// first, then new ones, then renewals and replacements by expiry; ties by
// address. The same order in Plan's note and in Apply.
func urgency(now time.Time) func(a, b Change) int {
	class := func(ch Change) int {
		switch {
		case ch.NotAfter.IsZero():
			return 1
		case !now.Before(ch.NotAfter):
			return 0
		default:
			return 2
		}
	}
	return func(a, b Change) int {
		return cmp.Or(cmp.Compare(class(a), class(b)), a.NotAfter.Compare(b.NotAfter), strings.Compare(a.Address, b.Address))
	}
}

// rateLimits adds a note for each issuer whose planned orders exceed its
// budget.
func (pl *planner) rateLimits() { rateLimitNotes(pl.cfg, pl.snap, pl.now, pl.p) }

func rateLimitNotes(cfg *spec.Config, snap *state.Snapshot, now time.Time, p *ActionPlan) {
	budgets := orderBudgets(cfg, snap, now)
	if len(budgets) == 0 {
		return
	}
	planned := map[string][]Change{}
	for _, ch := range p.Changes {
		if c := cfg.Certificates[ch.Name]; ch.Kind == KindCertificate && ch.Action.Issues() && c != nil && budgets[c.Issuer] != nil {
			planned[c.Issuer] = append(planned[c.Issuer], ch)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(planned)) {
		b, chs := budgets[name], planned[name]
		if len(chs) <= b.available {
			continue
		}
		slices.SortFunc(chs, urgency(now))
		deferred := chs[b.available:]
		msg := fmt.Sprintf("%d orders planned, but rate_limit (%d per %s) leaves %d now (%d used): apply issues the %d most urgent and defers %d (%s) to a later run",
			len(chs), b.limit.Orders, spec.FormatDuration(b.limit.Per), b.available, b.used, b.available, len(deferred), addressList(deferred, 3))
		p.Notes = append(p.Notes, Note{Address: IssuerAddress(name), Kind: NoteRateLimit, Message: msg})
	}
}

// addressList renders the first n addresses of chs, "and N more" after.
func addressList(chs []Change, n int) string {
	var b strings.Builder
	for i, ch := range chs {
		if i == n {
			fmt.Fprintf(&b, " and %d more", len(chs)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ch.Address)
	}
	return b.String()
}

// spread drops from units the issuing changes their issuer's budget does
// not cover at apply time, most urgent kept first, and lists them in
// Result.Deferred. The rest of a unit (a notify change, say) still runs.
// It runs before any unit starts, with a.mu held (a new CA's commit may
// be reporting meanwhile).
func (a *applier) spread(units [][]Change) [][]Change {
	now := a.deps.Now()
	budgets := orderBudgets(a.cfg, a.snap, now)
	if len(budgets) == 0 {
		return units
	}
	var cands []Change
	for _, u := range units {
		for _, ch := range u {
			if c := a.cfg.Certificates[ch.Name]; ch.Action.Issues() && c != nil && budgets[c.Issuer] != nil {
				cands = append(cands, ch)
			}
		}
	}
	slices.SortFunc(cands, urgency(now))
	deferred := map[string]bool{} // by certificate name
	for _, ch := range cands {
		b := budgets[a.cfg.Certificates[ch.Name].Issuer]
		if b.available > 0 {
			b.available--
			continue
		}
		deferred[ch.Name] = true
		a.res.Deferred = append(a.res.Deferred, ch.Address)
	}
	if len(deferred) == 0 {
		return units
	}
	slices.Sort(a.res.Deferred)
	a.total -= len(deferred)
	out := units[:0]
	for _, u := range units {
		if deferred[u[0].Name] {
			u = slices.DeleteFunc(u, func(ch Change) bool { return ch.Action.Issues() })
		}
		if len(u) > 0 {
			out = append(out, u)
		}
	}
	return out
}
