package reconcile

import (
	"io"
)

// FormatVersion is the "format_version" of every JSON document this package
// writes (plan, saved plan, show, apply). Its major number changes only
// when a field is removed or changes meaning.
const FormatVersion = "1.0"

// Format is an output format.
type Format int

// Formats.
const (
	FormatText Format = iota
	FormatJSON
	FormatMarkdown
)

// ViewOptions choose a view. Color turns on ANSI colour in text output; the
// caller decides it (a TTY, and NO_COLOR unset).
type ViewOptions struct {
	Format Format
	Color  bool
}

// PlanView renders a plan.
type PlanView interface {
	Plan(w io.Writer, p *ActionPlan) error
}

// ShowView renders an inventory (see Inventory).
type ShowView interface {
	Show(w io.Writer, certs []CertStatus) error
}

// ApplyView renders the result of an apply.
type ApplyView interface {
	Result(w io.Writer, r *Result) error
}

// NewPlanView returns the plan view for o: text, JSON or Markdown. This is
// the one place a format is chosen.
func NewPlanView(o ViewOptions) PlanView {
	switch o.Format {
	case FormatJSON:
		return jsonView{}
	case FormatMarkdown:
		return markdownView{}
	default:
		return textView{color: o.Color}
	}
}

// NewShowView returns the show view for o (Markdown shows a table).
func NewShowView(o ViewOptions) ShowView {
	switch o.Format {
	case FormatJSON:
		return jsonView{}
	case FormatMarkdown:
		return markdownView{}
	default:
		return textView{color: o.Color}
	}
}

// NewApplyView returns the apply view for o (Markdown is text).
func NewApplyView(o ViewOptions) ApplyView {
	if o.Format == FormatJSON {
		return jsonView{}
	}
	return textView{color: o.Color}
}
