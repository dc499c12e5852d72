package spec

import (
	"net"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// maxCommonNameLength is ub-common-name of RFC 5280.
const maxCommonNameLength = 64

// OnRemove values: what happens to a certificate removed from the config.
var OnRemoveValues = []string{"forget", "revoke"}

// certRefs are a certificate block's references. They are static
// traversals, the same for every for_each instance, so they are decoded
// once per block.
type certRefs struct {
	issuer, policy, owner, team string
	issuerOK, policyOK          bool
	targets, notifiers          []string
}

// decodeCertificateBlock decodes `certificate "LABEL" {}` into one
// Certificate, or one per for_each element.
func (l *loader) decodeCertificateBlock(blk *hcl.Block) {
	label, ok := l.checkName(blk)
	if !ok {
		return
	}
	if prev, dup := l.certDecls[label]; dup {
		l.duplicate("certificate", label, prev, blk)
		return
	}
	l.certDecls[label] = blk.DefRange
	content, diags := blk.Body.Content(certificateSchema)
	l.diags = append(l.diags, diags...)

	rb := l.body("certificate", content, l.ctx)
	var refs certRefs
	refs.issuer, _, refs.issuerOK = rb.ref("issuer", "issuer")
	refs.policy, _, refs.policyOK = rb.ref("policy", "policy")
	refs.owner, _, _ = rb.ref("owner", "owner")
	refs.team, _, _ = rb.ref("team", "team")
	refs.targets, _, _ = rb.refList("targets", "target")
	refs.notifiers, _, _ = rb.refList("notifiers", "notifier")

	fe := content.Attributes["for_each"]
	if fe == nil {
		c := &Certificate{Name: label, Label: label, DeclRange: blk.DefRange}
		l.cfg.Certificates[c.Name] = c
		l.certWork = append(l.certWork, certWork{c, content, l.ctx, &refs, nil})
		return
	}
	delete(content.Attributes, "for_each")
	insts, ok := l.forEach(fe)
	if !ok {
		return
	}
	for _, in := range insts {
		c := &Certificate{Name: instanceName(label, in.key), Label: label, Key: in.key, DeclRange: blk.DefRange}
		l.cfg.Certificates[c.Name] = c
		l.certWork = append(l.certWork, certWork{c, content, l.eachContext(in), &refs, nil})
	}
}

// certWork is one certificate instance to decode.
type certWork struct {
	cert    *Certificate
	content *hcl.BodyContent
	ctx     *hcl.EvalContext
	refs    *certRefs
	diags   hcl.Diagnostics
}

// decodeCertificates decodes the instances collected by
// decodeCertificateBlock in parallel: with thousands of certificates,
// evaluating their arguments is the largest part of a load after parsing.
// Each instance writes only its own Certificate and diagnostics buffer and
// reads the kinds decoded before (policies, issuers), which no longer
// change; the buffers are merged in declaration order, so the result does
// not depend on scheduling.
func (l *loader) decodeCertificates() {
	work := l.certWork
	parallel(len(work), func(i int) {
		w := &work[i]
		b := l.body("certificate", w.content, w.ctx).require(certificateSchema)
		b.diags = &w.diags
		l.decodeCertificate(b, w.cert, w.refs)
	})
	for i := range work {
		l.diags = append(l.diags, work[i].diags...)
	}
	l.certWork = nil
}

// decodeCertificate fills c from one evaluation of the block's arguments
// and checks it against its policy and issuer.
func (l *loader) decodeCertificate(b *body, c *Certificate, refs *certRefs) {
	c.Issuer, c.Policy, c.Owner, c.Team = refs.issuer, refs.policy, refs.owner, refs.team
	c.Targets, c.Notifiers = slices.Clone(refs.targets), slices.Clone(refs.notifiers)

	var cnAttr *hcl.Attribute
	var cnIsDNS bool
	if v, a, ok := b.str("common_name"); ok {
		cnAttr = a
		c.CommonName = v
		if ip := net.ParseIP(v); ip != nil {
			c.CommonName = ip.String()
		} else if n, err := normalizeDNSName(v); err != nil {
			b.errorf(a, "Invalid common name",
				"%q is not a valid DNS name or IP address: %v.", v, err)
		} else {
			c.CommonName, cnIsDNS = n, true
		}
		if len(c.CommonName) > maxCommonNameLength {
			b.errorf(a, "Common name too long",
				"The common name is %d bytes long, and X.509 allows at most %d (RFC 5280). Use a shorter common_name and list the long name in dns_names.",
				len(c.CommonName), maxCommonNameLength)
		}
	}

	// Subject alternative names, normalized, each listed once.
	seen := map[string]hcl.Range{}
	dup := func(a *hcl.Attribute, rng hcl.Range, key, shown string) bool {
		if prev, ok := seen[key]; ok {
			b.errorAt(rng, a, "Duplicate SAN",
				"%s is already listed at %s; each name may appear once. Remove the repetition.", shown, at(prev))
			return true
		}
		seen[key] = rng
		return false
	}
	var dnsRngs []hcl.Range
	var dnsAttr *hcl.Attribute
	if vs, rngs, a, ok := b.strList("dns_names"); ok {
		dnsAttr = a
		for i, v := range vs {
			n, err := normalizeDNSName(v)
			if err != nil {
				b.errorAt(rngs[i], a, "Invalid DNS name", "%q cannot be used in dns_names: %v.", v, err)
				continue
			}
			if dup(a, rngs[i], "dns:"+n, `"`+n+`"`) {
				continue
			}
			c.DNSNames = append(c.DNSNames, n)
			dnsRngs = append(dnsRngs, rngs[i])
		}
	}
	if vs, rngs, a, ok := b.strList("ip_addresses"); ok {
		for i, v := range vs {
			ip := net.ParseIP(v)
			if ip == nil {
				b.errorAt(rngs[i], a, "Invalid IP address", "%q in ip_addresses is not an IPv4 or IPv6 address.", v)
				continue
			}
			if dup(a, rngs[i], "ip:"+ip.String(), ip.String()) {
				continue
			}
			c.IPAddresses = append(c.IPAddresses, ip)
		}
	}
	if vs, rngs, a, ok := b.strList("email_addresses"); ok {
		for i, v := range vs {
			if err := checkEmail(v); err != nil {
				b.errorAt(rngs[i], a, "Invalid email address", "%q in email_addresses is not usable: %v.", v, err)
				continue
			}
			if dup(a, rngs[i], "email:"+v, `"`+v+`"`) {
				continue
			}
			c.EmailAddresses = append(c.EmailAddresses, v)
		}
	}
	c.Labels, _, _ = b.strMap("labels")

	c.OnRemove = OnRemoveValues[0]
	if v, _, ok := b.oneOf("on_remove", "on_remove value", OnRemoveValues); ok {
		c.OnRemove = v
	}

	pol := l.cfg.Policies[c.Policy]
	if !refs.policyOK || l.broken["policy."+c.Policy] {
		pol = nil
	}
	iss := l.cfg.Issuers[c.Issuer]
	if !refs.issuerOK || l.broken["issuer."+c.Issuer] {
		iss = nil
	}

	kaAttr := b.attrs["key_algorithm"]
	if pol != nil {
		c.KeyAlgorithm = pol.KeyAlgorithm
	}
	if v, _, ok := b.oneOf("key_algorithm", "key algorithm", KeyAlgorithms); ok {
		c.KeyAlgorithm = v
	} else if kaAttr != nil {
		kaAttr = nil // already reported
	}

	valAttr := b.attrs["validity"]
	if pol != nil {
		c.Validity = pol.Validity
	}
	if d, _, ok := b.positiveDuration("validity"); ok {
		c.Validity = d
	} else if valAttr != nil {
		valAttr = nil
	}

	if pol != nil {
		l.checkPolicy(b, c, pol, checkSubjects{
			cn: cnAttr, cnIsDNS: cnIsDNS, dns: dnsAttr, dnsRngs: dnsRngs,
			keyAlgorithm: kaAttr, validity: valAttr, policyRef: b.attrs["policy"],
		})
	}
	if iss != nil && iss.Type == IssuerTypeACME && c.KeyAlgorithm == "ed25519" {
		subject := kaAttr
		if subject == nil {
			subject = b.attrs["issuer"]
		}
		b.errorf(subject, "Key algorithm not supported by issuer",
			"ACME CAs do not issue for ed25519 keys, and issuer.%s is an ACME issuer. Use ecdsa-p256, ecdsa-p384 or an RSA key.", iss.Name)
	}
	// An ACME CA decides the validity itself: MaxValidity 0 is no bound.
	if iss != nil && iss.MaxValidity > 0 && c.Validity > iss.MaxValidity {
		subject, from := valAttr, "Its validity"
		if subject == nil {
			subject, from = b.attrs["issuer"], "The validity it gets from policy."+c.Policy
		}
		b.errorf(subject, "Validity exceeds maximum",
			"%s (%s) is longer than issuer.%s allows (max_validity %s). Shorten the validity, or raise the issuer's max_validity.",
			from, formatDuration(c.Validity), iss.Name, formatDuration(iss.MaxValidity))
	}
}
