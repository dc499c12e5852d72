package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// pieceInputs are files that tempt parsePieces to cut where it must not.
var pieceInputs = []string{
	"a {\n  x = 1\n}\nb {\n}\n",
	"a {\n  x = <<EOT\nfoo\n}\nEOT\n}\nb {\n}\n",
	"a {\n  x = <<-EOT\n  }\n  EOT\n}\nb {\n}\n",
	"/* a {\n}\nb {\n*/\nc {\n}\nd {\n}\n",
	"a {\n}\n/*\n}\n*/\nb {\n}\n",
	"a {\n x = \"${\n}\n\"\n}\nb {\n}\n",
	"a {\n x = \"${jsonencode({\n}\n)}\"\n}\nb {\n}\n",
	"a {\n  b {\n}\n  x = 1\n}\nc {\n}\n",
	"a {\n x = {\n}\n}\nb {\n}\n",
	"a {\n x = [\n}\n]\n}\nb {\n}\n",
	"x = {\n}\nx = {\n}\ny = 1\n",
	"a {\n}\nx = 1\nb {\n}\nx = 2\n",
	"a {\n}\n\xef\xbb\xbfb {\n}\n",
	"\xef\xbb\xbfa {\n}\nb {\n}\n",
	"a {\r\n}\r\nb {\r\n}\r\n",
	"a {\n}\n\n\n# comment\n// comment\nb {\n}\n\n",
	"a {\n}\n}\nb {\n}\n",
	"a {\n}\nb {\n}",
	"a {\n}\n  b {\n}\n",
	"a \"x\" \"y\" {\n  c = d.e[0]\n}\nb {\n  f = [for x in y : x if x]\n}\nc {\n  g = \"%{ for x in y }\n}\n%{ endfor }\"\n}\nd {\n}\n",
	"a {\n  x = \"caf\u00e9\"\n}\n\u00e9 {\n}\nb {\n}\n",
	"a {\n  x = 1 /* c\n}\nb {\n */\n}\nc {\n}\n",
}

// checkPieces checks that parsePieces gives what ParseConfig gives.
func checkPieces(t *testing.T, name string, src []byte, size int) {
	t.Helper()
	want, wantDiags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	got, gotDiags := parsePieces(src, name, size)
	if !reflect.DeepEqual(got.Body, want.Body) || !reflect.DeepEqual(gotDiags, wantDiags) {
		t.Errorf("parsePieces(%q, %d) differs from ParseConfig:\ngot  %d blocks, %v\nwant %d blocks, %v",
			src, size, len(got.Body.(*hclsyntax.Body).Blocks), gotDiags, len(want.Body.(*hclsyntax.Body).Blocks), wantDiags)
	}
	if !reflect.DeepEqual(got.Bytes, want.Bytes) {
		t.Errorf("parsePieces(%q, %d): Bytes differ", src, size)
	}
}

func TestParsePieces(t *testing.T) {
	for _, src := range pieceInputs {
		for _, size := range []int{1, 8, pieceSize} {
			checkPieces(t, "main.hcl", []byte(src), size)
		}
	}
	files, err := filepath.Glob("testdata/*/*/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	dir := t.TempDir()
	writeBenchConfig(t, dir, 10, 100)
	writeLiteralBenchConfig(t, dir, 10, 100)
	more, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	for _, name := range append(files, more...) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 100, pieceSize} {
			checkPieces(t, name, src, size)
		}
	}
	// And the fixtures with a line "}" put before each line in turn.
	for _, name := range files {
		src, _ := os.ReadFile(name)
		lines := strings.SplitAfter(string(src), "\n")
		for i := range lines {
			spliced := strings.Join(lines[:i], "") + "}\n" + strings.Join(lines[i:], "")
			checkPieces(t, name, []byte(spliced), 1)
		}
	}
}

func FuzzParsePieces(f *testing.F) {
	for _, src := range pieceInputs {
		f.Add([]byte(src))
	}
	files, _ := filepath.Glob("testdata/*/*/*.hcl")
	for _, name := range files {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkPieces(t, "main.hcl", src, 1)
	})
}
