package spec

import (
	"net"
	"slices"
	"time"

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

// certBlock is a certificate block as parseFile leaves it.
type certBlock struct {
	block  *hcl.Block
	nameOK bool // whether checkName will pass
	// content is the block's arguments; diags the diagnostics of reading
	// them against certificateSchema.
	content *hcl.BodyContent
	diags   hcl.Diagnostics
	// refs are the references, read from content, which no longer holds
	// them (but for issuer, an error subject).
	refs certRefArgs
	// early, if set, is the block decoded by prepareCertificate. Then
	// content is nil. block.Body is always nil.
	early *earlyCert
}

// earlyCert is a certificate decoded as far as its own arguments go.
type earlyCert struct {
	cert    *Certificate
	vals    certValues
	diags   hcl.Diagnostics // of decodeCertificateValues
	secrets []string        // what env() and file() returned for it
}

// certRefNames are the certificate arguments that are references
// (KIND.NAME). They are read as traversals, never evaluated.
var certRefNames = []string{"issuer", "policy", "owner", "team", "targets", "notifiers"}

// certRefArgs are a certificate's references as written.
type certRefArgs struct {
	issuer, policy, owner, team, targets, notifiers refArg
}

func parseCertRefs(attrs hcl.Attributes) certRefArgs {
	return certRefArgs{
		issuer:    parseRefArg(attrs, "issuer", false),
		policy:    parseRefArg(attrs, "policy", false),
		owner:     parseRefArg(attrs, "owner", false),
		team:      parseRefArg(attrs, "team", false),
		targets:   parseRefArg(attrs, "targets", true),
		notifiers: parseRefArg(attrs, "notifiers", true),
	}
}

// checkCertRefs checks a certificate's references, in the order of
// certRefNames.
func (b *body) checkCertRefs(args *certRefArgs) certRefs {
	var refs certRefs
	refs.issuer, refs.issuerOK = b.checkRefArg(args.issuer, "issuer")
	refs.policy, refs.policyOK = b.checkRefArg(args.policy, "policy")
	refs.owner, _ = b.checkRefArg(args.owner, "owner")
	refs.team, _ = b.checkRefArg(args.team, "team")
	refs.targets, _ = b.checkRefListArg(args.targets, "target")
	refs.notifiers, _ = b.checkRefListArg(args.notifiers, "notifier")
	return refs
}

// earlyEval is the evaluation context of the certificates of one file
// decoded by prepareCertificate: the functions, and no variables.
type earlyEval struct {
	ctx     *hcl.EvalContext
	secrets []string // recorded since the last certificate was prepared
}

func (l *loader) newEarlyEval() *earlyEval {
	e := &earlyEval{}
	e.ctx = &hcl.EvalContext{Functions: l.functions(func(s string) { e.secrets = append(e.secrets, s) })}
	return e
}

// prepareCertificate reads the arguments of a certificate block, and when
// none of them depends on var.*, local.* or each.* (and there is no
// for_each), decodes it right away with decodeCertificateValues, keeping
// only the result, the references and the positions later errors point
// at. The file's syntax tree can then be dropped before the other files
// are parsed, instead of waiting for the variables and locals of every
// file. Nothing is recorded in the loader: decodeCertificateBlock adds the
// diagnostics and secrets later, in file order, and only if the block is
// not a duplicate, so the result is the same as decoding it there.
//
// It runs on parse workers; e belongs to the calling worker.
func (l *loader) prepareCertificate(blk *hcl.Block, e *earlyEval) *certBlock {
	content, diags := blk.Body.Content(certificateSchema)
	// Later phases read content, not the body: without it, the rest of
	// the block's syntax tree can go.
	blk.Body = nil
	cb := &certBlock{block: blk, content: content, diags: diags, nameOK: validName(blk)}
	// References are never evaluated: read them now, and let their
	// expressions go.
	cb.refs = parseCertRefs(content.Attributes)
	early := !l.reference && constantArgs(content)
	for _, name := range certRefNames {
		if name != "issuer" {
			delete(content.Attributes, name)
		}
	}
	if !early {
		return cb
	}
	label := blk.Labels[len(blk.Labels)-1]
	ec := &earlyCert{cert: &Certificate{Name: label, Label: label, DeclRange: blk.DefRange}}
	// The functions are the only thing a constant argument can use, so
	// this context gives the values and diagnostics l.ctx would.
	b := &body{l: l, diags: &ec.diags, ctx: e.ctx, attrs: content.Attributes, kind: "certificate", schema: certificateSchema}
	ec.vals = decodeCertificateValues(b, ec.cert)
	ec.secrets, e.secrets = e.secrets, nil
	// Keep only the positions of the subjects: the syntax tree goes.
	s := &ec.vals.subjects
	s.cn.attr, s.dns.attr, s.keyAlgorithm.attr, s.validity.attr, ec.vals.issuer.attr = nil, nil, nil, nil, nil

	cb.content = nil
	cb.early = ec
	return cb
}

// constantArgs reports whether a certificate block can be decoded before
// variables and locals are known: no for_each, and no argument other than
// the references refers to anything.
func constantArgs(content *hcl.BodyContent) bool {
	if content.Attributes["for_each"] != nil {
		return false
	}
	for name, a := range content.Attributes {
		if !slices.Contains(certRefNames, name) && !isLiteral(a.Expr) && len(a.Expr.Variables()) > 0 {
			return false
		}
	}
	return true
}

// decodeCertificateBlock decodes `certificate "LABEL" {}` into one
// Certificate, or one per for_each element.
func (l *loader) decodeCertificateBlock(cb *certBlock) {
	blk := cb.block
	label := blk.Labels[len(blk.Labels)-1]
	if !cb.nameOK {
		l.checkName(blk) // reports it
		return
	}
	if prev, dup := l.certDecls[label]; dup {
		l.duplicate("certificate", label, prev, blk)
		return
	}
	l.certDecls[label] = blk.DefRange
	l.diags = append(l.diags, cb.diags...)
	rb := &body{l: l, diags: &l.diags, ctx: l.ctx, kind: "certificate"}
	refs := rb.checkCertRefs(&cb.refs)

	if ec := cb.early; ec != nil {
		for _, s := range ec.secrets {
			l.recordSecret(s)
		}
		l.cfg.Certificates[label] = ec.cert
		l.certWork = append(l.certWork, certWork{cert: ec.cert, ctx: l.ctx, refs: &refs, diags: ec.diags, vals: &ec.vals})
		return
	}
	content := cb.content
	fe := content.Attributes["for_each"]
	if fe == nil {
		c := &Certificate{Name: label, Label: label, DeclRange: blk.DefRange}
		l.cfg.Certificates[c.Name] = c
		l.certWork = append(l.certWork, certWork{cert: c, content: content, ctx: l.ctx, refs: &refs})
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
		l.certWork = append(l.certWork, certWork{cert: c, content: content, ctx: l.eachContext(in), refs: &refs})
	}
}

// certWork is one certificate instance to decode.
type certWork struct {
	cert    *Certificate
	content *hcl.BodyContent
	ctx     *hcl.EvalContext
	refs    *certRefs
	diags   hcl.Diagnostics
	// vals, if set, is what prepareCertificate decoded: only the checks
	// against other blocks are left, and diags holds its diagnostics.
	vals *certValues
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
		if w.vals != nil {
			b := &body{l: l, diags: &w.diags, ctx: w.ctx, kind: "certificate", schema: certificateSchema}
			l.checkCertificate(b, w.cert, w.refs, w.vals)
			return
		}
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
	v := decodeCertificateValues(b, c)
	l.checkCertificate(b, c, refs, &v)
}

// certValues is what decodeCertificateValues read that checkCertificate
// needs: the subjects of later errors, and the key algorithm and validity
// the block sets, which win over its policy's.
type certValues struct {
	subjects        checkSubjects
	issuer          subject // of issuer errors
	keyAlgorithm    string
	keyAlgorithmSet bool
	validity        time.Duration
	validitySet     bool
	// cnNotHost is why the common name is neither a DNS name nor an IP
	// address: an error only if the policy's usages include server_auth
	// (see checkIdentity); otherwise the name of a person, a service or a
	// mailbox.
	cnNotHost error
}

// decodeCertificateValues fills c from the block's own arguments (names,
// labels, on_remove) and reads key_algorithm and validity. It depends on
// no other block, so a certificate whose arguments are constants can be
// decoded as soon as its file is parsed (see prepareCertificate); the
// checks against other blocks are checkCertificate's. Together they record
// the diagnostics decodeCertificate always did, in the same order.
func decodeCertificateValues(b *body, c *Certificate) certValues {
	var out certValues
	if s, a, ok := b.str("common_name"); ok {
		out.subjects.cn = subjectOf(a)
		c.CommonName = s
		if ip := net.ParseIP(s); ip != nil {
			c.CommonName = ip.String()
		} else if n, err := normalizeDNSName(s); err != nil {
			out.cnNotHost = err // checked against the policy's usages
		} else {
			c.CommonName, out.subjects.cnIsDNS = n, true
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
	if vs, rngs, a, ok := b.strList("dns_names"); ok {
		out.subjects.dns = subjectOf(a)
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
			out.subjects.dnsRngs = append(out.subjects.dnsRngs, rngs[i])
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
	if s, _, ok := b.oneOf("on_remove", "on_remove value", OnRemoveValues); ok {
		c.OnRemove = s
	}

	if s, a, ok := b.oneOf("key_algorithm", "key algorithm", KeyAlgorithms); ok {
		out.keyAlgorithm, out.keyAlgorithmSet = s, true
		out.subjects.keyAlgorithm = subjectOf(a)
	}
	if d, a, ok := b.positiveDuration("validity"); ok {
		out.validity, out.validitySet = d, true
		out.subjects.validity = subjectOf(a)
	}
	out.issuer = subjectOf(b.attrs["issuer"])
	return out
}

// checkCertificate completes c with its references and the defaults of its
// policy, and checks it against its policy and issuer. v is what
// decodeCertificateValues read; b supplies only the diagnostics buffer and
// the evaluation context.
func (l *loader) checkCertificate(b *body, c *Certificate, refs *certRefs, v *certValues) {
	c.Issuer, c.Policy, c.Owner, c.Team = refs.issuer, refs.policy, refs.owner, refs.team
	c.Targets, c.Notifiers = slices.Clone(refs.targets), slices.Clone(refs.notifiers)

	pol := l.cfg.Policies[c.Policy]
	if !refs.policyOK || l.broken["policy."+c.Policy] {
		pol = nil
	}
	iss := l.cfg.Issuers[c.Issuer]
	if !refs.issuerOK || l.broken["issuer."+c.Issuer] {
		iss = nil
	}

	// A key_algorithm or validity that is invalid was reported, and the
	// certificate keeps its policy's (v.keyAlgorithmSet is false).
	kaAttr, valAttr := v.subjects.keyAlgorithm, v.subjects.validity
	if pol != nil {
		c.KeyAlgorithm = pol.KeyAlgorithm
		c.Validity = pol.Validity
	}
	if v.keyAlgorithmSet {
		c.KeyAlgorithm = v.keyAlgorithm
	}
	if v.validitySet {
		c.Validity = v.validity
	}

	if pol != nil {
		checkIdentity(b, c, pol, iss, v)
		l.checkPolicy(b, c, pol, v.subjects)
	}
	if iss != nil && iss.Type == IssuerTypeACME && c.KeyAlgorithm == "ed25519" {
		s := kaAttr
		if !s.set {
			s = v.issuer
		}
		b.errorOn(s, s.rng, "Key algorithm not supported by issuer",
			"ACME CAs do not issue for ed25519 keys, and issuer.%s is an ACME issuer. Use ecdsa-p256, ecdsa-p384 or an RSA key.", iss.Name)
	}
	// An ACME CA decides the validity itself: MaxValidity 0 is no bound.
	if iss != nil && iss.MaxValidity > 0 && c.Validity > iss.MaxValidity {
		s, from := valAttr, "Its validity"
		if !s.set {
			s, from = v.issuer, "The validity it gets from policy."+c.Policy
		}
		b.errorOn(s, s.rng, "Validity exceeds maximum",
			"%s (%s) is longer than issuer.%s allows (max_validity %s). Shorten the validity, or raise the issuer's max_validity.",
			from, formatDuration(c.Validity), iss.Name, formatDuration(iss.MaxValidity))
	}
}
