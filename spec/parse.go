package spec

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// pieceSize is about how many bytes of a file parseNative parses at once.
const pieceSize = 2048

// parseNative parses a native-syntax file as hclsyntax.ParseConfig does,
// in pieces of about pieceSize bytes, each with quickParse if it can.
//
// hclsyntax lexes a whole file into one slice of tokens, about 20 times
// the size of the source, before parsing it; growing that slice is the
// largest allocation of a load, and a good part of its CPU time. So a
// large file is cut after lines that are a lone "}" (where top-level
// blocks usually end), each piece is parsed on its own, starting at its
// position in the file, and the pieces' blocks are put into one body.
// That body is the one ParseConfig returns provided every cut is between
// two top-level items: there the lexer and the parser are in their initial
// state, and the top level of a file is parsed item by item. A cut
// anywhere else (inside a block, a heredoc, a comment or a template) leaves
// the piece before it unterminated, which is a syntax error. So if any
// piece has any diagnostic, or a top-level argument (which ParseConfig
// checks for duplicates across the whole file), the file is parsed again
// whole, and the diagnostics are ParseConfig's own.
func parseNative(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	return parsePieces(src, filename, pieceSize)
}

func parsePieces(src []byte, filename string, size int) (*hcl.File, hcl.Diagnostics) {
	cuts := pieceCuts(src, size)
	if len(cuts) == 0 {
		if body, ok := quickParse(src, filename, hcl.InitialPos); ok {
			return &hcl.File{Body: body, Bytes: src, Nav: newBlockNav(body)}, nil
		}
		return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	}
	root := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}}
	var first *hclsyntax.Body
	pos := hcl.InitialPos
	start := 0
	for i := 0; i <= len(cuts); i++ {
		end := len(src)
		if i < len(cuts) {
			end = cuts[i]
		}
		body, ok := quickParse(src[start:end], filename, pos)
		if !ok {
			f, diags := hclsyntax.ParseConfig(src[start:end], filename, pos)
			body, ok = f.Body.(*hclsyntax.Body)
			if len(diags) > 0 || !ok || len(body.Attributes) > 0 {
				return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
			}
		}
		if first == nil {
			first = body
		}
		root.Blocks = append(root.Blocks, body.Blocks...)
		root.SrcRange = hcl.RangeBetween(first.SrcRange, body.SrcRange)
		root.EndRange = body.EndRange
		// Every piece but the last ends with a newline, so the next one
		// starts in column 1.
		pos = hcl.Pos{Line: pos.Line + bytes.Count(src[start:end], []byte{'\n'}), Column: 1, Byte: end}
		start = end
	}
	return &hcl.File{Body: root, Bytes: src, Nav: newBlockNav(root)}, nil
}

// pieceCuts returns where parsePieces cuts src: after each "\n}\n" that
// ends a piece of at least size bytes, except at the end of src or before
// a byte that is not ASCII (the lexer drops a byte order mark at the start
// of its input, but not in the middle of a file).
func pieceCuts(src []byte, size int) []int {
	sep := []byte("\n}\n")
	var cuts []int
	last := 0
	for from := 0; ; {
		j := bytes.Index(src[from:], sep)
		if j < 0 {
			return cuts
		}
		cut := from + j + len(sep)
		if cut >= len(src) {
			return cuts
		}
		if cut-last >= size && src[cut] < 0x80 {
			cuts = append(cuts, cut)
			last = cut
		}
		from = cut - 1 // its "\n" may start the next separator
	}
}
