package spec

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// instance is one element of a for_each.
type instance struct {
	key   string
	value cty.Value // may carry marks; each.value keeps them
}

// instanceName is the address of a for_each instance: sites["api"].
func instanceName(label, key string) string {
	return label + `["` + key + `"]`
}

// validForEachKey reports whether key may name an instance. Keys become
// file names (LABEL.KEY.crt), so they are kept to [A-Za-z0-9_.-]+.
func validForEachKey(key string) bool {
	if key == "" || key == "." || key == ".." {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// forEach evaluates a for_each argument into instances sorted by key. A map
// (or object) gives each.key = the key and each.value = the element; a set
// or list of strings gives each.key = each.value = the element. ok is false
// if the argument is invalid (the diagnostic is recorded).
func (l *loader) forEach(a *hcl.Attribute) ([]instance, bool) {
	v, diags := a.Expr.Value(l.ctx)
	l.diags = append(l.diags, l.explain(a.Expr, l.ctx, diags)...)
	if diags.HasErrors() {
		return nil, false
	}
	bad := func(summary, detail string, args ...any) ([]instance, bool) {
		l.errorf(a.Expr.Range(), summary, detail, args...)
		return nil, false
	}
	if v.IsMarked() {
		return bad("Invalid for_each argument",
			"The for_each value is sensitive (it comes from env() or file()), and its keys would become certificate names, which plans show. If the keys are not secret, wrap the value in nonsensitive(...).")
	}
	if !v.IsWhollyKnown() {
		return nil, false // an error upstream was already reported
	}
	if v.IsNull() {
		return bad("Invalid for_each argument", "for_each must not be null; use {} for no instances.")
	}
	ty := v.Type()
	var out []instance
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out = append(out, instance{key: k.AsString(), value: e})
		}
	case ty.IsSetType() || ty.IsListType() || ty.IsTupleType():
		seen := map[string]bool{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsMarked() {
				return bad("Invalid for_each argument",
					"An element of for_each is sensitive (it comes from env() or file()), and it would become a certificate name, which plans show. If it is not secret, wrap the value in nonsensitive(...).")
			}
			if e.IsNull() || e.Type() != cty.String {
				return bad("Invalid for_each argument",
					"for_each must be a map, or a set or list of strings; this %s has an element that is a %s.", ty.FriendlyName(), e.Type().FriendlyName())
			}
			k := e.AsString()
			if seen[k] {
				return bad("Duplicate for_each key",
					"The list gives %q more than once, and each key names one certificate. Remove the repetition, or wrap the list in toset(...).", k)
			}
			seen[k] = true
			out = append(out, instance{key: k, value: e})
		}
	default:
		return bad("Invalid for_each argument",
			"for_each must be a map, or a set or list of strings, but this is a %s.", ty.FriendlyName())
	}
	for _, in := range out {
		if !validForEachKey(in.key) {
			return bad("Invalid for_each key",
				"The key %q cannot name a certificate: keys become file names, so they may contain only letters, digits, \"_\", \".\" and \"-\". Change the key; the certificate's names come from its arguments, not from the key.", in.key)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, true
}

// eachContext is the evaluation context of one instance.
func (l *loader) eachContext(in instance) *hcl.EvalContext {
	ctx := l.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{
		"each": cty.ObjectVal(map[string]cty.Value{
			"key":   cty.StringVal(in.key),
			"value": in.value,
		}),
	}
	return ctx
}
