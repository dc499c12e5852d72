package spec

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var acmeSchema = &hcl.BodySchema{
	Attributes: attrs(
		"directory!", "email", "ca_bundle", "profile", "max_concurrency",
		"rate_limit", "backoff", "poll_interval", "timeout", "for_each",
	),
	Blocks: []hcl.BlockHeaderSchema{{Type: "eab"}, {Type: "http01"}, {Type: "dns01"}},
}

var (
	eabSchema    = &hcl.BodySchema{Attributes: attrs("kid!", "hmac_key!")}
	http01Schema = &hcl.BodySchema{Attributes: attrs("port", "webroot", "iface")}
	dns01Schema  = &hcl.BodySchema{Attributes: attrs("provider!", "config", "resolvers", "propagation_timeout")}
)

// Bounds of the ACME tuning attributes.
const (
	maxACMEConcurrency = 256
	maxBackoffSteps    = 20
)

// decodeACME fills an acme issuer. Secrets (env(), file()) are accepted in
// ca_bundle, eab and dns01.config only: directory, email and the rest are
// shown in plans. Every check here is offline; whether the CA answers is
// apply's business.
func decodeACME(b *body, is *Issuer) {
	a := &ACMEIssuer{Sensitive: map[string]bool{}}
	is.ACME = a
	b.require(acmeSchema)

	if v, at, ok := b.str("directory"); ok {
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			b.errorf(at, "Invalid directory URL",
				"%s is not an https:// URL with a host. ACME requires HTTPS: use the CA's directory URL, such as \"https://acme-v02.api.letsencrypt.org/directory\".",
				b.show("directory", v))
		} else {
			a.Directory = v
		}
	}
	if v, at, ok := b.str("email"); ok {
		if err := checkEmail(v); err != nil {
			b.errorf(at, "Invalid email address", "%s is not usable as the account contact: %v.", b.show("email", v), err)
		} else {
			a.Email = v
		}
	}
	b.secretsOK = true
	if v, at, ok := b.str("ca_bundle"); ok {
		if err := checkPEMBundle(v); err != nil {
			b.errorf(at, "Invalid CA bundle",
				"ca_bundle must hold the PEM certificates that sign the directory's HTTPS, usually read with file(\"ca.pem\"): %v.", err)
		} else {
			a.CABundle = []byte(v)
		}
		if b.sensitive["ca_bundle"] {
			a.Sensitive["ca_bundle"] = true
		}
	}
	b.secretsOK = false
	if v, at, ok := b.str("profile"); ok {
		if strings.TrimSpace(v) == "" {
			b.errorf(at, "Invalid profile", "profile must not be empty; remove it to let the CA choose.")
		} else {
			a.Profile = v
		}
	}
	if n, _, ok := b.intIn("max_concurrency", 1, maxACMEConcurrency); ok {
		a.MaxConcurrency = n
	}
	a.RateLimit = b.rateLimit("rate_limit")
	if vs, rngs, at, ok := b.strList("backoff"); ok {
		a.Backoff = b.backoff(at, vs, rngs)
	}
	if d, _, ok := b.positiveDuration("poll_interval"); ok {
		a.PollInterval = d
	}
	if d, _, ok := b.positiveDuration("timeout"); ok {
		a.Timeout = d
	}

	var challenge *hcl.Block
	seen := map[string]*hcl.Block{}
	for _, blk := range b.blocks {
		if prev := seen[blk.Type]; prev != nil {
			b.l.errorf(blk.DefRange, "Duplicate "+blk.Type+" block",
				"A %s block was already declared at %s; an acme issuer has at most one.", blk.Type, at(prev.DefRange))
			continue
		}
		seen[blk.Type] = blk
		switch blk.Type {
		case "eab":
			a.EAB = b.decodeEAB(blk, a)
		case "http01", "dns01":
			// A second challenge block is an error, and still checked.
			second := challenge != nil
			if second {
				b.l.errorf(blk.DefRange, "Conflicting challenges",
					"This issuer already solves challenges with the %s block at %s. Keep one of http01 and dns01.", challenge.Type, at(challenge.DefRange))
			} else {
				challenge = blk
			}
			if blk.Type == "http01" {
				if h := b.decodeHTTP01(blk); !second {
					a.HTTP01 = h
				}
			} else if d := b.decodeDNS01(blk, a); !second {
				a.DNS01 = d
			}
		}
	}
	if challenge == nil {
		b.l.errorf(is.DeclRange, "Missing challenge",
			"An acme issuer needs one way to prove control of the names: an http01 block (port = 80, or webroot = \"/var/www/html\") or a dns01 block (provider = \"cloudflare\", …).")
	}
}

// sub returns a body for a block nested in b's block, in the same context.
func (b *body) sub(blk *hcl.Block, schema *hcl.BodySchema) *body {
	content, diags := blk.Body.Content(schema)
	*b.diags = append(*b.diags, diags...)
	return (&body{l: b.l, diags: b.diags, ctx: b.ctx, attrs: content.Attributes, blocks: content.Blocks, kind: b.kind}).require(schema)
}

// noteSensitive copies the sensitive attributes of sb into a, prefixed
// with the block type ("eab.hmac_key").
func noteSensitive(a *ACMEIssuer, prefix string, sb *body) {
	for k := range sb.sensitive {
		a.Sensitive[prefix+"."+k] = true
	}
}

func (b *body) decodeEAB(blk *hcl.Block, a *ACMEIssuer) *ACMEEAB {
	sb := b.sub(blk, eabSchema)
	sb.secretsOK = true
	e := &ACMEEAB{}
	if v, at, ok := sb.str("kid"); ok {
		if v == "" {
			sb.errorf(at, "Invalid external account binding", "kid must not be empty: use the key identifier the CA gave you.")
		}
		e.KID = v
	}
	if v, at, ok := sb.str("hmac_key"); ok {
		if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "=")); err != nil || v == "" {
			// Never quote it: it is a secret even when it is malformed.
			sb.errorf(at, "Invalid external account binding",
				"hmac_key must be the base64url MAC key the CA gave you (letters, digits, - and _), usually read with env(\"EAB_HMAC_KEY\").")
		}
		e.HMACKey = v
	}
	noteSensitive(a, "eab", sb)
	return e
}

func (b *body) decodeHTTP01(blk *hcl.Block) *ACMEHTTP01 {
	sb := b.sub(blk, http01Schema)
	h := &ACMEHTTP01{}
	port, portAttr, portOK := sb.intIn("port", 1, 65535)
	if portOK {
		h.Port = port
	}
	if v, at, ok := sb.str("iface"); ok {
		if net.ParseIP(v) == nil {
			sb.errorf(at, "Invalid address", "iface must be an IP address to listen on, such as \"127.0.0.1\" or \"::\"; %s is not one.", sb.show("iface", v))
		} else {
			h.Iface = v
		}
	}
	if v, at, ok := sb.str("webroot"); ok {
		switch {
		case strings.TrimSpace(v) == "":
			sb.errorf(at, "Invalid webroot", "webroot must name the document root of the web server that serves the names.")
		case portAttr != nil || sb.attrs["iface"] != nil:
			sb.errorf(at, "Conflicting arguments",
				"webroot writes files for a web server that is already running, so port and iface (for certctl's own server) do not apply. Keep webroot, or port and iface.")
		default:
			h.Webroot = v
		}
	}
	return h
}

func (b *body) decodeDNS01(blk *hcl.Block, a *ACMEIssuer) *ACMEDNS01 {
	sb := b.sub(blk, dns01Schema)
	d := &ACMEDNS01{}
	names := keys(ACMEProviders)
	if v, _, ok := sb.oneOf("provider", "DNS provider", names); ok {
		d.Provider = v
	}
	sb.secretsOK = true
	if m, at, ok := sb.strMap("config"); ok {
		d.Config = m
		if settings, known := ACMEProviders[d.Provider]; known {
			keyRngs := objectKeyRanges(at.Expr)
			for _, k := range sortedMapKeys(m) {
				if slices.Contains(settings, k) || slices.Contains(settings, strings.TrimSuffix(k, "_FILE")) {
					continue
				}
				hint := ""
				if c := closest(k, slices.Clone(settings)); c != "" {
					hint = fmt.Sprintf(" Did you mean %q?", c)
				}
				rng, ok := keyRngs[k]
				if !ok {
					rng = at.Expr.Range()
				}
				sb.errorAt(rng, at, "Unknown provider setting",
					"%s is not a setting of the %s provider, which reads %s (each also as NAME_FILE, a file holding the value). `certctl providers` lists them.%s",
					k, d.Provider, strings.Join(settings, ", "), hint)
			}
		}
	}
	sb.secretsOK = false
	if vs, rngs, at, ok := sb.strList("resolvers"); ok {
		for i, r := range vs {
			if !validResolver(r) {
				sb.errorAt(rngs[i], at, "Invalid resolver",
					"%s is not a DNS server address: write \"host\" or \"host:port\", such as \"1.1.1.1\" or \"127.0.0.1:8053\".", sb.show("resolvers", r))
			}
		}
		d.Resolvers = vs
	}
	if dur, _, ok := sb.positiveDuration("propagation_timeout"); ok {
		d.PropagationTimeout = dur
	}
	noteSensitive(a, "dns01", sb)
	return d
}

// objectKeyRanges maps the keys of an object written as a literal
// ({ NAME = "…" }) to their ranges, for diagnostics that point at a key;
// empty for any other expression.
func objectKeyRanges(expr hcl.Expression) map[string]hcl.Range {
	out := map[string]hcl.Range{}
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return out
	}
	for _, kv := range pairs {
		k := hcl.ExprAsKeyword(kv.Key)
		if k == "" {
			if v, d := kv.Key.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				k = v.AsString()
			}
		}
		if k != "" {
			out[k] = kv.Key.Range()
		}
	}
	return out
}

func sortedMapKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// validResolver accepts "host" or "host:port" (port 1-65535).
func validResolver(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.Trim(s, "[]"), "53"
	}
	n, err := strconv.Atoi(port)
	return host != "" && !strings.ContainsAny(host, " /") && err == nil && n > 0 && n <= 65535
}

// checkPEMBundle checks that s holds at least one PEM certificate and
// nothing but certificates that parse. Its errors never quote s.
func checkPEMBundle(s string) error {
	rest := []byte(s)
	n := 0
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("it holds a PEM %q block; only CERTIFICATE blocks belong there", blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no PEM CERTIFICATE block found")
	}
	return nil
}

// intIn reads a whole number from lo to hi.
func (b *body) intIn(name string, lo, hi int) (int, *hcl.Attribute, bool) {
	v, a, ok := b.value(name, cty.Number)
	if !ok {
		return 0, a, false
	}
	bf := v.AsBigFloat()
	n, _ := bf.Int64()
	if !bf.IsInt() || n < int64(lo) || n > int64(hi) {
		b.errorf(a, "Invalid number", "%s must be a whole number from %d to %d.", name, lo, hi)
		return 0, a, false
	}
	return int(n), a, true
}

// rateLimit reads `NAME = { orders = N, per = "DURATION" }`.
func (b *body) rateLimit(name string) *ACMERateLimit {
	v, a, ok := b.value(name, cty.DynamicPseudoType)
	if !ok {
		return nil
	}
	bad := func(format string, args ...any) *ACMERateLimit {
		b.errorf(a, "Invalid rate limit",
			"%s Write it as { orders = 300, per = \"3h\" }: at most that many new orders in any such period.", fmt.Sprintf(format, args...))
		return nil
	}
	if ty := v.Type(); !ty.IsObjectType() && !ty.IsMapType() {
		return bad("%s must be an object, not a %s.", name, ty.FriendlyName())
	}
	m, err := convert.Convert(v, cty.Map(cty.String))
	if err != nil || !allStrings(m) {
		return bad("Its values must be a number (orders) and a duration (per).")
	}
	vals := map[string]string{}
	for it := m.ElementIterator(); it.Next(); {
		k, e := it.Element()
		vals[k.AsString()] = e.AsString()
	}
	for k := range vals {
		if k != "orders" && k != "per" {
			return bad("%q is not an attribute of %s.", k, name)
		}
	}
	orders, err := strconv.Atoi(vals["orders"])
	if err != nil || orders < 1 {
		return bad("orders must be a whole number of at least 1.")
	}
	s, ok := vals["per"]
	if !ok {
		return bad("per is required.")
	}
	per, ok := b.durationOf(a, a.Expr.Range(), s)
	if !ok {
		return nil
	}
	if per <= 0 {
		return bad("per must be longer than zero.")
	}
	return &ACMERateLimit{Orders: orders, Per: per}
}

// backoff checks a list of waits: positive durations, 1 to
// maxBackoffSteps of them.
func (b *body) backoff(a *hcl.Attribute, vs []string, rngs []hcl.Range) []time.Duration {
	if len(vs) == 0 || len(vs) > maxBackoffSteps {
		b.errorf(a, "Invalid backoff",
			"backoff lists the waits after the 1st, 2nd, … failed order (the last one repeats): give 1 to %d durations, such as [\"1m\", \"10m\", \"100m\", \"24h\"].", maxBackoffSteps)
		return nil
	}
	out := make([]time.Duration, 0, len(vs))
	for i, s := range vs {
		d, ok := b.durationOf(a, rngs[i], s)
		if !ok {
			return nil
		}
		if d <= 0 {
			b.errorAt(rngs[i], a, "Invalid backoff", "Each wait in backoff must be longer than zero.")
			return nil
		}
		out = append(out, d)
	}
	return out
}
