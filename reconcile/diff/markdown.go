package diff

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/certctl/certctl/reconcile"
)

// MaxMarkdown is the most bytes the Markdown view writes: the length limit
// of a GitHub comment (65,536 characters) less one, which a GitLab note
// also accepts. Bytes, not characters, are counted, so a comment with
// non-ASCII text stays under the limit too.
const MaxMarkdown = 65535

// maxAffects is how many affected certificates a change lists in the
// Markdown details before it says how many more there are.
const maxAffects = 20

// Marker is the first line of the Markdown view, an HTML comment that
// renders as nothing: CI jobs find the comment they posted before by it,
// and update that one instead of adding another.
const Marker = "<!-- certctl diff -->"

type markdownView struct{ limit int }

// section is a part of the comment: an opening (a heading, a table
// header), rows, and a closing. Rows are what truncation leaves out.
type section struct {
	// what names the rows in the truncation note ("certificate changes").
	what        string
	open, close string
	rows        []string
}

// Diff writes the comment: a heading and the summary line first, HEAD's
// errors, the attention items, a table per op, the attribute changes in a
// <details> section and, with a state, the plan. When it would exceed the
// limit, rows are left out from the end and a last line counts them.
func (v markdownView) Diff(w io.Writer, d *Diff) error {
	_, err := io.WriteString(w, v.render(d))
	return err
}

func (v markdownView) render(d *Diff) string {
	var head strings.Builder
	head.WriteString(Marker + "\n### certctl diff\n\n")
	fmt.Fprintf(&head, "**%s**\n\n", mdCell(d.SummaryLine()))
	fmt.Fprintf(&head, "%s\n", mdCell(d.revLine()))
	if d.BaseBroken {
		head.WriteString("\n> [!WARNING]\n> BASE does not load: everything at HEAD shows as added.\n")
	}
	return bounded(head.String(), sections(d), v.limit)
}

// bounded joins head and the sections, leaving rows out once the next one
// would take the text past limit (with room kept for the sections'
// closings and the note that counts what was left out).
func bounded(head string, secs []section, limit int) string {
	const noteRoom = 400 // the truncation note, with a count for every section
	var b strings.Builder
	b.WriteString(head)
	left := map[string]int{}
	var order []string
	full := false
	for _, s := range secs {
		if len(s.rows) == 0 {
			continue
		}
		if !full && b.Len()+len(s.open)+len(s.rows[0])+len(s.close)+noteRoom > limit {
			full = true
		}
		if full {
			if left[s.what] == 0 {
				order = append(order, s.what)
			}
			left[s.what] += len(s.rows)
			continue
		}
		b.WriteString(s.open)
		for i, r := range s.rows {
			if b.Len()+len(r)+len(s.close)+noteRoom > limit {
				full = true
				if left[s.what] == 0 {
					order = append(order, s.what)
				}
				left[s.what] += len(s.rows) - i
				break
			}
			b.WriteString(r)
		}
		b.WriteString(s.close)
	}
	if len(order) > 0 {
		total := 0
		parts := make([]string, len(order))
		for i, what := range order {
			total += left[what]
			parts[i] = fmt.Sprintf("%s %s", commas(left[what]), what)
		}
		fmt.Fprintf(&b, "\n> [!NOTE]\n> Truncated to fit a comment: %s rows left out (%s). Run `certctl diff` for the whole diff.\n",
			commas(total), strings.Join(parts, ", "))
	}
	return b.String()
}

// sections builds the comment's parts in the order they are written.
func sections(d *Diff) []section {
	var secs []section
	if len(d.Problems) > 0 {
		s := section{what: "problems", open: "\n#### Errors at HEAD\n\n| Location | Problem |\n|---|---|\n"}
		for _, p := range d.Problems {
			msg := "**" + mdCell(p.Summary) + "**"
			if p.Severity != "error" {
				msg = "(warning) " + msg
			}
			if p.Detail != "" {
				msg += "<br>" + mdCell(p.Detail)
			}
			s.rows = append(s.rows, fmt.Sprintf("| %s | %s |\n", mdCode(orDash(p.Location())), msg))
		}
		secs = append(secs, s)
	}
	if len(d.Attention) > 0 {
		s := section{what: "attention items", open: "\n#### Needs attention\n\n| | Address | Why |\n|:-:|---|---|\n"}
		for _, a := range d.Attention {
			s.rows = append(s.rows, fmt.Sprintf("| ⚠️ | %s | **%s**: %s |\n", mdCode(a.Address), strings.ReplaceAll(a.Kind, "_", " "), mdCell(a.Message)))
		}
		secs = append(secs, s)
	}
	byOp := map[Op][]*Change{}
	var blocks []*Change
	for i := range d.Changes {
		ch := &d.Changes[i]
		if ch.Kind == "certificate" {
			byOp[ch.Op] = append(byOp[ch.Op], ch)
		} else {
			blocks = append(blocks, ch)
		}
	}
	if len(blocks) > 0 {
		s := section{what: "block changes", open: fmt.Sprintf("\n#### Other blocks (%d)\n\n| | Address | Change |\n|:-:|---|---|\n", len(blocks))}
		for _, ch := range blocks {
			s.rows = append(s.rows, fmt.Sprintf("| %s | %s | %s |\n", mdCode(ch.Op.Symbol()), mdCode(ch.Address), mdCell(ch.Reason)))
		}
		secs = append(secs, s)
	}
	for _, op := range []Op{OpAdd, OpReplace, OpUpdate, OpRemove} {
		chs := byOp[op]
		if len(chs) == 0 {
			continue
		}
		s := section{what: "certificate changes"}
		title := fmt.Sprintf("\n#### %s (%d)\n\n", opTitle(op), len(chs))
		switch op {
		case OpAdd:
			s.open = title + "| | Address | Common name | Issuer | Policy | Owner |\n|:-:|---|---|---|---|---|\n"
		case OpRemove:
			s.open = title + "| | Address | Common name | Issuer | on_remove |\n|:-:|---|---|---|---|\n"
		case OpReplace:
			s.open = title + "| | Address | Forced by | Also changed |\n|:-:|---|---|---|\n"
		default:
			s.open = title + "| | Address | Changed |\n|:-:|---|---|\n"
		}
		for _, ch := range chs {
			sym, addr := mdCode(op.Symbol()), mdCode(ch.Address)
			var row string
			switch op {
			case OpAdd:
				if ch.RenamedFrom != "" {
					addr += "<br>renamed from " + mdCode(ch.RenamedFrom) + "?"
				}
				row = fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", sym, addr, mdCell(ch.CommonName), mdCell(ch.Issuer), mdCell(ch.Policy), mdCell(ch.Owner))
			case OpRemove:
				onRemove := mdCell(ch.OnRemove)
				if ch.OnRemove == "revoke" {
					onRemove = "**revoke**"
				}
				row = fmt.Sprintf("| %s | %s | %s | %s | %s |\n", sym, addr, mdCell(ch.CommonName), mdCell(ch.Issuer), onRemove)
			case OpReplace:
				var also []string
				for _, n := range changedNames(ch.Diffs) {
					if !slices.Contains(ch.Forces, n) {
						also = append(also, n)
					}
				}
				row = fmt.Sprintf("| %s | %s | %s | %s |\n", sym, addr, mdCell(strings.Join(ch.Forces, ", ")), mdCell(orDash(strings.Join(also, ", "))))
			default:
				row = fmt.Sprintf("| %s | %s | %s |\n", sym, addr, mdCell(strings.Join(changedNames(ch.Diffs), ", ")))
			}
			s.rows = append(s.rows, row)
		}
		secs = append(secs, s)
	}
	// Details: what changed, attribute by attribute.
	details := section{what: "attribute details"}
	for i := range d.Changes {
		ch := &d.Changes[i]
		if len(ch.Diffs) == 0 && len(ch.Affects) == 0 {
			continue
		}
		var r strings.Builder
		fmt.Fprintf(&r, "- %s %s\n", mdCode(ch.Op.Symbol()), mdCode(ch.Address))
		for _, df := range ch.Diffs {
			fmt.Fprintf(&r, "  - %s: %s → %s", mdCode(df.Attribute), mdCode(df.Before), mdCode(df.After))
			if df.Forces {
				r.WriteString(" (forces replacement)")
			}
			r.WriteByte('\n')
		}
		if n := len(ch.Affects); n > 0 {
			shown := ch.Affects[:min(n, maxAffects)]
			codes := make([]string, len(shown))
			for j, a := range shown {
				codes[j] = mdCode(a)
			}
			more := ""
			if n > len(shown) {
				more = fmt.Sprintf(" and %s more", commas(n-len(shown)))
			}
			fmt.Fprintf(&r, "  - affects %s: %s%s\n", countNoun(n, "certificate"), strings.Join(codes, ", "), more)
		}
		details.rows = append(details.rows, r.String())
	}
	if len(details.rows) > 0 {
		details.open = fmt.Sprintf("\n<details><summary>Attribute changes (%d)</summary>\n\n", len(details.rows))
		details.close = "\n</details>\n"
		secs = append(secs, details)
	}
	if e := d.Effect; e != nil && len(e.Changes) == 0 {
		secs = append(secs, section{what: "plan changes", rows: []string{fmt.Sprintf("\nOn top of the state (serial %d): %s\n", e.Serial, reconcile.NoChanges)}})
	}
	if e := d.Effect; e != nil && len(e.Changes) > 0 {
		s := section{what: "plan changes",
			open: fmt.Sprintf("\n<details><summary>On top of the state (serial %d): %s %d introduced by this change.</summary>\n\n| | Address | Action | Reason | New |\n|:-:|---|---|---|:-:|\n",
				e.Serial, mdCell(e.Summary.SummaryLine()), e.Introduced),
			close: "\n</details>\n"}
		for _, ec := range e.Changes {
			ch := &ec.Change
			addr := mdCode(ch.Address)
			if ch.Target != "" {
				addr += " → " + mdCode("target."+ch.Target)
			}
			isNew := ""
			if ec.Introduced {
				isNew = "✓"
			}
			s.rows = append(s.rows, fmt.Sprintf("| %s | %s | %s | %s | %s |\n", mdCode(ch.Action.Symbol()), addr, ch.Action, mdCell(ch.Reason), isNew))
		}
		secs = append(secs, s)
	}
	return secs
}

func mdCell(s string) string { return reconcile.MarkdownCell(s) }
func mdCode(s string) string { return reconcile.MarkdownCode(s) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// commas writes n with thousands separators: 10,000.
func commas(n int) string {
	s := strconv.Itoa(n)
	if n < 0 || len(s) <= 3 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
