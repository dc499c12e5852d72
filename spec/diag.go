package spec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// errorf records an error diagnostic whose subject is rng.
func (l *loader) errorf(rng hcl.Range, summary, detail string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  rng.Ptr(),
	})
}

// errorsSince reports whether an error was recorded after the first n
// diagnostics; a decoder notes len(l.diags) first to learn whether its block
// was sound.
func (l *loader) errorsSince(n int) bool {
	return l.diags[n:].HasErrors()
}

// at renders a range as "main.hcl:12", the form used in messages that
// point at another declaration.
func at(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

// duplicate reports a second declaration of kind NAME.
func (l *loader) duplicate(kind, name string, prev hcl.Range, b *hcl.Block) {
	l.errorf(b.DefRange, "Duplicate "+kind,
		"A %s named %q was already declared at %s. Names must be unique across all files of the directory; rename or remove one of them.",
		kind, name, at(prev))
}

// declaration is a named block a Config keeps: declare finds where it
// was declared.
type declaration interface{ declRange() hcl.Range }

func (t *Team) declRange() hcl.Range     { return t.DeclRange }
func (o *Owner) declRange() hcl.Range    { return o.DeclRange }
func (a *Agent) declRange() hcl.Range    { return a.DeclRange }
func (t *Target) declRange() hcl.Range   { return t.DeclRange }
func (p *Policy) declRange() hcl.Range   { return p.DeclRange }
func (i *Issuer) declRange() hcl.Range   { return i.DeclRange }
func (n *Notifier) declRange() hcl.Range { return n.DeclRange }

// declare checks the name of blk, a block of kind, and that no block in
// declared has it already. It reports the problem and returns false if
// either check fails.
func declare[T declaration](l *loader, kind string, blk *hcl.Block, declared map[string]T) (string, bool) {
	name, ok := l.checkName(blk)
	if !ok {
		return name, false
	}
	if prev, dup := declared[name]; dup {
		l.duplicate(kind, name, prev.declRange(), blk)
		return name, false
	}
	return name, true
}

// blockType looks up the type of `KIND "TYPE" "NAME" {}` in types, and
// reports a type certctl does not have.
func blockType[T any](l *loader, kind string, blk *hcl.Block, types map[string]T) (T, bool) {
	t, ok := types[blk.Labels[0]]
	if !ok {
		l.unsupportedType(blk, kind, keys(types))
	}
	return t, ok
}

// content decodes the body of b against schema. Blocks other than
// certificate reject for_each with a message that says why.
func (l *loader) content(b *hcl.Block, schema *hcl.BodySchema) *hcl.BodyContent {
	content, diags := b.Body.Content(schema)
	l.diags = append(l.diags, diags...)
	if a := content.Attributes["for_each"]; a != nil {
		l.errorf(a.NameRange, "Unsupported for_each",
			"for_each is supported only in certificate blocks. Declare one %s block for each instance instead.", b.Type)
		delete(content.Attributes, "for_each")
	}
	return content
}

// checkName checks the name label (the last one) of b and returns it with
// ok=false if it is not an identifier. Names are referenced as KIND.NAME
// and used in file names, so they are restricted like HCL identifiers.
func (l *loader) checkName(b *hcl.Block) (string, bool) {
	i := len(b.Labels) - 1
	name := b.Labels[i]
	if !validName(b) {
		l.errorf(b.LabelRanges[i], "Invalid name",
			"%s %s name must start with a letter or underscore and contain only letters, digits, underscores and hyphens; %q does not.",
			strings.ToUpper(article(b.Type)[:1])+article(b.Type)[1:], b.Type, name)
		return name, false
	}
	return name, true
}

// validName reports whether checkName passes b. It is safe for concurrent
// use.
func validName(b *hcl.Block) bool {
	return ValidName(b.Labels[len(b.Labels)-1])
}

// ValidName reports whether name may name a block: a letter or '_', then
// letters, digits, '_' and '-' (an HCL identifier). Safe for concurrent
// use.
func ValidName(name string) bool {
	// hclsyntax.ValidIdentifier runs the lexer; an ASCII name is quicker
	// checked by hand: (ID_Start | "_") (ID_Continue | "-")*.
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			return hclsyntax.ValidIdentifier(name)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return name != ""
}

// closest returns the candidate nearest to given within edit distance 2
// (and at most half the length of given, so "db" does not suggest "web"),
// or "". Ties go to the first in sorted order, so the suggestion does not
// depend on map order.
func closest(given string, candidates []string) string {
	sort.Strings(candidates)
	best, bestDist := "", min(3, len(given)/2+1)
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// oneOfList renders allowed values for a message: "a, b or c".
func oneOfList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// finish post-processes the diagnostics of a load: it drops evaluation
// contexts that hold a sensitive value (the text writer would print the
// values of the variables an expression uses), replaces any secret string
// that still made it into a message, and sorts by position so the output
// reads top to bottom, file by file.
func (l *loader) finish() hcl.Diagnostics {
	secrets := make([]string, 0, len(l.secrets))
	for s := range l.secrets {
		if len(strings.TrimSpace(s)) >= 4 {
			secrets = append(secrets, s)
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, d := range l.diags {
		if d.EvalContext != nil && d.Expression != nil && exprUsesSensitive(d.Expression, d.EvalContext) {
			d.EvalContext, d.Expression = nil, nil
		}
		for _, s := range secrets {
			for _, variant := range []string{s, strings.TrimSpace(s)} {
				d.Summary = strings.ReplaceAll(d.Summary, variant, "(sensitive value)")
				d.Detail = strings.ReplaceAll(d.Detail, variant, "(sensitive value)")
			}
		}
	}
	l.diags = dedupe(l.diags)
	sort.SliceStable(l.diags, func(i, j int) bool {
		a, b := l.diags[i].Subject, l.diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
	return l.diags
}

// dedupe drops repeats of a diagnostic: every instance of a for_each block
// evaluates the same expressions, and an error that does not depend on
// each.* (validity = "90x") would otherwise be reported once per instance.
// Errors that show each.* values in their context are kept, since they
// differ on screen.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	seen := map[key]bool{}
	out := diags[:0]
	for _, d := range diags {
		if d.Subject != nil && !(d.Expression != nil && d.EvalContext != nil && usesEach(d.Expression)) {
			k := key{d.Severity, d.Summary, d.Detail, *d.Subject}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, d)
	}
	return out
}

func usesEach(expr hcl.Expression) bool {
	for _, t := range expr.Variables() {
		if t.RootName() == "each" {
			return true
		}
	}
	return false
}

// exprUsesSensitive reports whether any variable expr refers to holds a
// sensitive value, at any depth.
func exprUsesSensitive(expr hcl.Expression, ctx *hcl.EvalContext) bool {
	for _, t := range expr.Variables() {
		v, diags := t.TraverseAbs(ctx)
		if diags.HasErrors() {
			// A prefix may still resolve; be safe and check the root.
			v, diags = hcl.Traversal{t[0]}.TraverseAbs(ctx)
			if diags.HasErrors() {
				continue
			}
		}
		if v.ContainsMarked() {
			return true
		}
	}
	return false
}

// recordSecret is called from env() and file(), which may run on several
// goroutines at once (see decodeCertificates).
func (l *loader) recordSecret(s string) {
	if s != "" {
		l.secretsMu.Lock()
		l.secrets[s] = struct{}{}
		l.secretsMu.Unlock()
	}
}
