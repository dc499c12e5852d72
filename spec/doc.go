// Package spec reads a certctl configuration directory into a typed,
// validated Config. The entry point is Load (LoadWith for a file system other
// than the OS's, such as a git revision, or for variable overrides):
//
//	cfg, parser, diags := spec.Load(dir)
//	if diags.HasErrors() {
//		parser.WriteDiagnostics(os.Stderr, diags, color)
//		return 1
//	}
//
// Every problem is an hcl.Diagnostic whose Subject points at the offending
// expression, with the file name relative to the directory ("main.hcl"), so
// the text writer shows file:line:col and the source line.
//
// Loading runs in phases: parse every *.hcl and *.hcl.json file (stop on
// syntax errors); split each file's top level into blocks; evaluate
// variables and locals; decode the blocks kind by kind in dependency order
// (notifiers, teams, owners, agents, targets, policies, issuers,
// certificates), so that every reference is a map lookup into kinds already
// merged; finally check certificates against their policy and issuer.
//
// For speed on large configurations, native-syntax files are parsed in
// pieces, and a piece in the plain subset most files are written in is
// parsed by quickParse into the very tree hclsyntax would build (see
// quickparse.go; the rest goes to hclsyntax). A certificate whose arguments are
// constants (no var.*, local.* or each.*) has its own arguments decoded as
// soon as its file is parsed, and the file's syntax tree is then dropped;
// its diagnostics are held back and recorded in the phase above, so the
// result is the same as decoding it there.
package spec
