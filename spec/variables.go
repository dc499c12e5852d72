package spec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// varEnvPrefix is the environment prefix of variable overrides:
// CERTCTL_VAR_region=eu sets var.region to "eu".
const varEnvPrefix = "CERTCTL_VAR_"

// decodeVariables evaluates every `variable "NAME" {}` block into var.NAME.
//
// The value comes from, in order: Options.Vars[NAME], the environment
// variable CERTCTL_VAR_NAME, the default. An override is a string; if the
// variable declares a type other than string (or none), the string is
// converted to it: "true" for bool, "42" for number, and HCL syntax for a
// collection (CERTCTL_VAR_names='["a", "b"]'), as Terraform's TF_VAR_ does.
// A default may call functions but not refer to other variables or locals.
// `sensitive = true` marks the value sensitive, as env() does.
func (l *loader) decodeVariables() {
	vals := map[string]cty.Value{}
	decls := map[string]hcl.Range{}
	fnCtx := &hcl.EvalContext{Functions: l.ctx.Functions}
	for _, b := range l.blocks["variable"] {
		name, ok := l.checkName(b)
		if !ok {
			continue
		}
		if prev, dup := decls[name]; dup {
			l.duplicate("variable", name, prev, b)
			continue
		}
		decls[name] = b.DefRange
		l.declared["var"][name] = true
		vals[name] = cty.DynamicVal // until known, so errors do not cascade

		content, diags := b.Body.Content(variableSchema)
		l.diags = append(l.diags, diags...)
		ty := cty.DynamicPseudoType
		if a := content.Attributes["type"]; a != nil {
			t, diags := typeexpr.TypeConstraint(a.Expr)
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				continue
			}
			ty = t
		}
		sensitive := false
		if a := content.Attributes["sensitive"]; a != nil {
			v, diags := a.Expr.Value(nil)
			l.diags = append(l.diags, diags...)
			if v, err := convert.Convert(v, cty.Bool); err != nil || v.IsNull() {
				l.errorf(a.Expr.Range(), "Invalid sensitive argument", "sensitive must be true or false.")
			} else {
				sensitive = v.True()
			}
		}
		if a := content.Attributes["description"]; a != nil {
			// Documentation only; evaluate to catch mistakes.
			v, diags := a.Expr.Value(nil)
			l.diags = append(l.diags, diags...)
			if _, err := convert.Convert(v, cty.String); err != nil {
				l.errorf(a.Expr.Range(), "Invalid description", "description must be a string.")
			}
		}

		var val cty.Value
		if s, src, ok := l.varOverride(name); ok {
			v, err := parseVarString(s, ty, src)
			if err != nil {
				l.errorf(b.DefRange, "Invalid value for variable",
					"The value of %s cannot be used for variable %q: %v.", src, name, err)
				continue
			}
			val = v
		} else if a := content.Attributes["default"]; a != nil {
			v, diags := a.Expr.Value(fnCtx)
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				continue
			}
			v, err := convert.Convert(v, ty)
			if err != nil {
				l.errorf(a.Expr.Range(), "Invalid default value for variable",
					"The default of variable %q does not match its type: %v.", name, err)
				continue
			}
			val = v
		} else {
			l.errorf(b.DefRange, "No value for required variable",
				"Variable %q has no default and %s%s is not set. Add a default to the block, or set the environment variable.",
				name, varEnvPrefix, name)
			continue
		}
		if sensitive {
			val = val.Mark(sensitiveMark)
		}
		vals[name] = val
	}
	l.ctx.Variables["var"] = objectOrEmpty(vals)
}

func (l *loader) varOverride(name string) (value, source string, ok bool) {
	if v, ok := l.vars[name]; ok {
		return v, "the override for " + name, true
	}
	if v, ok := l.lookupEnv(varEnvPrefix + name); ok {
		return v, varEnvPrefix + name, true
	}
	return "", "", false
}

// parseVarString converts an override string to the variable's type.
func parseVarString(s string, ty cty.Type, source string) (cty.Value, error) {
	if ty == cty.DynamicPseudoType || ty == cty.String {
		return cty.StringVal(s), nil
	}
	if ty.IsPrimitiveType() {
		return convert.Convert(cty.StringVal(strings.TrimSpace(s)), ty)
	}
	expr, diags := hclsyntax.ParseExpression([]byte(s), source, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("it is not valid HCL syntax for a %s", ty.FriendlyName())
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("it must be a constant %s", ty.FriendlyName())
	}
	return convert.Convert(v, ty)
}

func objectOrEmpty(vals map[string]cty.Value) cty.Value {
	if len(vals) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(vals)
}

// decodeLocals evaluates every `locals {}` attribute into local.NAME. A
// local may use var.*, other locals and functions. Each local is evaluated
// after the locals it refers to (a depth-first walk of the references), with
// a context that holds only those, so the work is linear in the number of
// references; a cycle is an error.
func (l *loader) decodeLocals() {
	defs := map[string]*hcl.Attribute{}
	var order []string
	for _, b := range l.blocks["locals"] {
		attrs, diags := b.Body.JustAttributes()
		l.diags = append(l.diags, diags...)
		// JustAttributes returns a map; keep source order for determinism.
		sorted := make([]*hcl.Attribute, 0, len(attrs))
		for _, a := range attrs {
			sorted = append(sorted, a)
		}
		sortAttrs(sorted)
		for _, a := range sorted {
			if prev, dup := defs[a.Name]; dup {
				l.errorf(a.NameRange, "Duplicate local value",
					"A local value named %q was already defined at %s. Names must be unique across all locals blocks; rename or remove one of them.",
					a.Name, at(prev.NameRange))
				continue
			}
			if !hclsyntax.ValidIdentifier(a.Name) {
				l.errorf(a.NameRange, "Invalid name", "A local value name must be an identifier; %q is not.", a.Name)
				continue
			}
			defs[a.Name] = a
			l.declared["local"][a.Name] = true
			order = append(order, a.Name)
		}
	}

	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	vals := map[string]cty.Value{}
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		a := defs[name]
		state[name] = visiting
		deps := map[string]cty.Value{}
		for _, t := range a.Expr.Variables() {
			dep, ok := localRef(t)
			if !ok || defs[dep] == nil {
				continue // not a local, or an unknown one: evaluation reports it
			}
			switch state[dep] {
			case visiting:
				cycle := append(append([]string{}, path...), name, dep)
				l.errorf(t.SourceRange(), "Cycle in local values",
					"%s. A local value cannot depend on itself; break the cycle.", describeCycle(cycle))
				vals[name] = cty.DynamicVal
				state[name] = done
				return
			case unvisited:
				visit(dep, append(path, name))
			}
			deps[dep] = vals[dep]
		}
		if state[name] == done { // a cycle was found below
			return
		}
		ctx := l.ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"local": objectOrEmpty(deps)}
		v, diags := a.Expr.Value(ctx)
		l.diags = append(l.diags, l.explain(a.Expr, ctx, diags)...)
		if diags.HasErrors() {
			v = cty.DynamicVal
		}
		vals[name] = v
		state[name] = done
	}
	for _, name := range order {
		if state[name] == unvisited {
			visit(name, nil)
		}
	}
	l.ctx.Variables["local"] = objectOrEmpty(vals)
}

// localRef returns NAME for a traversal local.NAME...
func localRef(t hcl.Traversal) (string, bool) {
	if t.RootName() != "local" {
		return "", false
	}
	return traversalAttr(t)
}

func describeCycle(names []string) string {
	if len(names) == 2 {
		return "local." + names[0] + " refers to itself"
	}
	var b strings.Builder
	for i, n := range names {
		switch {
		case i == 0:
			b.WriteString("local." + n)
		case i == len(names)-1:
			b.WriteString(", which refers back to local." + n)
		default:
			b.WriteString(" refers to local." + n)
		}
	}
	return b.String()
}

func sortAttrs(as []*hcl.Attribute) {
	sort.Slice(as, func(i, j int) bool { return as[i].Range.Start.Byte < as[j].Range.Start.Byte })
}
