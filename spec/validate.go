package spec

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// checkSubjects are where a certificate's policy errors point. A subject
// is unset when the certificate does not set the argument (the value then
// comes from the policy) or when it was already reported as invalid.
type checkSubjects struct {
	cn           subject
	cnIsDNS      bool
	dns          subject
	dnsRngs      []hcl.Range // one per c.DNSNames
	keyAlgorithm subject
	validity     subject
}

// subject is an argument that a later error may point at.
type subject struct {
	set bool
	rng hcl.Range // of its expression
	// attr is the argument, for errorf; nil once only the position is
	// kept (see prepareCertificate), which is enough outside a for_each.
	attr *hcl.Attribute
}

func subjectOf(a *hcl.Attribute) subject {
	if a == nil {
		return subject{}
	}
	return subject{set: true, rng: a.Expr.Range(), attr: a}
}

// errorOn is errorAt for subject s.
func (b *body) errorOn(s subject, rng hcl.Range, summary, detail string, args ...any) {
	if s.attr != nil {
		b.errorAt(rng, s.attr, summary, detail, args...)
		return
	}
	// What errorf records when it has no for_each instance to show.
	*b.diags = append(*b.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  rng.Ptr(),
	})
}

// checkPolicy enforces a policy's constraints on a certificate. They are
// errors, not advice: a certificate the policy does not allow is never
// planned.
func (l *loader) checkPolicy(b *body, c *Certificate, p *Policy, s checkSubjects) {
	if len(p.AllowedDomains) > 0 {
		notAllowed := func(a subject, rng hcl.Range, name string) {
			b.errorOn(a, rng, "Domain not allowed by policy",
				"%q is not covered by the allowed_domains of policy.%s (%s). Use a name the policy allows, choose another policy, or widen allowed_domains.",
				name, p.Name, strings.Join(p.AllowedDomains, ", "))
		}
		if s.cn.set && s.cnIsDNS && !domainAllowed(c.CommonName, p.AllowedDomains) {
			notAllowed(s.cn, s.cn.rng, c.CommonName)
		}
		for i, n := range c.DNSNames {
			if n == c.CommonName && s.cn.set && s.cnIsDNS {
				continue // reported once, on common_name
			}
			if !domainAllowed(n, p.AllowedDomains) {
				notAllowed(s.dns, s.dnsRngs[i], n)
			}
		}
	}
	if s.keyAlgorithm.set && !contains(p.AllowedKeyAlgorithms, c.KeyAlgorithm) {
		b.errorOn(s.keyAlgorithm, s.keyAlgorithm.rng, "Key algorithm not allowed by policy",
			"policy.%s allows %s, not %q. Use an allowed algorithm, or add this one to the policy's allowed_key_algorithms.",
			p.Name, oneOfList(p.AllowedKeyAlgorithms), c.KeyAlgorithm)
	}
	if s.validity.set {
		if c.Validity > p.MaxValidity {
			b.errorOn(s.validity, s.validity.rng, "Validity exceeds maximum",
				"The validity %s is longer than policy.%s allows (max_validity %s). Shorten it, or raise the policy's max_validity.",
				formatDuration(c.Validity), p.Name, formatDuration(p.MaxValidity))
		} else if p.RenewBefore.Duration > 0 && p.RenewBefore.Duration >= c.Validity {
			b.errorOn(s.validity, s.validity.rng, "Validity shorter than renew_before",
				"The validity %s is not longer than the renew_before %s of policy.%s, so the certificate would be due for renewal as soon as it is issued. Lengthen the validity, or use a percentage renew_before in the policy.",
				formatDuration(c.Validity), formatDuration(p.RenewBefore.Duration), p.Name)
		}
	}
}
