package spec

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// checkSubjects are where a certificate's policy errors point. An
// attribute is nil when the certificate does not set it (the value then
// comes from the policy) or when it was already reported as invalid.
type checkSubjects struct {
	cn           *hcl.Attribute
	cnIsDNS      bool
	dns          *hcl.Attribute
	dnsRngs      []hcl.Range // one per c.DNSNames
	keyAlgorithm *hcl.Attribute
	validity     *hcl.Attribute
	policyRef    *hcl.Attribute
}

// checkPolicy enforces a policy's constraints on a certificate. They are
// errors, not advice: a certificate the policy does not allow is never
// planned.
func (l *loader) checkPolicy(b *body, c *Certificate, p *Policy, s checkSubjects) {
	if len(p.AllowedDomains) > 0 {
		notAllowed := func(a *hcl.Attribute, rng hcl.Range, name string) {
			b.errorAt(rng, a, "Domain not allowed by policy",
				"%q is not covered by the allowed_domains of policy.%s (%s). Use a name the policy allows, choose another policy, or widen allowed_domains.",
				name, p.Name, strings.Join(p.AllowedDomains, ", "))
		}
		if s.cn != nil && s.cnIsDNS && !domainAllowed(c.CommonName, p.AllowedDomains) {
			notAllowed(s.cn, s.cn.Expr.Range(), c.CommonName)
		}
		for i, n := range c.DNSNames {
			if n == c.CommonName && s.cn != nil && s.cnIsDNS {
				continue // reported once, on common_name
			}
			if !domainAllowed(n, p.AllowedDomains) {
				notAllowed(s.dns, s.dnsRngs[i], n)
			}
		}
	}
	if s.keyAlgorithm != nil && !contains(p.AllowedKeyAlgorithms, c.KeyAlgorithm) {
		b.errorf(s.keyAlgorithm, "Key algorithm not allowed by policy",
			"policy.%s allows %s, not %q. Use an allowed algorithm, or add this one to the policy's allowed_key_algorithms.",
			p.Name, oneOfList(p.AllowedKeyAlgorithms), c.KeyAlgorithm)
	}
	if s.validity != nil {
		if c.Validity > p.MaxValidity {
			b.errorf(s.validity, "Validity exceeds maximum",
				"The validity %s is longer than policy.%s allows (max_validity %s). Shorten it, or raise the policy's max_validity.",
				formatDuration(c.Validity), p.Name, formatDuration(p.MaxValidity))
		} else if p.RenewBefore.Duration > 0 && p.RenewBefore.Duration >= c.Validity {
			b.errorf(s.validity, "Validity shorter than renew_before",
				"The validity %s is not longer than the renew_before %s of policy.%s, so the certificate would be due for renewal as soon as it is issued. Lengthen the validity, or use a percentage renew_before in the policy.",
				formatDuration(c.Validity), formatDuration(p.RenewBefore.Duration), p.Name)
		}
	}
}
