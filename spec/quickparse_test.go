package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// quickInputs are inputs at the edges of quickParse's subset. Those marked
// accept must be parsed by it; the rest may be declined, but whatever it
// parses must equal hclsyntax's tree.
var quickInputs = []struct {
	src    string
	accept bool
}{
	{"", true},
	{"\n\n", true},
	{"# only a comment\n", true},
	{"team \"platform\" {}\n", true},
	{"team \"platform\" {}", true},
	{"team platform {\n}\n", true},
	{"a \"x\" \"y\" {\n  b = \"\"\n  c = \"text with spaces\"\n}\n", true},
	{"a {\n  b = c.d.e\n  f = true\n  g = false\n  h = null\n}\n", true},
	{"a {\n  b = [\"x\", \"y\"]\n  c = []\n  d = [\n    \"x\", # one\n    // two\n    \"y\",\n  ]\n}\n", true},
	{"a {\n  b = { env = \"prod\", \"quoted key\" = \"v\" }\n  c = {}\n  d = {\n    x = \"1\"\n\n    y = [a.b, \"z\"]  # trailing\n    z = { n = null }\n  }\n}\n", true},
	{"a {\n  b {\n    c = \"d\"\n  }\n  e \"f\" {}\n}\n", true},
	{"\t# tabs\na\t{\n\tb\t=\t\"c\"\n}\n", true},
	{"a {} # after\nb {\n} // after\n", true},
	{"a-b_c \"x\" {\n  d-e = f_g.h-i\n}\n", true},
	{"_a {\n}\n", false},
	{"a {\n  b = \"c\" # no newline at the end", false},
	{"a {\n  b = \"c\"\n}\n# comment without newline", false},
	{"a { b = \"c\" }\n", true},
	{"a {b=[\"c\", d.e]}\n", true},
	{"a { b = \"c\", d = \"e\" }\n", false},
	{"a { b = \"c\"\n}\n", false},
	{"a { b { } }\n", false},
	{"a {\n  b = 1\n}\n", false},
	{"a {\n  b = \"${c}\"\n  d = \"e\\n\"\n}\n", false},
	{"a {\n  b = f(c)\n  d = e[0]\n}\n", false},
	{"a {\n  b = c.d + e\n}\n", false},
	{"a {\n  b = c.d == e\n}\n", false},
	{"a {\n  b = c\n  .d\n}\n", false},
	{"a {\n  b = [c\n  .d]\n}\n", false},
	{"a {\n  b = { c = d, e }\n}\n", false},
	{"a {\n  b = { (c) = d }\n}\n", false},
	{"a {\n  b = { c: d }\n}\n", false},
	{"a {\n  b = \"c\"\n  b = \"d\"\n}\n", false},
	{"a {\n  b = \"c\"\n}}\n", false},
	{"a {\n  b = \"caf\u00e9\"\n}\n", false},
	{"a {\r\n}\r\n", false},
	{"\xef\xbb\xbfa {\n}\n", false},
	{"x = \"top-level\"\n", false},
	{"a {\n  /* block comment */\n}\n", false},
	{"a {\n  b = <<EOT\nc\nEOT\n}\n", false},
	{"a {\n  b = [for x in y : x]\n  c = {for k, v in m : k => v}\n}\n", false},
	{"a {\n  b = true.c\n}\n", false},
	{"a {\n  b = \"c\"", false},
	{"a {", false},
	{"a \"b\"\n{\n}\n", false},
}

// checkQuick checks that what quickParse parses, hclsyntax parses the
// same, with no diagnostics, and reports whether quickParse parsed it.
func checkQuick(t *testing.T, name string, src []byte, start hcl.Pos) bool {
	t.Helper()
	got, ok := quickParse(src, name, start)
	if !ok {
		return false
	}
	want, diags := hclsyntax.ParseConfig(src, name, start)
	if len(diags) > 0 {
		t.Errorf("quickParse(%q) accepted what hclsyntax rejects: %v", src, diags)
		return true
	}
	if !reflect.DeepEqual(got, want.Body) {
		diff := cmp.Diff(want.Body, got, cmp.Exporter(func(reflect.Type) bool { return true }))
		t.Errorf("quickParse(%q) differs from hclsyntax.ParseConfig (-hclsyntax +quickParse):\n%s", src, diff)
	}
	return true
}

func TestQuickParseMatches(t *testing.T) {
	for _, in := range quickInputs {
		if ok := checkQuick(t, "main.hcl", []byte(in.src), hcl.InitialPos); in.accept && !ok {
			t.Errorf("quickParse declined %q", in.src)
		}
		// Positions carry on from where the input starts in its file.
		checkQuick(t, "main.hcl", []byte(in.src), hcl.Pos{Line: 7, Column: 1, Byte: 123})
	}
	for _, in := range pieceInputs {
		checkQuick(t, "main.hcl", []byte(in), hcl.InitialPos)
	}
	files, _ := filepath.Glob("testdata/*/*/*.hcl")
	examples, _ := filepath.Glob("../examples/*/*.hcl")
	if len(files) == 0 || len(examples) == 0 {
		t.Fatal("no fixtures or examples")
	}
	accepted := 0
	for _, name := range append(files, examples...) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if checkQuick(t, name, src, hcl.InitialPos) {
			accepted++
		}
	}
	t.Logf("quickParse parsed %d of %d fixture and example files", accepted, len(files)+len(examples))
	// Certificates written as literals, as certctl-bench generates them,
	// are in the subset: that is what it is for.
	dir := t.TempDir()
	writeLiteralBenchConfig(t, dir, 2, 20)
	generated, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	for _, name := range generated {
		src, _ := os.ReadFile(name)
		if !checkQuick(t, name, src, hcl.InitialPos) {
			t.Errorf("quickParse declined the generated %s:\n%s", filepath.Base(name), src)
		}
	}
}

func FuzzQuickParse(f *testing.F) {
	for _, in := range quickInputs {
		f.Add([]byte(in.src))
	}
	files, _ := filepath.Glob("testdata/*/*/*.hcl")
	for _, name := range files {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkQuick(t, "main.hcl", src, hcl.InitialPos)
	})
}
