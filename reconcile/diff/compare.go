package diff

import (
	"maps"
	"slices"
	"strings"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
)

// comparer holds the state of one Compare.
type comparer struct {
	before, after *spec.Config
	d             *Diff
	// newCA names the CAs HEAD replaces (local, step-ca): their
	// certificates are replaced too, as the plan does.
	newCA map[string]bool
	// policyValidity names the policies whose validity grew: the
	// attention item is the policy's, not each certificate's.
	policyValidity map[string]bool
	// policyKey names the policies whose key_algorithm got weaker.
	policyKey map[string]bool
	// uses index the certificates of each configuration by the blocks
	// they use; built on first need.
	usesBefore, usesAfter map[string][]string
}

// blocks compares every block other than certificates.
func (c *comparer) blocks() {
	bb, ab := blocksOf(c.before), blocksOf(c.after)
	for _, kind := range Kinds {
		if kind == "certificate" {
			continue
		}
		for _, name := range sortedKeys(bb[kind], ab[kind]) {
			b, inB := bb[kind][name]
			a, inA := ab[kind][name]
			ch := Change{Address: address(kind, name), Kind: kind, Name: name}
			switch {
			case !inB:
				ch.Op, ch.Type = OpAdd, a.typ
				ch.Reason = "new in the configuration"
				ch.Diffs = diffAttrs(nil, a.attrs)
				ch.Affects = c.uses(true, ch.Address)
			case !inA:
				ch.Op, ch.Type = OpRemove, b.typ
				ch.Reason = "removed from the configuration"
				ch.Affects = c.uses(false, ch.Address)
			default:
				ch.Diffs = diffAttrs(b.attrs, a.attrs)
				if len(ch.Diffs) == 0 {
					continue
				}
				ch.Op, ch.Type = OpUpdate, a.typ
				ch.Reason = strings.Join(changedNames(ch.Diffs), ", ") + " changed"
				ch.Affects = c.uses(true, ch.Address)
			}
			if kind == "issuer" && ch.Op == OpUpdate {
				c.issuerReplaced(&ch, c.before.Issuers[name], c.after.Issuers[name])
			}
			if len(ch.Affects) > 0 {
				ch.Reason += "; affects " + countNoun(len(ch.Affects), "certificate")
			}
			if ch.Op == OpUpdate || ch.Op == OpReplace || (ch.Op == OpAdd && kind == "policy") {
				c.blockAttention(ch)
			}
			c.d.Changes = append(c.d.Changes, ch)
		}
	}
}

// issuerReplaced makes ch a replace when a local CA's root changes, as
// the plan does (reconcile.IssuerDigest), or a step_ca issuer trusts
// another root (reconcile.StepCADigest).
func (c *comparer) issuerReplaced(ch *Change, b, a *spec.Issuer) {
	if b.StepCA != nil && a.StepCA != nil && reconcile.StepCADigest(b.StepCA) != reconcile.StepCADigest(a.StepCA) {
		c.forceAttrs(ch, "root")
		ch.Reason = "root changed: another CA, and every certificate the old one issued is replaced"
		c.markNewCA(a.Name)
		return
	}
	if b.Type != reconcile.IssuerTypeLocalCA || a.Type != reconcile.IssuerTypeLocalCA || reconcile.IssuerDigest(b) == reconcile.IssuerDigest(a) {
		return
	}
	c.forceAttrs(ch, "type", "common_name", "key_algorithm", "validity")
	ch.Reason = strings.Join(ch.Forces, ", ") + " changed: a new CA is created and every certificate it issued is replaced"
	c.markNewCA(a.Name)
}

// forceAttrs makes ch a replace forced by those of attrs it changes.
func (c *comparer) forceAttrs(ch *Change, attrs ...string) {
	for i, d := range ch.Diffs {
		if slices.Contains(attrs, d.Attribute) {
			ch.Diffs[i].Forces = true
			ch.Forces = append(ch.Forces, d.Attribute)
		}
	}
	ch.Op = OpReplace
}

// markNewCA records that HEAD's issuer name is another CA than BASE's.
func (c *comparer) markNewCA(name string) {
	if c.newCA == nil {
		c.newCA = map[string]bool{}
	}
	c.newCA[name] = true
}

// uses lists the certificates of HEAD (after) or BASE that use the block
// at addr, directly or, for a notifier, through their owner or team, and
// for an agent through their targets.
func (c *comparer) uses(after bool, addr string) []string {
	idx := &c.usesBefore
	cfg := c.before
	if after {
		idx, cfg = &c.usesAfter, c.after
	}
	if *idx == nil {
		*idx = usesIndex(cfg)
	}
	return (*idx)[addr]
}

func usesIndex(cfg *spec.Config) map[string][]string {
	idx := map[string][]string{}
	var seen []string
	for _, name := range slices.Sorted(maps.Keys(cfg.Certificates)) {
		ct := cfg.Certificates[name]
		addr := reconcile.CertAddress(name)
		seen = seen[:0]
		use := func(a string) {
			if !slices.Contains(seen, a) {
				seen = append(seen, a)
				idx[a] = append(idx[a], addr)
			}
		}
		use("issuer." + ct.Issuer)
		use("policy." + ct.Policy)
		use("owner." + ct.Owner)
		use("team." + ct.Team)
		for _, n := range ct.Notifiers {
			use("notifier." + n)
		}
		if o := cfg.Owners[ct.Owner]; o != nil {
			for _, n := range o.Notifiers {
				use("notifier." + n)
			}
		}
		if t := cfg.Teams[ct.Team]; t != nil {
			for _, n := range t.Notifiers {
				use("notifier." + n)
			}
		}
		for _, t := range ct.Targets {
			use("target." + t)
			if tg := cfg.Targets[t]; tg != nil && tg.Agent != "" {
				use("agent." + tg.Agent)
			}
		}
	}
	return idx
}

// certificates compares every certificate.
func (c *comparer) certificates() {
	for name, a := range c.after.Certificates {
		b := c.before.Certificates[name]
		if b == nil {
			c.added(a)
			continue
		}
		c.changed(b, a)
	}
	var gone map[string]string // common name → removed certificate's address
	for name, b := range c.before.Certificates {
		if _, ok := c.after.Certificates[name]; !ok {
			c.removed(b)
			if gone == nil {
				gone = map[string]string{}
			}
			if prev, ok := gone[b.CommonName]; !ok || reconcile.CertAddress(b.Name) < prev {
				gone[b.CommonName] = reconcile.CertAddress(b.Name)
			}
		}
	}
	if gone == nil {
		return
	}
	// A certificate renamed in the configuration is a new certificate and
	// the removal of the old one: say so where a reviewer looks.
	for i := range c.d.Changes {
		ch := &c.d.Changes[i]
		if ch.Kind == "certificate" && ch.Op == OpAdd && gone[ch.CommonName] != "" {
			ch.RenamedFrom = gone[ch.CommonName]
			ch.Reason += "; " + ch.RenamedFrom + ", removed, had this common_name: a rename issues a new certificate"
		}
	}
}

func (c *comparer) added(a *spec.Certificate) {
	addr := reconcile.CertAddress(a.Name)
	c.d.Changes = append(c.d.Changes, Change{
		Address: addr, Kind: "certificate", Name: a.Name, Op: OpAdd,
		Reason:     "new in the configuration: issued by issuer." + a.Issuer + " under policy." + a.Policy,
		CommonName: a.CommonName, Issuer: a.Issuer, Policy: a.Policy, Owner: a.Owner,
	})
	c.wildcards(addr, nil, a)
}

func (c *comparer) removed(b *spec.Certificate) {
	addr := reconcile.CertAddress(b.Name)
	ch := Change{
		Address: addr, Kind: "certificate", Name: b.Name, Op: OpRemove,
		Reason:     "removed from the configuration: forgotten, not revoked",
		CommonName: b.CommonName, Issuer: b.Issuer, Policy: b.Policy, Owner: b.Owner,
		OnRemove: "forget",
	}
	if b.OnRemove == "revoke" {
		ch.OnRemove = "revoke"
		ch.Reason = `removed from the configuration with on_remove = "revoke": apply revokes it if issuer.` + b.Issuer + ` can, then forgets it`
		c.attention(addr, AttentionRevoke, `removed with on_remove = "revoke" (issuer.`+b.Issuer+`)`)
	}
	c.d.Changes = append(c.d.Changes, ch)
}

func (c *comparer) changed(b, a *spec.Certificate) {
	forces, diffs := reconcile.CompareCertificates(b, c.before, a, c.after)
	if c.newCA[a.Issuer] && a.Issuer == b.Issuer {
		forces = append(forces, reconcile.AttrIssuer)
		diffs = append(diffs, reconcile.AttrDiff{Attribute: reconcile.AttrIssuer, Before: reconcile.Quote(b.Issuer), After: reconcile.Quote(a.Issuer) + " (new CA)", Forces: true})
	}
	// What the plan does not compare but a reviewer wants to see: these
	// take effect at the next issuance or notice.
	if a.Policy != b.Policy {
		diffs = append(diffs, reconcile.AttrDiff{Attribute: "policy", Before: reconcile.Quote(b.Policy), After: reconcile.Quote(a.Policy)})
	}
	if a.Validity != b.Validity {
		diffs = append(diffs, reconcile.AttrDiff{Attribute: "validity", Before: reconcile.Quote(spec.FormatDuration(b.Validity)), After: reconcile.Quote(spec.FormatDuration(a.Validity))})
	}
	if !slices.Equal(a.Targets, b.Targets) {
		diffs = append(diffs, reconcile.AttrDiff{Attribute: "targets", Before: reconcile.QuoteList(b.Targets), After: reconcile.QuoteList(a.Targets)})
	}
	if !slices.Equal(a.Notifiers, b.Notifiers) {
		diffs = append(diffs, reconcile.AttrDiff{Attribute: "notifiers", Before: reconcile.QuoteList(b.Notifiers), After: reconcile.QuoteList(a.Notifiers)})
	}
	if len(diffs) == 0 {
		return
	}
	addr := reconcile.CertAddress(a.Name)
	ch := Change{Address: addr, Kind: "certificate", Name: a.Name, Forces: forces, Diffs: diffs}
	if len(forces) > 0 {
		ch.Op = OpReplace
		ch.Reason = strings.Join(forces, ", ") + " changed: a new certificate is issued"
	} else {
		ch.Op = OpUpdate
		ch.Reason = strings.Join(changedNames(diffs), ", ") + " changed (no new certificate)"
	}
	c.d.Changes = append(c.d.Changes, ch)

	if weaker(b.KeyAlgorithm, a.KeyAlgorithm) && !(a.Policy == b.Policy && c.policyKey[a.Policy]) {
		c.attention(addr, AttentionKeyDowngrade, "key_algorithm "+b.KeyAlgorithm+" → "+a.KeyAlgorithm)
	}
	if a.Validity > b.Validity && !(a.Policy == b.Policy && c.policyValidity[a.Policy]) {
		c.attention(addr, AttentionValidityIncrease, "validity "+spec.FormatDuration(b.Validity)+" → "+spec.FormatDuration(a.Validity))
	}
	if a.Issuer != b.Issuer {
		c.attention(addr, AttentionIssuerSwitch, "issuer."+b.Issuer+" → issuer."+a.Issuer)
	}
	c.wildcards(addr, b, a)
}

// wildcards flags wildcard names a has and b (nil for a new certificate)
// had not.
func (c *comparer) wildcards(addr string, b, a *spec.Certificate) {
	names := append([]string{a.CommonName}, a.DNSNames...)
	var had []string
	if b != nil {
		had = append([]string{b.CommonName}, b.DNSNames...)
	}
	var added []string
	for _, n := range names {
		if strings.HasPrefix(n, "*.") && !slices.Contains(had, n) && !slices.Contains(added, n) {
			added = append(added, n)
		}
	}
	if len(added) > 0 {
		c.attention(addr, AttentionNewWildcard, "new wildcard name "+strings.Join(added, ", "))
	}
}

// blockAttention flags the policy and issuer changes a reviewer must not
// miss.
func (c *comparer) blockAttention(ch Change) {
	get := func(attr string) (before, after string, ok bool) {
		for _, d := range ch.Diffs {
			if d.Attribute == attr {
				return unquote(d.Before), unquote(d.After), true
			}
		}
		return "", "", false
	}
	affects := ""
	if len(ch.Affects) > 0 {
		affects = " (" + countNoun(len(ch.Affects), "certificate") + ")"
	}
	switch ch.Kind {
	case "policy":
		if ch.Op != OpAdd {
			b, a := c.before.Policies[ch.Name], c.after.Policies[ch.Name]
			if a.Validity > b.Validity {
				c.attention(ch.Address, AttentionValidityIncrease, "validity "+spec.FormatDuration(b.Validity)+" → "+spec.FormatDuration(a.Validity)+affects)
				if c.policyValidity == nil {
					c.policyValidity = map[string]bool{}
				}
				c.policyValidity[ch.Name] = true
			}
			if a.MaxValidity > b.MaxValidity && a.MaxValidity != a.Validity {
				c.attention(ch.Address, AttentionValidityIncrease, "max_validity "+spec.FormatDuration(b.MaxValidity)+" → "+spec.FormatDuration(a.MaxValidity))
			}
			if weaker(b.KeyAlgorithm, a.KeyAlgorithm) {
				c.attention(ch.Address, AttentionKeyDowngrade, "key_algorithm "+b.KeyAlgorithm+" → "+a.KeyAlgorithm+affects)
				if c.policyKey == nil {
					c.policyKey = map[string]bool{}
				}
				c.policyKey[ch.Name] = true
			}
			if w := weakest(a.AllowedKeyAlgorithms); weaker(weakest(b.AllowedKeyAlgorithms), w) {
				c.attention(ch.Address, AttentionKeyDowngrade, "allowed_key_algorithms now allows "+w)
			}
			c.domainPatterns(ch.Address, b.AllowedDomains, a.AllowedDomains)
		} else {
			c.domainPatterns(ch.Address, nil, c.after.Policies[ch.Name].AllowedDomains)
		}
	case "issuer":
		b, a := c.before.Issuers[ch.Name], c.after.Issuers[ch.Name]
		if weaker(b.KeyAlgorithm, a.KeyAlgorithm) {
			c.attention(ch.Address, AttentionKeyDowngrade, "key_algorithm "+b.KeyAlgorithm+" → "+a.KeyAlgorithm)
		}
		if a.MaxValidity > b.MaxValidity {
			c.attention(ch.Address, AttentionValidityIncrease, "max_validity "+spec.FormatDuration(b.MaxValidity)+" → "+spec.FormatDuration(a.MaxValidity))
		}
		if before, after, ok := get("type"); ok {
			c.attention(ch.Address, AttentionIssuerSwitch, "type "+before+" → "+after+affects)
		}
		if before, after, ok := get("directory"); ok && before != "(none)" {
			c.attention(ch.Address, AttentionIssuerSwitch, "ACME directory "+before+" → "+after+affects)
		}
	}
}

// domainPatterns flags wildcard patterns in a policy's allowed_domains
// that were not there, and a list emptied (any name allowed).
func (c *comparer) domainPatterns(addr string, before, after []string) {
	if len(before) > 0 && len(after) == 0 {
		c.attention(addr, AttentionNewWildcard, "allowed_domains removed: any name is allowed")
		return
	}
	var added []string
	for _, p := range after {
		if (strings.HasPrefix(p, "*.") || strings.HasPrefix(p, ".")) && !slices.Contains(before, p) {
			added = append(added, p)
		}
	}
	if len(added) > 0 {
		c.attention(addr, AttentionNewWildcard, "allowed_domains allows "+strings.Join(added, ", "))
	}
}

func (c *comparer) attention(addr, kind, msg string) {
	c.d.Attention = append(c.d.Attention, Attention{Address: addr, Kind: kind, Message: msg})
}

// keyStrength is the security strength in bits of each key algorithm
// (NIST SP 800-57 part 1, table 2; rsa-4096 between the 3072 and 7680
// rows).
var keyStrength = map[string]int{
	"rsa-2048": 112, "rsa-3072": 128, "rsa-4096": 152,
	"ecdsa-p256": 128, "ed25519": 128, "ecdsa-p384": 192,
}

// weaker reports whether key algorithm after is weaker than before. An
// unknown or unset side is not a downgrade.
func weaker(before, after string) bool {
	b, okB := keyStrength[before]
	a, okA := keyStrength[after]
	return okB && okA && a < b
}

// weakest is the weakest key algorithm of algs, "" for none.
func weakest(algs []string) string {
	w := ""
	for _, alg := range algs {
		if _, ok := keyStrength[alg]; ok && (w == "" || keyStrength[alg] < keyStrength[w]) {
			w = alg
		}
	}
	return w
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// sortedKeys is the union of a's and b's keys, sorted.
func sortedKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
