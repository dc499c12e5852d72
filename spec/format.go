package spec

import "github.com/hashicorp/hcl/v2/hclwrite"

// Format returns src in canonical HCL layout (what `certctl fmt` writes).
// It only reflows tokens: it never fails, and it does not check that src is
// valid; parse first to reject syntax errors. JSON files are not formatted.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}
