package diff

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
)

// val is one attribute of a block as a diff sees it. show is what output
// may print; cmp is what is compared and, for a secret, is never printed.
type val struct {
	show, cmp string
	secret    bool
}

// hidden is how a sensitive value shows.
const hidden = "(sensitive)"

func plain(s string) val { return val{show: s, cmp: s} }

func secretVal(s string) val { return val{show: hidden, cmp: s, secret: true} }

// attrMap holds a block's attributes by name; an absent key is unset.
type attrMap map[string]val

func (m attrMap) str(name, s string) {
	if s != "" {
		m[name] = plain(reconcile.Quote(s))
	}
}

func (m attrMap) list(name string, ss []string) {
	if len(ss) > 0 {
		m[name] = plain(reconcile.QuoteList(ss))
	}
}

func (m attrMap) dur(name string, d time.Duration) {
	if d != 0 {
		m[name] = plain(reconcile.Quote(spec.FormatDuration(d)))
	}
}

func (m attrMap) num(name string, n int) {
	if n != 0 {
		m[name] = plain(strconv.Itoa(n))
	}
}

// secretOr records s as a secret when sensitive, else as a plain string.
func (m attrMap) secretOr(name, s string, sensitive bool) {
	switch {
	case s == "" && !sensitive:
	case sensitive:
		m[name] = secretVal(s)
	default:
		m[name] = plain(reconcile.Quote(s))
	}
}

// diffAttrs lists the attributes that differ, by name. A secret shows as
// "(sensitive)" on both sides, so that a reviewer learns it changed and
// nothing more.
func diffAttrs(before, after attrMap) []reconcile.AttrDiff {
	var out []reconcile.AttrDiff
	for _, k := range sortedKeys(before, after) {
		b, inB := before[k]
		a, inA := after[k]
		if inB && inA && b.cmp == a.cmp && b.secret == a.secret {
			continue
		}
		d := reconcile.AttrDiff{Attribute: k, Before: "(none)", After: "(none)"}
		if inB {
			d.Before = b.show
		}
		if inA {
			d.After = a.show
		}
		if d.Before == d.After { // a secret, or a URL's password
			d.After += " (changed)"
		}
		out = append(out, d)
	}
	return out
}

func settingsAttrs(s spec.Settings) attrMap {
	m := attrMap{}
	m.str("state", s.State)
	return m
}

func teamAttrs(t *spec.Team) attrMap {
	m := attrMap{}
	m.list("notifiers", t.Notifiers)
	return m
}

func ownerAttrs(o *spec.Owner) attrMap {
	m := attrMap{}
	m.str("email", o.Email)
	m.str("team", o.Team)
	m.list("notifiers", o.Notifiers)
	return m
}

func agentAttrs(a *spec.Agent) attrMap {
	// A token hash is not a secret, but nothing is gained by printing it.
	return attrMap{"token_sha256": {show: "(hash)", cmp: a.TokenSHA256}}
}

func targetAttrs(t *spec.Target) attrMap {
	m := attrMap{}
	m.str("agent", t.Agent)
	m.str("dir", t.Dir)
	m.str("validate", t.Validate)
	m.str("reload", t.Reload)
	if t.FileMode != 0 {
		m["file_mode"] = plain(reconcile.Quote("0" + strconv.FormatUint(uint64(t.FileMode), 8)))
	}
	if t.KeyMode != 0 {
		m["key_mode"] = plain(reconcile.Quote("0" + strconv.FormatUint(uint64(t.KeyMode), 8)))
	}
	return m
}

func policyAttrs(p *spec.Policy) attrMap {
	m := attrMap{}
	m.dur("validity", p.Validity)
	m.dur("max_validity", p.MaxValidity)
	switch {
	case p.RenewBefore.Duration > 0:
		m.dur("renew_before", p.RenewBefore.Duration)
	case p.RenewBefore.Percent > 0:
		m["renew_before"] = plain(reconcile.Quote(strconv.FormatFloat(p.RenewBefore.Percent, 'f', -1, 64) + "%"))
	}
	m.str("key_algorithm", p.KeyAlgorithm)
	m.list("allowed_key_algorithms", p.AllowedKeyAlgorithms)
	m.list("usages", p.Usages)
	m.list("allowed_domains", p.AllowedDomains)
	if len(p.NotifyBefore) > 0 {
		ds := make([]string, len(p.NotifyBefore))
		for i, d := range p.NotifyBefore {
			ds[i] = spec.FormatDuration(d)
		}
		m.list("notify_before", ds)
	}
	return m
}

func issuerAttrs(is *spec.Issuer) attrMap {
	m := attrMap{}
	m.str("type", is.Type)
	m.str("common_name", is.CommonName)
	m.dur("validity", is.Validity)
	m.str("key_algorithm", is.KeyAlgorithm)
	m.dur("max_validity", is.MaxValidity)
	m.str("issuer_url", is.IssuerURL)
	m.str("ocsp_url", is.OCSPURL)
	m.str("crl_url", is.CRLURL)
	if s := is.StepCA; s != nil {
		stepCAAttrs(m, s)
	}
	a := is.ACME
	if a == nil {
		return m
	}
	sens := a.Sensitive
	m.str("directory", a.Directory)
	m.str("email", a.Email)
	m.str("profile", a.Profile)
	if len(a.CABundle) > 0 || sens["ca_bundle"] {
		// A bundle is long: even a public one is shown by its size.
		v := val{show: "(" + strconv.Itoa(len(a.CABundle)) + " bytes)", cmp: string(a.CABundle)}
		if sens["ca_bundle"] {
			v = secretVal(string(a.CABundle))
		}
		m["ca_bundle"] = v
	}
	if a.EAB != nil {
		m.secretOr("eab.kid", a.EAB.KID, sens["eab.kid"])
		m["eab.hmac_key"] = secretVal(a.EAB.HMACKey) // always a secret
	}
	if h := a.HTTP01; h != nil {
		m.num("http01.port", h.Port)
		m.str("http01.iface", h.Iface)
		m.str("http01.webroot", h.Webroot)
	}
	if d := a.DNS01; d != nil {
		m.str("dns01.provider", d.Provider)
		for k, v := range d.Config {
			m.secretOr("dns01.config."+k, v, sens["dns01.config"] || sens["dns01.config."+k] || credentialName(k))
		}
		m.list("dns01.resolvers", d.Resolvers)
		m.dur("dns01.propagation_timeout", d.PropagationTimeout)
	}
	m.num("max_concurrency", a.MaxConcurrency)
	if r := a.RateLimit; r != nil {
		m["rate_limit"] = plain("{ orders = " + strconv.Itoa(r.Orders) + ", per = " + reconcile.Quote(spec.FormatDuration(r.Per)) + " }")
	}
	if len(a.Backoff) > 0 {
		ds := make([]string, len(a.Backoff))
		for i, d := range a.Backoff {
			ds[i] = spec.FormatDuration(d)
		}
		m.list("backoff", ds)
	}
	m.dur("poll_interval", a.PollInterval)
	m.dur("timeout", a.Timeout)
	return m
}

// stepCAAttrs adds a step_ca issuer's attributes to m. The provisioner
// key and password are secrets however they were written.
func stepCAAttrs(m attrMap, s *spec.StepCAIssuer) {
	m.str("url", s.URL)
	m.str("provisioner", s.Provisioner)
	if len(s.RootPEM) > 0 {
		// A root is long: even a public one is shown by its size.
		v := val{show: "(" + strconv.Itoa(len(s.RootPEM)) + " bytes)", cmp: string(s.RootPEM)}
		if s.Sensitive["root"] {
			v = secretVal(string(s.RootPEM))
		}
		m["root"] = v
	}
	if s.ProvisionerKey != "" {
		m["provisioner_key"] = secretVal(s.ProvisionerKey)
	}
	if s.ProvisionerPassword != "" {
		m["provisioner_password"] = secretVal(s.ProvisionerPassword)
	}
}

func notifierAttrs(n *spec.Notifier) attrMap {
	m := attrMap{}
	for k, v := range n.Attrs {
		if r := redactURL(v); k == "url" && r != v && !notify.SecretAttr(n, k) {
			m[k] = val{show: reconcile.Quote(r), cmp: v}
			continue
		}
		m.secretOr(k, v, notify.SecretAttr(n, k))
	}
	for k, v := range n.Headers {
		m.secretOr("headers."+k, v, notify.SecretHeader(n, k))
	}
	if len(n.To) > 0 {
		if n.Sensitive["to"] {
			m["to"] = secretVal(strings.Join(n.To, "\x00"))
		} else {
			m.list("to", n.To)
		}
	}
	m.list("events", n.Events)
	m.dur("retry.initial", n.Retry.Initial)
	m.dur("retry.max", n.Retry.Max)
	m.num("retry.attempts", n.Retry.Attempts)
	return m
}

// credentialName reports whether a DNS provider setting is a credential
// by its name (CLOUDFLARE_DNS_API_TOKEN, AWS_SECRET_ACCESS_KEY): even
// written as a literal, its value is not shown.
func credentialName(k string) bool {
	l := strings.ToLower(k)
	for _, w := range []string{"token", "key", "secret", "password", "credentials", "auth"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// redactURL hides the password of a URL's user information
// (https://user:xxxxx@host/), which the notifier keeps secret even when
// the URL itself is not.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// block is a block as compare sees it.
type block struct {
	typ   string
	attrs attrMap
}

// blocksOf lists cfg's blocks other than certificates, by kind and name.
func blocksOf(cfg *spec.Config) map[string]map[string]block {
	out := map[string]map[string]block{
		"settings": {"certctl": {attrs: settingsAttrs(cfg.Settings)}},
	}
	add := func(kind, name, typ string, m attrMap) {
		if out[kind] == nil {
			out[kind] = map[string]block{}
		}
		out[kind][name] = block{typ: typ, attrs: m}
	}
	for name, t := range cfg.Teams {
		add("team", name, "", teamAttrs(t))
	}
	for name, o := range cfg.Owners {
		add("owner", name, "", ownerAttrs(o))
	}
	for name, p := range cfg.Policies {
		add("policy", name, "", policyAttrs(p))
	}
	for name, is := range cfg.Issuers {
		add("issuer", name, is.Type, issuerAttrs(is))
	}
	for name, n := range cfg.Notifiers {
		add("notifier", name, n.Type, notifierAttrs(n))
	}
	for name, a := range cfg.Agents {
		add("agent", name, "", agentAttrs(a))
	}
	for name, t := range cfg.Targets {
		add("target", name, t.Type, targetAttrs(t))
	}
	return out
}

// address is "policy.standard"; the settings block is "certctl".
func address(kind, name string) string {
	if kind == "settings" {
		return "certctl"
	}
	return kind + "." + name
}

// changedNames lists the attribute names of diffs, labels folded into
// "labels" once.
func changedNames(diffs []reconcile.AttrDiff) []string {
	var names []string
	for _, d := range diffs {
		name, _, _ := strings.Cut(d.Attribute, ".")
		if d.Attribute == "labels" || strings.HasPrefix(d.Attribute, "labels.") {
			name = "labels"
		} else {
			name = d.Attribute
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// countNoun is "1 certificate", "3 certificates".
func countNoun(n int, noun string) string {
	s := strconv.Itoa(n) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
