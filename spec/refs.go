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

// refExpr decodes expr as a reference to a block of kind, without
// evaluating it, and checks that the block exists. Names are checked
// against kinds decoded earlier (see decodeBlocks).
func (b *body) refExpr(a *hcl.Attribute, expr hcl.Expression, kind string) (string, bool) {
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		b.errorAt(expr.Range(), a, "Invalid reference",
			"%s must be a reference like %s.NAME, written without quotes.", a.Name, kind)
		return "", false
	}
	root := t.RootName()
	var name string
	if len(t) == 2 {
		if attr, ok := t[1].(hcl.TraverseAttr); ok {
			name = attr.Name
		}
	}
	switch {
	case root != kind && refKinds[root] && name != "":
		b.errorAt(expr.Range(), a, "Invalid reference",
			"%s must refer to %s %s, like %s.NAME, but %s.%s refers to %s %s.",
			a.Name, article(kind), kind, kind, root, name, article(root), root)
		return "", false
	case root != kind || name == "":
		b.errorAt(expr.Range(), a, "Invalid reference",
			"%s must be a reference like %s.NAME.", a.Name, kind)
		return "", false
	}
	if !b.l.exists(kind, name) {
		hint := ""
		if c := closest(name, b.l.names(kind)); c != "" {
			hint = fmt.Sprintf(" Did you mean %s.%s?", kind, c)
		} else {
			hint = fmt.Sprintf(" Declare it with %s %s block, or fix the reference.", article(kind), kind)
		}
		b.errorAt(expr.Range(), a, "Unknown "+kind,
			"There is no %s named %q.%s", kind, name, hint)
		return name, false
	}
	return name, true
}

// ref reads attribute name as one reference to a kind.
func (b *body) ref(name, kind string) (string, *hcl.Attribute, bool) {
	a := b.attrs[name]
	if a == nil {
		return "", nil, false
	}
	n, ok := b.refExpr(a, a.Expr, kind)
	return n, a, ok
}

// refList reads attribute name as a list of references to a kind, like
// [notifier.ops, notifier.pager]. Unknown references are reported and left
// out of the result.
func (b *body) refList(name, kind string) ([]string, *hcl.Attribute, bool) {
	a := b.attrs[name]
	if a == nil {
		return nil, nil, false
	}
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		b.errorf(a, "Invalid reference list",
			"%s must be a list of references, like [%s.NAME, ...].", name, kind)
		return nil, a, false
	}
	out := make([]string, 0, len(exprs))
	seen := make(map[string]bool, len(exprs))
	ok := true
	for _, e := range exprs {
		n, good := b.refExpr(a, e, kind)
		switch {
		case !good:
			ok = false
		case seen[n]:
			b.errorAt(e.Range(), a, "Duplicate reference",
				"%s.%s appears more than once in %s; remove the repetition.", kind, n, name)
			ok = false
		default:
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, a, ok
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
	var out []string
	add := func(n string) { out = append(out, n) }
	switch kind {
	case "team":
		for n := range l.cfg.Teams {
			add(n)
		}
	case "owner":
		for n := range l.cfg.Owners {
			add(n)
		}
	case "policy":
		for n := range l.cfg.Policies {
			add(n)
		}
	case "issuer":
		for n := range l.cfg.Issuers {
			add(n)
		}
	case "notifier":
		for n := range l.cfg.Notifiers {
			add(n)
		}
	case "agent":
		for n := range l.cfg.Agents {
			add(n)
		}
	case "target":
		for n := range l.cfg.Targets {
			add(n)
		}
	}
	return out
}
