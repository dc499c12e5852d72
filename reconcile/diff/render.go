package diff

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/certctl/certctl/reconcile"
)

// NoChanges is the fixed text of a diff without changes.
const NoChanges = "No changes. The revisions declare the same certificates."

// View renders a diff.
type View interface {
	Diff(w io.Writer, d *Diff) error
}

// NewView returns the view for o: text, JSON or Markdown (bounded to
// MaxMarkdown bytes). This is the one place a format is chosen.
func NewView(o reconcile.ViewOptions) View {
	switch o.Format {
	case reconcile.FormatJSON:
		return jsonView{}
	case reconcile.FormatMarkdown:
		return markdownView{limit: MaxMarkdown}
	default:
		return textView{}
	}
}

// SummaryLine is the diff's fixed first line:
// "Diff: 1 certificate to add, 0 to replace, 2 to update, 0 to remove; 1 other block changed."
// followed, when there are some, by "; 2 need attention" and HEAD's
// errors.
func (d *Diff) SummaryLine() string {
	s := d.Summary
	if d.Head.broken() {
		return fmt.Sprintf("Diff: HEAD does not load (%s).", countNoun(s.Errors, "error"))
	}
	var line string
	if len(d.Changes) == 0 {
		line = NoChanges
		if d.Effect != nil && d.Effect.Introduced > 0 {
			line = fmt.Sprintf("No configuration changes; %d plan changes differ from BASE.", d.Effect.Introduced)
		}
		return line
	}
	line = fmt.Sprintf("Diff: %s to add, %d to replace, %d to update, %d to remove; %s changed",
		countNoun(s.Add, "certificate"), s.Replace, s.Update, s.Remove, countNoun(s.Blocks, "other block"))
	if s.Attention > 0 {
		line += fmt.Sprintf("; %d need attention", s.Attention)
	}
	return line + "."
}

// revLine is "main (1a2b3c4) → feature (5d6e7f8)".
func (d *Diff) revLine() string {
	rev := func(r Revision) string {
		if r.SHA == "" {
			return r.Rev
		}
		return fmt.Sprintf("%s (%s)", r.Rev, shortSHA(r.SHA))
	}
	return rev(d.Base) + " → " + rev(d.Head)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// opTitle is how sections and tables name an op's certificates.
func opTitle(o Op) string {
	switch o {
	case OpAdd:
		return "Certificates to add"
	case OpReplace:
		return "Certificates to replace"
	case OpUpdate:
		return "Certificates to update"
	}
	return "Certificates to remove"
}

type textView struct{}

// Diff writes the diff for a terminal: revisions, HEAD's problems, the
// attention items, one block per change, the state's plan, then the
// summary line.
func (textView) Diff(w io.Writer, d *Diff) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "certctl diff %s\n", d.revLine())
	if d.BaseBroken {
		fmt.Fprintln(bw, "\nWarning: BASE does not load; everything at HEAD shows as added.")
	}
	if len(d.Problems) > 0 {
		fmt.Fprintln(bw)
		for _, p := range d.Problems {
			loc := p.Location()
			if loc != "" {
				loc += ": "
			}
			fmt.Fprintf(bw, "%s: %s%s\n", capitalize(p.Severity), loc, p.Summary)
			if p.Detail != "" {
				fmt.Fprintf(bw, "  %s\n", oneLine(p.Detail))
			}
		}
	}
	if len(d.Attention) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "Needs attention:")
		for _, a := range d.Attention {
			fmt.Fprintf(bw, "  ! %s: %s [%s]\n", a.Address, a.Message, strings.ReplaceAll(a.Kind, "_", " "))
		}
	}
	if len(d.Changes) > 0 {
		fmt.Fprintln(bw)
		for i := range d.Changes {
			ch := &d.Changes[i]
			fmt.Fprintf(bw, "  %3s %s\n", ch.Op.Symbol(), ch.Address)
			fmt.Fprintf(bw, "        %s\n", oneLine(ch.Reason))
			for _, df := range ch.Diffs {
				line := fmt.Sprintf("%s: %s -> %s", df.Attribute, df.Before, df.After)
				if df.Forces {
					line += " # forces replacement"
				}
				fmt.Fprintf(bw, "        %s\n", line)
			}
			if len(ch.Affects) > 0 {
				fmt.Fprintf(bw, "        affects: %s\n", strings.Join(ch.Affects, ", "))
			}
		}
	}
	if e := d.Effect; e != nil {
		fmt.Fprintln(bw)
		line := reconcile.NoChanges
		if len(e.Changes) > 0 {
			line = e.Summary.SummaryLine()
		}
		fmt.Fprintf(bw, "On top of the state (serial %d): %s\n", e.Serial, line)
		for _, ec := range e.Changes {
			ch := &ec.Change
			mark := "  (also without this change)"
			if ec.Introduced {
				mark = ""
			}
			addr := ch.Address
			if ch.Target != "" {
				addr += " -> target." + ch.Target
			}
			fmt.Fprintf(bw, "  %3s %s: %s%s\n", ch.Action.Symbol(), addr, oneLine(ch.Reason), mark)
		}
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, d.SummaryLine())
	return bw.Flush()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

type jsonView struct{}

// revDoc is one revision in the JSON document.
type revDoc struct {
	Rev   string `json:"rev"`
	SHA   string `json:"sha,omitempty"`
	Loads bool   `json:"loads"`
}

// diffDoc is the JSON form of a diff (schemas/diff.schema.json).
type diffDoc struct {
	FormatVersion string      `json:"format_version"`
	Base          revDoc      `json:"base"`
	Head          revDoc      `json:"head"`
	SummaryLine   string      `json:"summary_line"`
	Summary       Summary     `json:"summary"`
	Changes       []Change    `json:"changes"`
	Attention     []Attention `json:"attention"`
	Problems      []Problem   `json:"problems"`
	State         *Effect     `json:"state,omitempty"`
}

// Diff writes the diff as one indented JSON document.
func (jsonView) Diff(w io.Writer, d *Diff) error {
	doc := diffDoc{
		FormatVersion: reconcile.FormatVersion,
		Base:          revDoc{Rev: d.Base.Rev, SHA: d.Base.SHA, Loads: !d.BaseBroken},
		Head:          revDoc{Rev: d.Head.Rev, SHA: d.Head.SHA, Loads: !d.Head.broken()},
		SummaryLine:   d.SummaryLine(),
		Summary:       d.Summary,
		Changes:       nonNil(d.Changes),
		Attention:     nonNil(d.Attention),
		Problems:      nonNil(d.Problems),
		State:         d.Effect,
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
