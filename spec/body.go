package spec

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// body reads the attributes of one block (one certificate instance) in one
// evaluation context. Readers return ok=false when the attribute is absent,
// null, or wrong (then a diagnostic has been recorded); callers apply their
// default in that case.
type body struct {
	l *loader
	// diags is where diagnostics go: the loader's, or a buffer of one
	// certificate instance decoded in parallel with others.
	diags *hcl.Diagnostics
	ctx   *hcl.EvalContext
	attrs hcl.Attributes
	// blocks are the nested blocks the schema allowed (acme's http01, …).
	blocks hcl.Blocks
	kind   string // block type, for messages
	// secretsOK allows sensitive values (notifier and agent credentials);
	// elsewhere they are an error, because the values of other blocks are
	// shown in plans and diffs.
	secretsOK bool
	// sensitive records the attributes whose value was sensitive.
	sensitive map[string]bool
	// schema, if set, says which attributes are required: null is then an
	// error rather than "unset".
	schema *hcl.BodySchema
}

// require makes null an error for the attributes schema requires.
func (b *body) require(schema *hcl.BodySchema) *body {
	b.schema = schema
	return b
}

func (b *body) isRequired(name string) bool {
	if b.schema == nil {
		return false
	}
	for _, a := range b.schema.Attributes {
		if a.Name == name {
			return a.Required
		}
	}
	return false
}

func (l *loader) body(kind string, content *hcl.BodyContent, ctx *hcl.EvalContext) *body {
	return &body{l: l, diags: &l.diags, ctx: ctx, attrs: content.Attributes, blocks: content.Blocks, kind: kind}
}

// errorf records an error about attribute a, pointing at its expression.
// Inside a for_each instance the diagnostic carries the context, so the
// text writer shows which each.key it was.
func (b *body) errorf(a *hcl.Attribute, summary, detail string, args ...any) {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  a.Expr.Range().Ptr(),
	}
	if hasEach(b.ctx) {
		d.Expression, d.EvalContext = a.Expr, b.ctx
	}
	*b.diags = append(*b.diags, d)
}

// errorAt is errorf with another subject, such as one element of a list.
func (b *body) errorAt(rng hcl.Range, a *hcl.Attribute, summary, detail string, args ...any) {
	b.errorf(a, summary, detail, args...)
	(*b.diags)[len(*b.diags)-1].Subject = rng.Ptr()
}

// show quotes s for a message, unless attribute name was sensitive.
func (b *body) show(name, s string) string {
	if b.sensitive[name] {
		return "(sensitive value)"
	}
	return strconv.Quote(s)
}

// value evaluates attribute name and converts it to ty.
func (b *body) value(name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	a := b.attrs[name]
	if a == nil {
		return cty.NilVal, nil, false
	}
	v, sensitive, ok := b.l.evalInto(b.diags, a.Expr, b.ctx)
	if !ok {
		return cty.NilVal, a, false
	}
	if v.IsNull() {
		if b.isRequired(name) {
			b.errorf(a, "Missing required argument", "The argument %q is required, but its value is null.", name)
		}
		return cty.NilVal, a, false
	}
	if sensitive {
		if !b.secretsOK {
			b.errorf(a, "Sensitive value not allowed",
				"The value of %s comes from env() or file(), which makes it sensitive, and a %s's arguments are shown in plans and diffs. If the value is not secret, wrap it in nonsensitive(...).",
				name, b.kind)
			return cty.NilVal, a, false
		}
		if b.sensitive == nil {
			b.sensitive = map[string]bool{}
		}
		b.sensitive[name] = true
	}
	if ty == cty.DynamicPseudoType || v.Type().Equals(ty) {
		return v, a, true
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		b.errorf(a, "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.", name, convertError(err))
		return cty.NilVal, a, false
	}
	return cv, a, true
}

// convertError renders a conversion error, with the path when it has one.
func convertError(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("%s: %s", pathString(pe.Path), pe.Error())
	}
	return err.Error()
}

func pathString(p cty.Path) string {
	s := ""
	for _, step := range p {
		switch st := step.(type) {
		case cty.IndexStep:
			if st.Key.Type() == cty.Number {
				bf := st.Key.AsBigFloat()
				s += fmt.Sprintf("element %s", bf.Text('f', -1))
			} else if st.Key.Type() == cty.String {
				s += fmt.Sprintf("element %q", st.Key.AsString())
			}
		case cty.GetAttrStep:
			s += fmt.Sprintf("attribute %q", st.Name)
		}
	}
	return s
}

func (b *body) str(name string) (string, *hcl.Attribute, bool) {
	if a := b.attrs[name]; a != nil && !b.l.reference {
		if s, ok := literalString(a.Expr); ok {
			return s, a, true
		}
	}
	v, a, ok := b.value(name, cty.String)
	if !ok {
		return "", a, false
	}
	return v.AsString(), a, true
}

// strList reads a list (or set, or tuple) of strings. It also returns a
// subject range per element: the element's own expression when the
// attribute is written as a literal list, otherwise the whole expression.
func (b *body) strList(name string) ([]string, []hcl.Range, *hcl.Attribute, bool) {
	if a := b.attrs[name]; a != nil && !b.l.reference {
		if out, rngs, ok := literalStringList(a.Expr); ok {
			return out, rngs, a, true
		}
	}
	v, a, ok := b.value(name, cty.DynamicPseudoType)
	if !ok {
		return nil, nil, a, false
	}
	out, ok := stringElems(v)
	if !ok {
		// Not simply strings: let cty convert (numbers, say) or explain.
		v, err := convert.Convert(v, cty.List(cty.String))
		if err != nil {
			b.errorf(a, "Incorrect attribute value type",
				"Inappropriate value for attribute %q: %s.", name, convertError(err))
			return nil, nil, a, false
		}
		if out, ok = stringElems(v); !ok {
			b.errorf(a, "Invalid value", "The elements of %s must not be null.", name)
			return nil, nil, a, false
		}
	}
	rngs := make([]hcl.Range, len(out))
	exprs, diags := hcl.ExprList(a.Expr)
	for i := range rngs {
		if !diags.HasErrors() && len(exprs) == len(out) {
			rngs[i] = exprs[i].Range()
		} else {
			rngs[i] = a.Expr.Range()
		}
	}
	return out, rngs, a, true
}

// stringElems returns the elements of a list, set or tuple whose elements
// are all non-null strings.
func stringElems(v cty.Value) ([]string, bool) {
	ty := v.Type()
	if !(ty.IsListType() || ty.IsSetType() || ty.IsTupleType()) {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || e.Type() != cty.String {
			return nil, false
		}
		out = append(out, e.AsString())
	}
	return out, true
}

func (b *body) strMap(name string) (map[string]string, *hcl.Attribute, bool) {
	if a := b.attrs[name]; a != nil && !b.l.reference {
		if out, ok := literalStringMap(a.Expr); ok {
			return out, a, true
		}
	}
	v, a, ok := b.value(name, cty.DynamicPseudoType)
	if !ok {
		return nil, a, false
	}
	if ty := v.Type(); !ty.IsObjectType() && !ty.IsMapType() || !allStrings(v) {
		cv, err := convert.Convert(v, cty.Map(cty.String))
		if err != nil {
			b.errorf(a, "Incorrect attribute value type",
				"Inappropriate value for attribute %q: %s.", name, convertError(err))
			return nil, a, false
		}
		if !allStrings(cv) {
			b.errorf(a, "Invalid value", "The values of %s must not be null.", name)
			return nil, a, false
		}
		v = cv
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		out[k.AsString()] = e.AsString()
	}
	return out, a, true
}

func allStrings(v cty.Value) bool {
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || e.Type() != cty.String {
			return false
		}
	}
	return true
}

func (b *body) boolean(name string) (bool, *hcl.Attribute, bool) {
	v, a, ok := b.value(name, cty.Bool)
	if !ok {
		return false, a, false
	}
	return v.True(), a, true
}

// durationOf parses s, the value of attribute a, as a duration that must
// not be negative.
func (b *body) durationOf(a *hcl.Attribute, rng hcl.Range, s string) (time.Duration, bool) {
	d, err := ParseDuration(s)
	reason := ""
	if de, ok := err.(*DurationError); ok {
		reason = de.Reason
	} else if err == nil && d < 0 {
		reason = "it is negative"
	}
	if reason == "" {
		return d, true
	}
	what := fmt.Sprintf("%s, %s,", a.Name, strconv.Quote(s))
	if b.sensitive[a.Name] {
		what, reason = a.Name, "the (sensitive) value is not one"
	}
	b.errorAt(rng, a, "Invalid duration",
		"The value of %s is not a valid duration: %s. Write a number and a unit, like \"90d\", \"36h\" or \"1d12h\" (units: d, h, m, s, ms, us, ns).",
		what, reason)
	return 0, false
}

func (b *body) duration(name string) (time.Duration, *hcl.Attribute, bool) {
	s, a, ok := b.str(name)
	if !ok {
		return 0, a, false
	}
	d, ok := b.durationOf(a, a.Expr.Range(), s)
	return d, a, ok
}

// positiveDuration is duration that must also be greater than zero.
func (b *body) positiveDuration(name string) (time.Duration, *hcl.Attribute, bool) {
	d, a, ok := b.duration(name)
	if ok && d == 0 {
		b.errorf(a, "Invalid duration", "%s must be longer than zero.", name)
		return 0, a, false
	}
	return d, a, ok
}

// oneOf reads a string that must be one of allowed. what names the kind of
// value for messages ("key algorithm").
func (b *body) oneOf(name, what string, allowed []string) (string, *hcl.Attribute, bool) {
	s, a, ok := b.str(name)
	if !ok {
		return "", a, false
	}
	if !b.checkOneOf(a, a.Expr.Range(), what, s, allowed) {
		return "", a, false
	}
	return s, a, true
}

func (b *body) checkOneOf(a *hcl.Attribute, rng hcl.Range, what, s string, allowed []string) bool {
	for _, v := range allowed {
		if s == v {
			return true
		}
	}
	hint := ""
	if !b.sensitive[a.Name] {
		if c := closest(s, append([]string(nil), allowed...)); c != "" {
			hint = fmt.Sprintf(" Did you mean %q?", c)
		}
	}
	b.errorAt(rng, a, "Unsupported "+what,
		"%s is not a supported %s. Use %s.%s", b.show(a.Name, s), what, oneOfList(allowed), hint)
	return false
}
