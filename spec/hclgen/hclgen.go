// Package hclgen writes certctl configuration files: the blocks that
// `certctl import` and `certctl init` generate, in the canonical layout
// `certctl fmt` keeps. The entry point is NewFile; File.Bytes returns the
// formatted source. It checks nothing: callers load the result with
// spec.LoadWith (Options.Extra) before they write it.
package hclgen

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// File is a configuration file being built. The zero value is not usable.
type File struct {
	f    *hclwrite.File
	body *hclwrite.Body
	n    int // blocks so far, to separate them by a blank line
}

// NewFile starts an empty file.
func NewFile() *File {
	f := hclwrite.NewEmptyFile()
	return &File{f: f, body: f.Body()}
}

// Comment adds a "# " comment line per line of text before the next block.
func (f *File) Comment(text string) {
	f.separate()
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		f.body.AppendUnstructuredTokens(hclwrite.Tokens{
			{Type: hclsyntax.TokenComment, Bytes: []byte(strings.TrimRight("# "+line, " ") + "\n")},
		})
	}
	f.n = -1 // the block that follows belongs to the comment
}

// Block appends a top-level block `KIND "LABEL"... {}`.
func (f *File) Block(kind string, labels ...string) *Block {
	f.separate()
	f.n++
	return &Block{body: f.body.AppendNewBlock(kind, labels).Body()}
}

func (f *File) separate() {
	if f.n > 0 {
		f.body.AppendNewline()
	}
	if f.n < 0 {
		f.n = 0
	}
}

// Bytes returns the file in canonical layout.
func (f *File) Bytes() []byte {
	return hclwrite.Format(f.f.Bytes())
}

// Block is the body of a block being built. Attributes appear in the order
// they are set.
type Block struct {
	body *hclwrite.Body
}

// String sets name = "v".
func (b *Block) String(name, v string) { b.body.SetAttributeValue(name, cty.StringVal(v)) }

// Int sets name = v.
func (b *Block) Int(name string, v int64) { b.body.SetAttributeValue(name, cty.NumberIntVal(v)) }

// Strings sets name = ["a", "b"]; nothing when vs is empty.
func (b *Block) Strings(name string, vs []string) {
	if len(vs) == 0 {
		return
	}
	vals := make([]cty.Value, len(vs))
	for i, v := range vs {
		vals[i] = cty.StringVal(v)
	}
	b.body.SetAttributeValue(name, cty.TupleVal(vals))
}

// Map sets name = { k = "v" } with keys in order; nothing when m is
// empty.
func (b *Block) Map(name string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	vals := make(map[string]cty.Value, len(m))
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	b.body.SetAttributeValue(name, cty.ObjectVal(vals))
}

// Ref sets name = KIND.TARGET, a reference.
func (b *Block) Ref(name, kind, target string) {
	b.body.SetAttributeTraversal(name, traversal(kind, target))
}

// Refs sets name = [KIND.A, KIND.B]; nothing when targets is empty.
func (b *Block) Refs(name, kind string, targets []string) {
	if len(targets) == 0 {
		return
	}
	elems := make([]hclwrite.Tokens, len(targets))
	for i, t := range targets {
		elems[i] = hclwrite.TokensForTraversal(traversal(kind, t))
	}
	b.body.SetAttributeRaw(name, hclwrite.TokensForTuple(elems))
}

// Expr sets name to the expression src as written, such as
// `env("TOKEN")`; src must be a valid expression.
func (b *Block) Expr(name, src string) {
	b.body.SetAttributeRaw(name, hclwrite.Tokens{{Type: hclsyntax.TokenIdent, Bytes: []byte(src)}})
}

// Block appends a nested block.
func (b *Block) Block(kind string, labels ...string) *Block {
	return &Block{body: b.body.AppendNewBlock(kind, labels).Body()}
}

func traversal(kind, target string) hcl.Traversal {
	return hcl.Traversal{hcl.TraverseRoot{Name: kind}, hcl.TraverseAttr{Name: target}}
}
