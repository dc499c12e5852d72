package spec

import (
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// KeyAlgorithms are the key algorithms certctl can generate, in the order
// they are listed in messages. The first is the default.
var KeyAlgorithms = []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"}

// Usages are the extended key usages a policy may grant.
var Usages = []string{"server_auth", "client_auth", "email_protection"}

const day = 24 * time.Hour

// Policy defaults.
const (
	DefaultPolicyValidity     = 90 * day
	DefaultRenewBeforePercent = 33
)

// DefaultNotifyBefore is a policy's notify_before when it sets none.
var DefaultNotifyBefore = []time.Duration{30 * day, 14 * day, 7 * day, 0}

// decodePolicyBlock decodes `policy "NAME" {}` and fills its defaults.
func (l *loader) decodePolicyBlock(blk *hcl.Block) {
	name, ok := declare(l, "policy", blk, l.cfg.Policies)
	if !ok {
		return
	}
	n := len(l.diags)
	p := &Policy{Name: name, DeclRange: blk.DefRange}
	l.cfg.Policies[name] = p
	b := l.body("policy", l.content(blk, policySchema), l.ctx)

	p.Validity = DefaultPolicyValidity
	if d, _, ok := b.positiveDuration("validity"); ok {
		p.Validity = d
	}
	p.MaxValidity = p.Validity
	if d, a, ok := b.positiveDuration("max_validity"); ok {
		p.MaxValidity = d
		if p.Validity > d {
			subject := b.attrs["validity"]
			if subject == nil {
				subject = a
			}
			b.errorf(subject, "Validity exceeds maximum",
				"The policy's validity (%s) is longer than its max_validity (%s, at %s). Shorten validity or raise max_validity.",
				formatDuration(p.Validity), formatDuration(d), at(a.Expr.Range()))
		}
	}
	p.RenewBefore = b.renewBefore(p.Validity)

	p.KeyAlgorithm = KeyAlgorithms[0]
	kaAttr := b.attrs["key_algorithm"]
	if v, _, ok := b.oneOf("key_algorithm", "key algorithm", KeyAlgorithms); ok {
		p.KeyAlgorithm = v
	}
	p.AllowedKeyAlgorithms = []string{p.KeyAlgorithm}
	if vs, a, ok := b.enumList("allowed_key_algorithms", "key algorithm", KeyAlgorithms); ok {
		p.AllowedKeyAlgorithms = vs
		if !contains(vs, p.KeyAlgorithm) {
			subject := a
			if kaAttr != nil {
				subject = kaAttr
			}
			b.errorf(subject, "Key algorithm not allowed",
				"The policy's key_algorithm %q is not in its allowed_key_algorithms (%s). Add it to the list, or set key_algorithm to one of them.",
				p.KeyAlgorithm, oneOfList(vs))
		}
	}

	p.Usages = []string{"server_auth"}
	if vs, a, ok := b.enumList("usages", "usage", Usages); ok {
		if len(vs) == 0 {
			b.errorf(a, "No usages", "usages must list at least one of %s.", oneOfList(Usages))
		} else {
			p.Usages = vs
		}
	}

	if vs, rngs, a, ok := b.strList("allowed_domains"); ok {
		for i, v := range vs {
			norm, err := normalizeDomainPattern(v)
			if err != nil {
				b.errorAt(rngs[i], a, "Invalid domain pattern",
					"%s is not a valid allowed_domains entry: %v. Write \"example.com\" (that name), \"*.example.com\" (one label below it) or \".example.com\" (any name below it).",
					b.show(a.Name, v), err)
				continue
			}
			p.AllowedDomains = append(p.AllowedDomains, norm)
		}
	}

	p.NotifyBefore = append([]time.Duration(nil), DefaultNotifyBefore...)
	if vs, rngs, a, ok := b.strList("notify_before"); ok {
		out := make([]time.Duration, 0, len(vs))
		for i, v := range vs {
			if d, ok := b.durationOf(a, rngs[i], v); ok {
				out = append(out, d)
			}
		}
		p.NotifyBefore = out
	}

	if v, a, ok := b.value("subject_common_name", cty.DynamicPseudoType); ok {
		if v.Type() != cty.Bool || !v.IsKnown() {
			b.errorf(a, "Invalid subject_common_name",
				"subject_common_name is true (the default: the common_name is the subject's CN and a SAN) or false (the subject is empty and the common_name is a SAN only), not a %s.", v.Type().FriendlyName())
		} else {
			p.OmitSubjectCommonName = v.False()
		}
	}
	if l.errorsSince(n) {
		l.broken["policy."+name] = true
	}
}

// renewBefore reads renew_before: "33%" (of the lifetime remaining) or a
// duration shorter than validity. The default is 33%.
func (b *body) renewBefore(validity time.Duration) RenewBefore {
	def := RenewBefore{Percent: DefaultRenewBeforePercent}
	s, a, ok := b.str("renew_before")
	if !ok {
		return def
	}
	if pct, isPct := strings.CutSuffix(strings.TrimSpace(s), "%"); isPct {
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || !(f > 0 && f < 100) {
			b.errorf(a, "Invalid renew_before",
				"renew_before as a percentage must be between 0%% and 100%%, exclusive, like \"33%%\".")
			return def
		}
		return RenewBefore{Percent: f}
	}
	d, ok := b.durationOf(a, a.Expr.Range(), s)
	if !ok {
		return def
	}
	if d == 0 || d >= validity {
		b.errorf(a, "Invalid renew_before",
			"renew_before (%s) must be longer than zero and shorter than the validity (%s), or a percentage like \"33%%\".",
			formatDuration(d), formatDuration(validity))
		return def
	}
	return RenewBefore{Duration: d}
}

// enumList reads a list whose elements must each be one of allowed, without
// repetitions.
func (b *body) enumList(name, what string, allowed []string) ([]string, *hcl.Attribute, bool) {
	vs, rngs, a, ok := b.strList(name)
	if !ok {
		return nil, a, false
	}
	out := make([]string, 0, len(vs))
	seen := map[string]bool{}
	for i, v := range vs {
		if !b.checkOneOf(a, rngs[i], what, v, allowed) {
			ok = false
			continue
		}
		if seen[v] {
			b.errorAt(rngs[i], a, "Duplicate "+what, "%q appears more than once in %s; remove the repetition.", v, name)
			ok = false
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out, a, ok
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
