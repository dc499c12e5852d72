package reconcile

import (
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// CompareCertificates is what changes when certificate before, declared
// under beforeCfg, becomes after, declared under afterCfg: the attributes
// that force a new certificate (in the order Plan names them) and a diff
// for each, followed by the metadata diffs Plan reports as an update
// (owner, team, on_remove, labels.KEY). It judges exactly as Plan does
// against a certificate issued from before, so a reviewer of two
// configurations sees the plan's own reasons. Neither argument may be nil.
func CompareCertificates(before *spec.Certificate, beforeCfg *spec.Config, after *spec.Certificate, afterCfg *spec.Config) ([]string, []AttrDiff) {
	names, diffs := forces(specAttrs(after, afterCfg), specAttrs(before, beforeCfg))
	meta := metaDiffs(after, &state.Certificate{Owner: before.Owner, Team: before.Team, OnRemove: before.OnRemove, Labels: before.Labels})
	return names, append(diffs, meta...)
}

// MarkdownCell makes s safe inside a Markdown table cell, as the plan's
// Markdown view writes cells.
func MarkdownCell(s string) string { return mdCell(s) }

// MarkdownCode puts s in a code span that is safe inside a table cell.
func MarkdownCode(s string) string { return mdCode(s) }

// Quote renders a string value as diffs show it: "value".
func Quote(s string) string { return quote(s) }

// QuoteList renders a list value as diffs show it: ["a", "b"].
func QuoteList(ss []string) string { return quoteList(ss) }
