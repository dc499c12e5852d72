package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Most arguments are written as literals: "www.example.com", a list of such
// strings, { env = "prod" }. Reading those through hcl and cty (evaluate,
// build a cty value and its type, convert, take it apart again) is most of
// the cost of decoding a large configuration, so the readers of body take
// the value straight from the syntax tree when it is a literal of the shape
// they want. Each shortcut gives exactly what the evaluation would, and
// anything else (an expression, a number where a string is wanted, a
// non-ASCII object key) goes the long way.

// literalString returns the value of expr when it is a quoted string with
// no interpolation, like "www.example.com".
func literalString(expr hcl.Expression) (string, bool) {
	t, ok := expr.(*hclsyntax.TemplateExpr)
	if !ok || !t.IsStringLiteral() {
		return "", false
	}
	v := t.Parts[0].(*hclsyntax.LiteralValueExpr).Val
	if v.Type() != cty.String || v.IsMarked() || !v.IsKnown() || v.IsNull() {
		return "", false
	}
	// TemplateExpr.Value returns cty.StringVal of the same string, which
	// normalizes it again; the parser already did.
	return v.AsString(), true
}

// literalStringList returns the elements of expr, and their ranges, when
// it is a list of literal strings, like ["a.example.com", "b.example.com"].
func literalStringList(expr hcl.Expression) ([]string, []hcl.Range, bool) {
	t, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil, nil, false
	}
	out := make([]string, len(t.Exprs))
	rngs := make([]hcl.Range, len(t.Exprs))
	for i, e := range t.Exprs {
		s, ok := literalString(e)
		if !ok {
			return nil, nil, false
		}
		out[i], rngs[i] = s, e.Range()
	}
	return out, rngs, true
}

// literalStringMap returns the value of expr when it is an object of
// literal strings whose keys are ASCII names or literal strings, all
// different, like { env = "prod", "team" = "web" }.
func literalStringMap(expr hcl.Expression) (map[string]string, bool) {
	o, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(o.Items))
	for _, item := range o.Items {
		k, ok := literalKey(item.KeyExpr)
		if !ok {
			return nil, false
		}
		if _, dup := out[k]; dup {
			return nil, false // the evaluation keeps the last; let it
		}
		v, ok := literalString(item.ValueExpr)
		if !ok {
			return nil, false
		}
		out[k] = v
	}
	return out, true
}

// literalKey returns the key of an object item written as a bare name
// (env = ...) or a literal string ("env" = ...). Only ASCII keys are taken:
// cty normalizes attribute names (NFC), which leaves ASCII unchanged.
func literalKey(expr hcl.Expression) (string, bool) {
	k, ok := expr.(*hclsyntax.ObjectConsKeyExpr)
	if !ok {
		return "", false
	}
	var s string
	switch w := k.Wrapped.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		// A bare name is a literal key, unless it is in parentheses.
		if k.ForceNonLiteral || len(w.Traversal) != 1 {
			return "", false
		}
		s = w.Traversal.RootName()
	case *hclsyntax.TemplateExpr:
		if s, ok = literalString(w); !ok {
			return "", false
		}
	default:
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", false
		}
	}
	return s, true
}

// isLiteral reports whether expr is a literal of the shapes above (and so
// refers to nothing), without walking it as Variables does.
func isLiteral(expr hcl.Expression) bool {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		_, ok := literalString(e)
		return ok
	case *hclsyntax.TupleConsExpr:
		for _, x := range e.Exprs {
			if _, ok := literalString(x); !ok {
				return false
			}
		}
		return true
	case *hclsyntax.ObjectConsExpr:
		for _, item := range e.Items {
			if _, ok := literalKey(item.KeyExpr); !ok {
				return false
			}
			if _, ok := literalString(item.ValueExpr); !ok {
				return false
			}
		}
		return true
	}
	return false
}
