package spec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// eval evaluates expr in ctx. It returns the value without marks, whether
// it carried the sensitive mark anywhere, and ok=false if evaluation failed
// (the diagnostics are recorded) or the value is unknown because something
// it depends on already failed.
func (l *loader) eval(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, bool, bool) {
	return l.evalInto(&l.diags, expr, ctx)
}

// evalInto is eval recording diagnostics in out. It is safe for concurrent
// use once variables and locals are decoded.
func (l *loader) evalInto(out *hcl.Diagnostics, expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, bool, bool) {
	v, diags := expr.Value(ctx)
	*out = append(*out, l.explain(expr, ctx, diags)...)
	if diags.HasErrors() {
		return cty.NilVal, false, false
	}
	v, sensitive := unmark(v)
	if !v.IsWhollyKnown() {
		return cty.NilVal, false, false
	}
	return v, sensitive, true
}

// unmark removes all marks from v and reports whether there were any. It
// avoids cty's UnmarkDeep, which rebuilds every value, in the common case of
// a value with no marks at all.
func unmark(v cty.Value) (cty.Value, bool) {
	if !containsMarked(v) {
		return v, false
	}
	v, marks := v.UnmarkDeep()
	return v, len(marks) > 0
}

func containsMarked(v cty.Value) bool {
	if v.IsMarked() {
		return true
	}
	ty := v.Type()
	if ty.IsPrimitiveType() || !v.IsKnown() || v.IsNull() {
		return false
	}
	if ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType() {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if containsMarked(e) {
				return true
			}
		}
	}
	return false
}

// explain replaces hcl's generic errors for an expression that uses
// each.* outside a for_each block, or an undeclared var.X or local.X, with
// one that says what is wrong and how to fix it.
func (l *loader) explain(expr hcl.Expression, ctx *hcl.EvalContext, diags hcl.Diagnostics) hcl.Diagnostics {
	if !diags.HasErrors() {
		return diags
	}
	for _, t := range expr.Variables() {
		root := t.RootName()
		switch {
		case root == "each" && !hasEach(ctx):
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  `Reference to "each" without for_each`,
				Detail:   "each.key and each.value exist only in a certificate block that sets for_each. Add for_each to the block, or replace the reference.",
				Subject:  t.SourceRange().Ptr(),
			}}
		case root == "var" || root == "local":
			name, ok := traversalAttr(t)
			if !ok || l.declared[root][name] {
				continue
			}
			what, decl := "variable", `a variable "`+name+`" block`
			if root == "local" {
				what, decl = "local value", "it in a locals block"
			}
			hint := " Declare " + decl + ", or fix the reference."
			if c := closest(name, keys(l.declared[root])); c != "" {
				hint = fmt.Sprintf(" Did you mean %s.%s?", root, c)
			}
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Reference to undeclared " + what,
				Detail:   fmt.Sprintf("There is no %s named %q.%s", what, name, hint),
				Subject:  t.SourceRange().Ptr(),
			}}
		}
	}
	return diags
}

// traversalAttr returns X of a traversal ROOT.X...
func traversalAttr(t hcl.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	a, ok := t[1].(hcl.TraverseAttr)
	return a.Name, ok
}

func hasEach(ctx *hcl.EvalContext) bool {
	_, ok := ctx.Variables["each"]
	return ok
}
