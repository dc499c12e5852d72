package spec

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Reference kinds: the block types a KIND.NAME traversal may name.
var refKinds = map[string]bool{
	"team": true, "owner": true, "policy": true, "issuer": true,
	"notifier": true, "agent": true, "target": true,
}

// a is "an" or "a" for kind.
func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an"
	}
	return "a"
}

// refSyntax is a reference (KIND.NAME) as written. parseRef reads it
// without evaluating anything, so it can be read as soon as the file is
// parsed (see prepareCertificate); checkRef checks it once every block it
// may name is decoded.
type refSyntax struct {
	rng  hcl.Range // of the expression
	ok   bool      // whether the expression is a traversal
	root string
	name string // NAME of ROOT.NAME; "" if the traversal is anything else
}

func parseRef(expr hcl.Expression) refSyntax {
	r := refSyntax{rng: expr.Range()}
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		return r
	}
	r.ok, r.root = true, t.RootName()
	if len(t) == 2 {
		if attr, ok := t[1].(hcl.TraverseAttr); ok {
			r.name = attr.Name
		}
	}
	return r
}

// refArg is a reference argument as written: one reference, or (for
// refList) a list of them. The zero value is an absent argument.
type refArg struct {
	attr string // the argument's name; "" if it is absent
	// refs are the references. For a list argument whose expression is
	// not a list, notList is set and refs holds just its range.
	refs    []refSyntax
	notList bool
}

// parseRefArg reads argument name of attrs as one reference, or as a list
// of references if list is set.
func parseRefArg(attrs hcl.Attributes, name string, list bool) refArg {
	a := attrs[name]
	if a == nil {
		return refArg{}
	}
	if !list {
		return refArg{attr: a.Name, refs: []refSyntax{parseRef(a.Expr)}}
	}
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		return refArg{attr: a.Name, refs: []refSyntax{{rng: a.Expr.Range()}}, notList: true}
	}
	arg := refArg{attr: a.Name, refs: make([]refSyntax, len(exprs))}
	for i, e := range exprs {
		arg.refs[i] = parseRef(e)
	}
	return arg
}

// errorRef records an error about a reference at rng. (References are
// checked once per block, never per for_each instance, so unlike errorf
// there is no instance context to show.)
func (b *body) errorRef(rng hcl.Range, summary, detail string, args ...any) {
	*b.diags = append(*b.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  rng.Ptr(),
	})
}

// checkRef checks reference r of argument attr: it must name a block of
// kind that exists. Names are checked against kinds decoded earlier (see
// decodeBlocks).
func (b *body) checkRef(attr string, r refSyntax, kind string) (string, bool) {
	if !r.ok {
		b.errorRef(r.rng, "Invalid reference",
			"%s must be a reference like %s.NAME, written without quotes.", attr, kind)
		return "", false
	}
	root, name := r.root, r.name
	switch {
	case root != kind && refKinds[root] && name != "":
		b.errorRef(r.rng, "Invalid reference",
			"%s must refer to %s %s, like %s.NAME, but %s.%s refers to %s %s.",
			attr, article(kind), kind, kind, root, name, article(root), root)
		return "", false
	case root != kind || name == "":
		b.errorRef(r.rng, "Invalid reference",
			"%s must be a reference like %s.NAME.", attr, kind)
		return "", false
	}
	if !b.l.exists(kind, name) {
		hint := ""
		if c := closest(name, b.l.names(kind)); c != "" {
			hint = fmt.Sprintf(" Did you mean %s.%s?", kind, c)
		} else {
			hint = fmt.Sprintf(" Declare it with %s %s block, or fix the reference.", article(kind), kind)
		}
		b.errorRef(r.rng, "Unknown "+kind,
			"There is no %s named %q.%s", kind, name, hint)
		return name, false
	}
	return name, true
}

// checkRefArg checks a reference argument read with list unset: ok is
// false if it is absent or wrong.
func (b *body) checkRefArg(arg refArg, kind string) (string, bool) {
	if arg.attr == "" {
		return "", false
	}
	return b.checkRef(arg.attr, arg.refs[0], kind)
}

// checkRefListArg checks a reference argument read with list set.
// Unknown references are reported and left out of the result.
func (b *body) checkRefListArg(arg refArg, kind string) ([]string, bool) {
	if arg.attr == "" {
		return nil, false
	}
	if arg.notList {
		b.errorRef(arg.refs[0].rng, "Invalid reference list",
			"%s must be a list of references, like [%s.NAME, ...].", arg.attr, kind)
		return nil, false
	}
	out := make([]string, 0, len(arg.refs))
	seen := make(map[string]bool, len(arg.refs))
	ok := true
	for _, r := range arg.refs {
		n, good := b.checkRef(arg.attr, r, kind)
		switch {
		case !good:
			ok = false
		case seen[n]:
			b.errorRef(r.rng, "Duplicate reference",
				"%s.%s appears more than once in %s; remove the repetition.", kind, n, arg.attr)
			ok = false
		default:
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, ok
}

// ref reads attribute name as one reference to a kind.
func (b *body) ref(name, kind string) (string, *hcl.Attribute, bool) {
	n, ok := b.checkRefArg(parseRefArg(b.attrs, name, false), kind)
	return n, b.attrs[name], ok
}

// refList reads attribute name as a list of references to a kind, like
// [notifier.ops, notifier.pager]. Unknown references are reported and left
// out of the result.
func (b *body) refList(name, kind string) ([]string, *hcl.Attribute, bool) {
	out, ok := b.checkRefListArg(parseRefArg(b.attrs, name, true), kind)
	return out, b.attrs[name], ok
}

func (l *loader) exists(kind, name string) bool {
	var ok bool
	switch kind {
	case "team":
		_, ok = l.cfg.Teams[name]
	case "owner":
		_, ok = l.cfg.Owners[name]
	case "policy":
		_, ok = l.cfg.Policies[name]
	case "issuer":
		_, ok = l.cfg.Issuers[name]
	case "notifier":
		_, ok = l.cfg.Notifiers[name]
	case "agent":
		_, ok = l.cfg.Agents[name]
	case "target":
		_, ok = l.cfg.Targets[name]
	}
	return ok
}

// names lists the names of a kind, for suggestions (error path only).
func (l *loader) names(kind string) []string {
	switch kind {
	case "team":
		return keys(l.cfg.Teams)
	case "owner":
		return keys(l.cfg.Owners)
	case "policy":
		return keys(l.cfg.Policies)
	case "issuer":
		return keys(l.cfg.Issuers)
	case "notifier":
		return keys(l.cfg.Notifiers)
	case "agent":
		return keys(l.cfg.Agents)
	case "target":
		return keys(l.cfg.Targets)
	}
	return nil
}
