package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// quickParse parses src as hclsyntax.ParseConfig(src, filename, start)
// does, returning the same body, for the plain subset of the native syntax
// that most configuration files are written in; for anything outside it,
// it returns false and the caller parses src with hclsyntax.
//
// hclsyntax lexes a file into tokens, computing each token's column by
// grapheme clusters, and then parses the tokens: about 70 µs per
// certificate block, the largest part of loading a large configuration.
// This parser reads the bytes once and builds the same nodes directly.
//
// The subset: ASCII only, no carriage returns; "#" and "//" comments;
// blocks with quoted or bare labels, whose "{" ends its line, or is
// followed by "}" or by one argument and "}" (`a { b = "c" }`); arguments
// whose value is a quoted string without
// escapes or template sequences, true, false, null, a reference
// (a.b.c), or a tuple or object of those, with keys that are names or
// quoted strings. Top-level arguments are left to hclsyntax too.
// Everything else (numbers, operators, function calls, heredocs, ...)
// and every syntax error is declined, so a diagnostic always comes from
// hclsyntax. TestQuickParseMatches and FuzzQuickParse hold it to that.
func quickParse(src []byte, filename string, start hcl.Pos) (*hclsyntax.Body, bool) {
	q := &quickParser{src: src, filename: filename, base: start.Byte, line: start.Line, col: start.Column}
	return q.topLevel()
}

type quickParser struct {
	src      []byte
	filename string
	i        int // offset in src
	base     int // byte offset of src[0] in its file
	line     int // of src[i]
	col      int
}

func (q *quickParser) pos() hcl.Pos {
	return hcl.Pos{Line: q.line, Column: q.col, Byte: q.base + q.i}
}

func (q *quickParser) rangeFrom(start hcl.Pos) hcl.Range {
	return hcl.Range{Filename: q.filename, Start: start, End: q.pos()}
}

// peek returns the byte at the offset, or 0 at the end.
func (q *quickParser) peek() byte {
	if q.i < len(q.src) {
		return q.src[q.i]
	}
	return 0
}

// next consumes one byte.
func (q *quickParser) next() {
	if q.src[q.i] == '\n' {
		q.line++
		q.col = 1
	} else {
		q.col++
	}
	q.i++
}

// token consumes one byte and returns its range.
func (q *quickParser) token() hcl.Range {
	start := q.pos()
	q.next()
	return q.rangeFrom(start)
}

func (q *quickParser) eof() bool { return q.i >= len(q.src) }

// spaces skips blanks within a line.
func (q *quickParser) spaces() {
	for q.i < len(q.src) && (q.src[q.i] == ' ' || q.src[q.i] == '\t') {
		q.next()
	}
}

// comment reports whether a line comment starts here.
func (q *quickParser) comment() bool {
	c := q.peek()
	return c == '#' || (c == '/' && q.i+1 < len(q.src) && q.src[q.i+1] == '/')
}

// lineEnd consumes a newline, or a line comment with the newline that ends
// it (hclsyntax reads such a comment as a newline), and returns its range.
// It reports false if there is neither, or a comment runs to the end of
// the input.
func (q *quickParser) lineEnd() (hcl.Range, bool) {
	start := q.pos()
	if q.peek() == '\n' {
		q.next()
		return q.rangeFrom(start), true
	}
	if !q.comment() {
		return hcl.Range{}, false
	}
	for q.i < len(q.src) {
		c := q.src[q.i]
		if !plainByte(c) && c != '\n' {
			return hcl.Range{}, false
		}
		q.next()
		if c == '\n' {
			return q.rangeFrom(start), true
		}
	}
	return hcl.Range{}, false
}

// gaps skips blanks, newlines and comments: the gaps between the tokens
// of a tuple, where hclsyntax ignores newlines.
func (q *quickParser) gaps() bool {
	for {
		q.spaces()
		switch {
		case q.peek() == '\n' || q.comment():
			if _, ok := q.lineEnd(); !ok {
				return false
			}
		case q.peek() == '/' || q.peek() == '\r':
			return false // a /* comment */ or a carriage return
		default:
			return true
		}
	}
}

// plainByte reports whether c may appear in the subset outside of layout:
// printable ASCII or a tab.
func plainByte(c byte) bool { return c == '\t' || (c >= ' ' && c < 0x7f) }

func identStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func identByte(c byte) bool { return identStart(c) || c == '-' || (c >= '0' && c <= '9') }

// ident consumes a name. The caller has checked identStart.
func (q *quickParser) ident() (string, hcl.Range) {
	start, from := q.pos(), q.i
	for q.i < len(q.src) && identByte(q.src[q.i]) {
		q.next()
	}
	name, ok := knownNames[string(q.src[from:q.i])] // no copy to look up
	if !ok {
		name = string(q.src[from:q.i])
	}
	return name, q.rangeFrom(start)
}

// knownNames are the names of blocks, arguments and reference kinds: most
// identifiers in a file are one of them, and ident returns these strings
// instead of allocating copies.
var knownNames = func() map[string]string {
	m := map[string]string{}
	add := func(names ...string) {
		for _, n := range names {
			m[n] = n
		}
	}
	for k := range refKinds {
		add(k)
	}
	for _, sch := range []*hcl.BodySchema{rootSchema, certificateSchema} {
		for _, a := range sch.Attributes {
			add(a.Name)
		}
		for _, b := range sch.Blocks {
			add(b.Type)
		}
	}
	return m
}()

// quoted consumes a quoted string without escapes or template sequences.
// It returns the text, the range of the whole literal, and the range of
// the text.
func (q *quickParser) quoted() (string, hcl.Range, hcl.Range, bool) {
	start := q.pos()
	q.next() // "
	textStart, from := q.pos(), q.i
	for {
		c := q.peek()
		switch {
		case c == '"':
			text := q.rangeFrom(textStart)
			s := string(q.src[from:q.i])
			q.next()
			return s, q.rangeFrom(start), text, true
		case c == '\\' || c == '$' || c == '%' || !plainByte(c):
			return "", hcl.Range{}, hcl.Range{}, false
		}
		q.next()
	}
}

// topLevel parses a whole input as ParseBody(TokenEOF) does.
func (q *quickParser) topLevel() (*hclsyntax.Body, bool) {
	body := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, Blocks: hclsyntax.Blocks{}}
	// The body starts at the first token, a newline or comment included.
	q.spaces()
	var startRange hcl.Range
	first := true
	for {
		q.spaces()
		if q.eof() {
			end := q.rangeFrom(q.pos())
			if first {
				startRange = end
			}
			body.SrcRange = hcl.RangeBetween(startRange, end)
			body.EndRange = hcl.Range{Filename: q.filename, Start: end.End, End: end.End}
			return body, true
		}
		c := q.peek()
		switch {
		case c == '\n' || q.comment():
			rng, ok := q.lineEnd()
			if !ok {
				return nil, false
			}
			if first {
				startRange, first = rng, false
			}
		case identStart(c):
			name, nameRange := q.ident()
			if first {
				startRange, first = nameRange, false
			}
			blk, ok := q.block(name, nameRange)
			if !ok {
				return nil, false
			}
			body.Blocks = append(body.Blocks, blk)
		default:
			return nil, false
		}
	}
}

// block parses the rest of a block whose type has been read, through the
// newline after its "}".
func (q *quickParser) block(typ string, typeRange hcl.Range) (*hclsyntax.Block, bool) {
	blk := &hclsyntax.Block{Type: typ, TypeRange: typeRange}
	for {
		q.spaces()
		c := q.peek()
		if c == '{' {
			break
		}
		var label string
		var rng hcl.Range
		switch {
		case c == '"':
			var ok bool
			if label, rng, _, ok = q.quoted(); !ok {
				return nil, false
			}
		case identStart(c):
			label, rng = q.ident()
		default:
			return nil, false
		}
		blk.Labels = append(blk.Labels, label)
		blk.LabelRanges = append(blk.LabelRanges, rng)
	}
	blk.OpenBraceRange = q.token()
	q.spaces()
	var ok bool
	if identStart(q.peek()) {
		blk.Body, blk.CloseBraceRange, ok = q.singleLineBody()
	} else {
		blk.Body, blk.CloseBraceRange, ok = q.body(blk.OpenBraceRange)
	}
	if !ok {
		return nil, false
	}
	q.spaces()
	if !q.eof() {
		if _, ok := q.lineEnd(); !ok {
			return nil, false
		}
	}
	return blk, true
}

// body parses a block's body after its "{", through its "}", and returns
// the range of the "}".
func (q *quickParser) body(open hcl.Range) (*hclsyntax.Body, hcl.Range, bool) {
	body := &hclsyntax.Body{Attributes: make(hclsyntax.Attributes, 8), Blocks: hclsyntax.Blocks{}}
	for {
		q.spaces()
		c := q.peek()
		switch {
		case c == '}':
			end := q.token()
			body.SrcRange = hcl.RangeBetween(open, end)
			body.EndRange = hcl.Range{Filename: q.filename, Start: end.End, End: end.End}
			return body, end, true
		case c == '\n' || q.comment():
			if _, ok := q.lineEnd(); !ok {
				return nil, hcl.Range{}, false
			}
		case identStart(c):
			name, nameRange := q.ident()
			q.spaces()
			if q.peek() != '=' {
				blk, ok := q.block(name, nameRange)
				if !ok {
					return nil, hcl.Range{}, false
				}
				body.Blocks = append(body.Blocks, blk)
				continue
			}
			if q.i+1 < len(q.src) && q.src[q.i+1] == '=' {
				return nil, hcl.Range{}, false // ==
			}
			attr, ok := q.attribute(name, nameRange)
			if !ok || body.Attributes[name] != nil {
				return nil, hcl.Range{}, false
			}
			body.Attributes[name] = attr
		default:
			return nil, hcl.Range{}, false
		}
	}
}

// singleLineBody parses the body of a block written on one line, like
// `a { b = "c" }`: one argument, then "}".
func (q *quickParser) singleLineBody() (*hclsyntax.Body, hcl.Range, bool) {
	name, nameRange := q.ident()
	q.spaces()
	if q.peek() != '=' || (q.i+1 < len(q.src) && q.src[q.i+1] == '=') {
		return nil, hcl.Range{}, false
	}
	eq := q.token()
	q.spaces()
	expr, ok := q.expr()
	if !ok {
		return nil, hcl.Range{}, false
	}
	q.spaces()
	if q.peek() != '}' {
		return nil, hcl.Range{}, false
	}
	attr := &hclsyntax.Attribute{
		Name: name, Expr: expr,
		SrcRange:  hcl.RangeBetween(nameRange, expr.Range()),
		NameRange: nameRange, EqualsRange: eq,
	}
	body := &hclsyntax.Body{
		Attributes: hclsyntax.Attributes{name: attr},
		SrcRange:   attr.SrcRange,
		EndRange:   hcl.Range{Filename: q.filename, Start: attr.SrcRange.End, End: attr.SrcRange.End},
	}
	return body, q.token(), true
}

// attribute parses the rest of an argument from its "=" through the end
// of its line.
func (q *quickParser) attribute(name string, nameRange hcl.Range) (*hclsyntax.Attribute, bool) {
	eq := q.token()
	q.spaces()
	expr, ok := q.expr()
	if !ok {
		return nil, false
	}
	q.spaces()
	if _, ok := q.lineEnd(); !ok {
		return nil, false
	}
	return &hclsyntax.Attribute{
		Name: name, Expr: expr,
		SrcRange:  hcl.RangeBetween(nameRange, expr.Range()),
		NameRange: nameRange, EqualsRange: eq,
	}, true
}

// expr parses one value of the subset. What may follow it is the
// caller's to check.
func (q *quickParser) expr() (hclsyntax.Expression, bool) {
	c := q.peek()
	switch {
	case c == '"':
		return q.template()
	case c == '[':
		return q.tuple()
	case c == '{':
		return q.object()
	case identStart(c):
		name, rng := q.ident()
		switch name {
		case "true":
			return &hclsyntax.LiteralValueExpr{Val: cty.True, SrcRange: rng}, true
		case "false":
			return &hclsyntax.LiteralValueExpr{Val: cty.False, SrcRange: rng}, true
		case "null":
			return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: rng}, true
		}
		trav := make(hcl.Traversal, 1, 2) // most references are KIND.NAME
		trav[0] = hcl.TraverseRoot{Name: name, SrcRange: rng}
		full := rng
		for q.peek() == '.' && q.i+1 < len(q.src) && identStart(q.src[q.i+1]) {
			dot := q.token()
			attr, attrRange := q.ident()
			step := hcl.RangeBetween(dot, attrRange)
			trav = append(trav, hcl.TraverseAttr{Name: attr, SrcRange: step})
			full = hcl.RangeBetween(full, step)
		}
		// A following "(" (a call), "[" or "." is more than a reference:
		// the callers' terminator checks decline it.
		return &hclsyntax.ScopeTraversalExpr{Traversal: trav, SrcRange: full}, true
	}
	return nil, false
}

// template parses a quoted string as hclsyntax does outside of labels: a
// template of one literal part.
func (q *quickParser) template() (hclsyntax.Expression, bool) {
	s, whole, text, ok := q.quoted()
	if !ok {
		return nil, false
	}
	if s == "" {
		// hclsyntax places an empty literal after the closing quote.
		text = hcl.Range{Filename: q.filename, Start: whole.End, End: whole.End}
	}
	return &hclsyntax.TemplateExpr{
		Parts:    []hclsyntax.Expression{&hclsyntax.LiteralValueExpr{Val: cty.StringVal(s), SrcRange: text}},
		SrcRange: whole,
	}, true
}

func (q *quickParser) tuple() (hclsyntax.Expression, bool) {
	open := q.token()
	var exprs []hclsyntax.Expression
	for {
		if !q.gaps() {
			return nil, false
		}
		if q.peek() == ']' {
			break
		}
		e, ok := q.expr()
		if !ok || !q.gaps() {
			return nil, false
		}
		exprs = append(exprs, e)
		if q.peek() == ']' {
			break
		}
		if q.peek() != ',' {
			return nil, false
		}
		q.next()
	}
	close := q.token()
	return &hclsyntax.TupleConsExpr{Exprs: exprs, SrcRange: hcl.RangeBetween(open, close), OpenRange: open}, true
}

func (q *quickParser) object() (hclsyntax.Expression, bool) {
	open := q.token()
	var items []hclsyntax.ObjectConsItem
	for {
		// Newlines separate items, and blank lines may come between them.
		q.spaces()
		if q.peek() == '\n' || q.comment() {
			if _, ok := q.lineEnd(); !ok {
				return nil, false
			}
			continue
		}
		if q.peek() == '}' {
			break
		}
		var key hclsyntax.Expression
		switch c := q.peek(); {
		case c == '"':
			k, ok := q.template()
			if !ok {
				return nil, false
			}
			key = k
		case identStart(c):
			name, rng := q.ident()
			if name == "true" || name == "false" || name == "null" || q.peek() == '.' {
				return nil, false
			}
			key = &hclsyntax.ScopeTraversalExpr{Traversal: hcl.Traversal{hcl.TraverseRoot{Name: name, SrcRange: rng}}, SrcRange: rng}
		default:
			return nil, false
		}
		q.spaces()
		if q.peek() != '=' || (q.i+1 < len(q.src) && q.src[q.i+1] == '=') {
			return nil, false
		}
		q.next()
		q.spaces()
		value, ok := q.expr()
		if !ok {
			return nil, false
		}
		items = append(items, hclsyntax.ObjectConsItem{KeyExpr: &hclsyntax.ObjectConsKeyExpr{Wrapped: key}, ValueExpr: value})
		q.spaces()
		switch {
		case q.peek() == '}':
		case q.peek() == ',':
			q.next()
		case q.peek() == '\n' || q.comment():
			if _, ok := q.lineEnd(); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	close := q.token()
	return &hclsyntax.ObjectConsExpr{Items: items, SrcRange: hcl.RangeBetween(open, close), OpenRange: open}, true
}
