package spec

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Events are the notification events, in the order messages list them.
var Events = []string{"issued", "renewed", "replaced", "failed", "deployed", "expiring", "expired", "revoked"}

// Retry defaults, as DESIGN.md states them.
const (
	DefaultRetryInitial  = 2 * time.Minute
	DefaultRetryMax      = time.Hour
	DefaultRetryAttempts = 5
)

// notifierType is one kind of `notifier "TYPE" "NAME" {}`: which string
// attributes it takes (required ones end in "!"), and whether it takes
// headers = {...} and to = [...]. Every type also takes events and a retry
// block. Adding a type or an attribute is one line here.
type notifierType struct {
	attrs   []string
	headers bool
	to      bool // email recipients; required when set
}

// The attributes are those reconcile/notify delivers with (its FromSpec
// refuses any other); a test there keeps the two lists equal.
var notifierTypes = map[string]notifierType{
	"webhook":   {attrs: []string{"url!", "secret", "timeout", "ca_bundle"}, headers: true},
	"slack":     {attrs: []string{"url!", "timeout", "ca_bundle"}},
	"teams":     {attrs: []string{"url!", "timeout", "ca_bundle"}},
	"email":     {attrs: []string{"host!", "port", "from!", "username", "password", "tls", "helo", "timeout", "ca_bundle"}, to: true},
	"pagerduty": {attrs: []string{"routing_key!", "url", "source", "timeout", "ca_bundle"}},
	"opsgenie":  {attrs: []string{"api_key!", "url", "timeout", "ca_bundle"}},
}

// NotifierAttributes returns the string attributes a notifier type takes
// (besides events, headers, to and the retry block), sorted; nil for an
// unknown type.
func NotifierAttributes(typ string) []string {
	nt, ok := notifierTypes[typ]
	if !ok {
		return nil
	}
	out := make([]string, len(nt.attrs))
	for i, a := range nt.attrs {
		out[i] = strings.TrimSuffix(a, "!")
	}
	sort.Strings(out)
	return out
}

// schema builds the body schema of a notifier type.
func (nt notifierType) schema() *hcl.BodySchema {
	names := append([]string{"events", "for_each"}, nt.attrs...)
	if nt.headers {
		names = append(names, "headers")
	}
	if nt.to {
		names = append(names, "to!")
	}
	return &hcl.BodySchema{
		Attributes: attrs(names...),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "retry"}},
	}
}

var notifierSchemas = func() map[string]*hcl.BodySchema {
	m := map[string]*hcl.BodySchema{}
	for k, nt := range notifierTypes {
		m[k] = nt.schema()
	}
	return m
}()

var retrySchema = &hcl.BodySchema{Attributes: attrs("initial", "max", "attempts")}

// decodeNotifierBlock decodes `notifier "TYPE" "NAME" {}`. Its values may
// be sensitive (env(), file()); Notifier.Sensitive names the attributes that
// are ("url", "headers", ...), and no message shows their values.
func (l *loader) decodeNotifierBlock(blk *hcl.Block) {
	name, ok := declare(l, "notifier", blk, l.cfg.Notifiers)
	if !ok {
		return
	}
	n := &Notifier{
		Type:      blk.Labels[0],
		Name:      name,
		Attrs:     map[string]string{},
		Sensitive: map[string]bool{},
		Retry:     Retry{Initial: DefaultRetryInitial, Max: DefaultRetryMax, Attempts: DefaultRetryAttempts},
		DeclRange: blk.DefRange,
	}
	l.cfg.Notifiers[name] = n
	nt, ok := blockType(l, "notifier", blk, notifierTypes)
	if !ok {
		return
	}
	content := l.content(blk, notifierSchemas[n.Type])
	b := l.body("notifier", content, l.ctx).require(notifierSchemas[n.Type])
	b.secretsOK = true

	for _, spec := range nt.attrs {
		attr := spec
		if attr[len(attr)-1] == '!' {
			attr = attr[:len(attr)-1]
		}
		v, a, ok := b.str(attr)
		if !ok {
			continue
		}
		n.Attrs[attr] = v
		b.checkNotifierAttr(a, v)
	}
	if nt.headers {
		n.Headers, _, _ = b.strMap("headers")
	}
	if nt.to {
		if vs, rngs, a, ok := b.strList("to"); ok {
			if len(vs) == 0 {
				b.errorf(a, "No recipients", "to must list at least one email address.")
			}
			for i, v := range vs {
				if err := checkEmail(v); err != nil {
					b.errorAt(rngs[i], a, "Invalid email address", "%s in to is not usable: %v.", b.show("to", v), err)
				}
			}
			n.To = vs
		}
	}
	n.Events = append([]string(nil), Events...)
	if vs, _, ok := b.enumList("events", "event", Events); ok {
		n.Events = vs
	}
	for i, rb := range content.Blocks {
		if i > 0 {
			l.errorf(rb.DefRange, "Duplicate retry block",
				"A retry block was already declared at %s; a notifier has at most one.", at(content.Blocks[0].DefRange))
			continue
		}
		n.Retry = l.decodeRetry(rb, n.Retry)
	}
	for k := range b.sensitive {
		n.Sensitive[k] = true
	}
}

// checkNotifierAttr validates the attributes whose form is known: URLs,
// the SMTP port, TLS mode, sender address, timeout.
func (b *body) checkNotifierAttr(a *hcl.Attribute, v string) {
	switch a.Name {
	case "url":
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			b.errorf(a, "Invalid URL", "%s is not an http or https URL with a host, such as \"https://hooks.example.com/certctl\".", b.show("url", v))
		}
	case "port":
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			b.errorf(a, "Invalid port", "port must be a number from 1 to 65535, such as 587.")
		}
	case "tls":
		b.checkOneOf(a, a.Expr.Range(), "TLS mode", v, []string{"starttls", "implicit", "none"})
	case "from":
		if err := checkEmail(v); err != nil {
			b.errorf(a, "Invalid email address", "%s in from is not usable: %v.", b.show("from", v), err)
		}
	case "timeout":
		if d, ok := b.durationOf(a, a.Expr.Range(), v); ok && d == 0 {
			b.errorf(a, "Invalid duration", "timeout must be longer than zero.")
		}
	}
}

// decodeRetry decodes `retry { initial, max, attempts }` over defaults.
func (l *loader) decodeRetry(blk *hcl.Block, r Retry) Retry {
	content, diags := blk.Body.Content(retrySchema)
	l.diags = append(l.diags, diags...)
	b := l.body("retry block", content, l.ctx)
	if d, _, ok := b.positiveDuration("initial"); ok {
		r.Initial = d
	}
	if d, a, ok := b.positiveDuration("max"); ok {
		r.Max = d
		if d < r.Initial {
			b.errorf(a, "Invalid retry", "max (%s) must not be shorter than initial (%s).", formatDuration(d), formatDuration(r.Initial))
		}
	}
	if s, a, ok := b.str("attempts"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			b.errorf(a, "Invalid retry", "attempts must be a whole number from 1 to 100.")
		} else {
			r.Attempts = n
		}
	}
	return r
}
