package spec

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

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

// usageServerAuth is the usage of TLS server certificates.
const usageServerAuth = "server_auth"

// checkIdentity checks a common name that is not a host name. A TLS
// server certificate (usages with server_auth) must name a host, so there
// it is an error. An S/MIME or client certificate may name a mailbox: the
// address must be valid, its domain within allowed_domains, and it is
// added to email_addresses when missing (S/MIME clients match the SAN,
// not the CN). Any other common name names a person or a service: printable
// text, no control characters.
func checkIdentity(b *body, c *Certificate, p *Policy, iss *Issuer, v *certValues) {
	s := v.subjects.cn
	if v.cnNotHost == nil || !s.set {
		return
	}
	if iss != nil && iss.Type == IssuerTypeACME {
		b.errorOn(s, s.rng, "Invalid common name",
			"%q is not a valid DNS name or IP address: %v. issuer.%s is an ACME CA, which certifies host names only. Use a local CA for a person, a service or a mailbox.",
			c.CommonName, v.cnNotHost, iss.Name)
		return
	}
	if contains(p.Usages, usageServerAuth) {
		b.errorOn(s, s.rng, "Invalid common name",
			"%q is not a valid DNS name or IP address: %v. policy.%s includes server_auth, and a TLS server certificate names a host; a person or mailbox is allowed only in client_auth or email_protection certificates.",
			c.CommonName, v.cnNotHost, p.Name)
		return
	}
	if strings.Contains(c.CommonName, "@") {
		if err := checkEmail(c.CommonName); err != nil {
			b.errorOn(s, s.rng, "Invalid email address", "The common name %q is not usable as a mailbox: %v.", c.CommonName, err)
			return
		}
		if _, domain, _ := strings.Cut(c.CommonName, "@"); len(p.AllowedDomains) > 0 && !domainAllowed(strings.ToLower(domain), p.AllowedDomains) {
			b.errorOn(s, s.rng, "Domain not allowed by policy",
				"The domain of %q is not covered by the allowed_domains of policy.%s (%s). Use an address the policy allows, choose another policy, or widen allowed_domains.",
				c.CommonName, p.Name, strings.Join(p.AllowedDomains, ", "))
			return
		}
		if !slices.Contains(c.EmailAddresses, c.CommonName) {
			c.EmailAddresses = append(c.EmailAddresses, c.CommonName)
		}
		return
	}
	for _, r := range c.CommonName {
		if !unicode.IsPrint(r) {
			b.errorOn(s, s.rng, "Invalid common name",
				"The common name %q contains the unprintable character %U. Use the plain name of the person or service.", c.CommonName, r)
			return
		}
	}
	if strings.TrimSpace(c.CommonName) != c.CommonName || c.CommonName == "" {
		b.errorOn(s, s.rng, "Invalid common name",
			"The common name %q starts or ends with white space, or is empty. Remove it.", c.CommonName)
	}
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
