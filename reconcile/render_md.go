package reconcile

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// markdownView renders for a pull-request comment.
type markdownView struct{}

var mdEscaper = strings.NewReplacer("|", `\|`, "\r", " ", "\n", " ", "<", "&lt;", ">", "&gt;")

// mdCell makes s safe inside a table cell.
func mdCell(s string) string { return mdEscaper.Replace(s) }

// mdCode puts s in a code span inside a table cell.
func mdCode(s string) string {
	s = strings.NewReplacer("|", `\|`, "\r", " ", "\n", " ").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// Plan writes a heading, the summary line, a table of changes and the
// notes, or the fixed NoChanges text.
func (markdownView) Plan(w io.Writer, p *ActionPlan) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "### certctl plan")
	fmt.Fprintln(bw)
	if !p.HasChanges() {
		fmt.Fprintln(bw, NoChanges)
	} else {
		fmt.Fprintf(bw, "**%s**\n\n", p.Summary.SummaryLine())
		fmt.Fprintln(bw, "| | Address | Action | Reason |")
		fmt.Fprintln(bw, "|:-:|---|---|---|")
		for i := range p.Changes {
			ch := &p.Changes[i]
			addr := mdCode(ch.Address)
			if ch.Target != "" {
				addr += " → " + mdCode("target."+ch.Target)
			}
			reason := mdCell(ch.Reason)
			for _, d := range ch.Diffs {
				reason += "<br>" + mdCode(d.Attribute) + ": " + mdCode(d.Before) + " → " + mdCode(d.After)
				if d.Forces {
					reason += " (forces replacement)"
				}
			}
			if len(ch.Targets) > 0 {
				reason += "<br>then deploys to " + mdCell(strings.Join(ch.Targets, ", "))
			}
			if len(ch.Notifiers) > 0 {
				reason += "<br>sends " + mdCell(ch.Event) + " to " + mdCell(notifierList(ch.Notifiers))
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", mdCode(ch.Action.Symbol()), addr, ch.Action, reason)
		}
	}
	var wait, agent, limited []Note
	for _, n := range p.Notes {
		switch n.Kind {
		case NoteAwaitingAgent, NoteAwaitingCSR:
			agent = append(agent, n)
		case NoteRateLimit:
			limited = append(limited, n)
		default:
			wait = append(wait, n)
		}
	}
	markdownNotes(bw, "**Rate limits** (apply defers the excess to a later run):", limited)
	markdownNotes(bw, "**Needs attention** (not retried by this plan):", wait)
	if len(agent) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "**Awaiting agents** (apply does not deploy these):")
		fmt.Fprintln(bw)
		for _, n := range agent {
			if n.Kind == NoteAwaitingCSR {
				fmt.Fprintf(bw, "- %s awaiting CSR (agent %s): %s\n", mdCode(n.Address), mdCell(n.Agent), mdCell(n.Message))
				continue
			}
			if n.Error != "" {
				fmt.Fprintf(bw, "- %s → %s (agent %s): last deployment failed: %s\n", mdCode(n.Address), mdCode("target."+n.Target), mdCell(n.Agent), mdCell(n.Error))
				continue
			}
			fmt.Fprintf(bw, "- %s → %s (agent %s)\n", mdCode(n.Address), mdCode("target."+n.Target), mdCell(n.Agent))
		}
	}
	markdownQueue(bw, &p.Notifications)
	return bw.Flush()
}

// Show writes the inventory as a table.
func (markdownView) Show(w io.Writer, certs []CertStatus) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "| Name | Status | Serial | Not after | Renews at | Issuer | Owner | Team |")
	fmt.Fprintln(bw, "|---|---|---|---|---|---|---|---|")
	for _, c := range certs {
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			mdCode(c.Name), mdCell(c.Status), mdCell(orDash(c.Serial)), showTime(c.NotAfter), showTime(c.RenewsAt),
			mdCell(orDash(c.Issuer)), mdCell(orDash(c.Owner)), mdCell(orDash(c.Team)))
	}
	return bw.Flush()
}

// markdownNotes writes notes as a list under title, if there are any.
func markdownNotes(bw io.Writer, title string, notes []Note) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, title)
	fmt.Fprintln(bw)
	for _, n := range notes {
		fmt.Fprintf(bw, "- %s: %s\n", mdCode(n.Address), mdCell(n.Message))
	}
}
