package spec

import (
	"github.com/hashicorp/hcl/v2"
	"net/url"
)

// issuerType is one kind of `issuer "TYPE" "NAME" {}`. Adding a type (acme)
// is one entry here: its schema and a decode function that fills the
// Issuer fields of that type.
type issuerType struct {
	schema *hcl.BodySchema
	decode func(b *body, is *Issuer)
}

var issuerTypes = map[string]issuerType{
	"local_ca": {
		schema: &hcl.BodySchema{Attributes: attrs(
			"common_name", "validity", "key_algorithm", "max_validity",
			"issuer_url", "ocsp_url", "crl_url", "for_each",
		)},
		decode: decodeLocalCA,
	},
	IssuerTypeACME: {schema: acmeSchema, decode: decodeACME},
	// An external issuer has nothing to configure: it stands for a CA
	// certctl cannot order from (see IssuerTypeExternal).
	IssuerTypeExternal: {
		schema: &hcl.BodySchema{Attributes: attrs("for_each")},
		decode: func(*body, *Issuer) {},
	},
}

// IssuerTypeExternal is the type label of `issuer "external" "NAME" {}`:
// certificates issued outside certctl (found by `certctl import`) that it
// monitors (status, expiry notices, metrics) but never issues, renews or
// replaces. Such an issuer has no attributes and no validity bound.
const IssuerTypeExternal = "external"

// DefaultCAValidity is the lifetime of a local CA certificate.
const DefaultCAValidity = 3650 * day

// decodeIssuerBlock decodes `issuer "TYPE" "NAME" {}`. Names are unique
// across types: issuer.NAME does not say the type.
func (l *loader) decodeIssuerBlock(blk *hcl.Block) {
	name, ok := declare(l, "issuer", blk, l.cfg.Issuers)
	if !ok {
		return
	}
	is := &Issuer{Type: blk.Labels[0], Name: name, DeclRange: blk.DefRange}
	l.cfg.Issuers[name] = is
	it, ok := blockType(l, "issuer", blk, issuerTypes)
	if !ok {
		return
	}
	n := len(l.diags)
	it.decode(l.body("issuer", l.content(blk, it.schema), l.ctx), is)
	if l.errorsSince(n) {
		l.broken["issuer."+name] = true
	}
	if is.Type == IssuerTypeLocalCA && l.cfg.Server != nil {
		is.defaultURLs(l.cfg.Server.URL)
	}
}

// defaultURLs points each of a local CA's publication URLs that is unset
// at what `certctl watch` serves under base.
func (is *Issuer) defaultURLs(base string) {
	path := func(kind string) string { return base + "/.well-known/pki/" + kind + "/" + url.PathEscape(is.Name) }
	if is.IssuerURL == "" {
		is.IssuerURL = path("ca")
	}
	if is.OCSPURL == "" {
		is.OCSPURL = path("ocsp")
	}
	if is.CRLURL == "" {
		is.CRLURL = path("crl")
	}
}

// decodeLocalCA fills a local_ca issuer. common_name defaults to
// "certctl NAME CA"; validity to 3650d; key_algorithm to ecdsa-p256;
// max_validity (the longest leaf it signs) to validity.
func decodeLocalCA(b *body, is *Issuer) {
	is.CommonName = "certctl " + is.Name + " CA"
	if v, a, ok := b.str("common_name"); ok {
		if v == "" {
			b.errorf(a, "Invalid common name", "common_name must not be empty; remove it to use the default %q.", is.CommonName)
		} else if len(v) > maxCommonNameLength {
			b.errorf(a, "Common name too long",
				"The common name is %d bytes long, and X.509 allows at most %d (RFC 5280). Shorten it.", len(v), maxCommonNameLength)
		} else {
			is.CommonName = v
		}
	}
	is.Validity = DefaultCAValidity
	if d, _, ok := b.positiveDuration("validity"); ok {
		is.Validity = d
	}
	is.KeyAlgorithm = KeyAlgorithms[0]
	if v, _, ok := b.oneOf("key_algorithm", "key algorithm", KeyAlgorithms); ok {
		is.KeyAlgorithm = v
	}
	is.MaxValidity = is.Validity
	if d, a, ok := b.positiveDuration("max_validity"); ok {
		is.MaxValidity = d
		if d > is.Validity {
			b.errorf(a, "Validity exceeds maximum",
				"max_validity (%s) is longer than the CA's own validity (%s); a certificate cannot outlive the CA that signed it. Shorten max_validity or lengthen validity.",
				formatDuration(d), formatDuration(is.Validity))
		}
	}
	is.IssuerURL = caURL(b, "issuer_url")
	is.OCSPURL = caURL(b, "ocsp_url")
	is.CRLURL = caURL(b, "crl_url")
}

// caURL reads one of a local CA's publication URLs: absolute http or
// https, as relying parties fetch them without TLS bootstrapping.
func caURL(b *body, name string) string {
	v, a, ok := b.str(name)
	if !ok {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		b.errorf(a, "Invalid URL",
			"%s must be an absolute http or https URL, such as \"http://pki.example.com/ca.crl\"; got %q.", name, v)
		return ""
	}
	return v
}
