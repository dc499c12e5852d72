package reconcile

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// NoChanges is what the text view prints for a plan with no changes.
const NoChanges = "No changes. Certificates match the configuration."

// ANSI styles used when colour is on.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

var actionColors = [...]string{
	ActionCreate:  ansiGreen,
	ActionRenew:   ansiCyan,
	ActionReplace: ansiYellow,
	ActionUpdate:  ansiYellow,
	ActionDeploy:  ansiBlue,
	ActionForget:  ansiRed,
	ActionNotify:  ansiMagenta,
	ActionRevoke:  ansiRed,
}

type textView struct{ color bool }

func (v textView) paint(style, s string) string {
	if !v.color || style == "" {
		return s
	}
	return style + s + ansiReset
}

// SummaryLine is the plan's fixed summary:
// "Plan: 3 to create, 0 to renew, 0 to replace, 0 to update, 1 to deploy, 0 to forget."
// Notify changes are counted only when there are some (", 1 to notify"),
// so that the line of a plan without them stays as it always was.
func (s Summary) SummaryLine() string {
	notify := ""
	if s.Notify > 0 {
		notify = fmt.Sprintf(", %d to notify", s.Notify)
	}
	if s.Revoke > 0 { // likewise
		notify += fmt.Sprintf(", %d to revoke", s.Revoke)
	}
	return fmt.Sprintf("Plan: %d to create, %d to renew, %d to replace, %d to update, %d to deploy, %d to forget%s.",
		s.Create, s.Renew, s.Replace, s.Update, s.Deploy, s.Forget, notify)
}

// Plan writes the plan for a terminal: a legend of the symbols used, one
// block per change (symbol, address, reason, diffs), notes, then the
// summary line; or the fixed NoChanges text.
func (v textView) Plan(w io.Writer, p *ActionPlan) error {
	bw := bufio.NewWriter(w)
	if p.HasChanges() {
		var used [len(actionNames)]bool
		for i := range p.Changes {
			used[p.Changes[i].Action] = true
		}
		fmt.Fprintln(bw, "Certificate actions are shown with these symbols:")
		for _, a := range Actions {
			if used[a] {
				fmt.Fprintf(bw, "  %s %s\n", v.paint(actionColors[a], fmt.Sprintf("%3s", a.Symbol())), a)
			}
		}
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "certctl will perform the following actions:")
		for i := range p.Changes {
			fmt.Fprintln(bw)
			v.change(bw, &p.Changes[i])
		}
		fmt.Fprintln(bw)
	}
	v.notes(bw, p.Notes)
	if p.HasChanges() {
		fmt.Fprintln(bw, v.paint(ansiBold, p.Summary.SummaryLine()))
	} else {
		fmt.Fprintln(bw, v.paint(ansiGreen, NoChanges))
	}
	v.queue(bw, &p.Notifications)
	return bw.Flush()
}

func (v textView) change(w io.Writer, ch *Change) {
	head := v.paint(ansiBold, ch.Address)
	if ch.Target != "" {
		head += " -> " + v.paint(ansiBold, "target."+ch.Target)
	}
	fmt.Fprintf(w, "  %s %s\n", v.paint(actionColors[ch.Action], fmt.Sprintf("%3s", ch.Action.Symbol())), head)
	fmt.Fprintf(w, "        %s\n", oneLine(ch.Reason))
	for _, d := range ch.Diffs {
		line := fmt.Sprintf("%s: %s -> %s", d.Attribute, d.Before, d.After)
		if d.Forces {
			line += v.paint(ansiRed, " # forces replacement")
		}
		fmt.Fprintf(w, "        %s\n", line)
	}
	if len(ch.Targets) > 0 {
		fmt.Fprintf(w, "        then deploys to: %s\n", strings.Join(ch.Targets, ", "))
	}
	if len(ch.Notifiers) > 0 {
		fmt.Fprintf(w, "        sends %s to: %s\n", ch.Event, notifierList(ch.Notifiers))
	}
}

func (v textView) notes(w io.Writer, notes []Note) {
	var wait, agent, limited []Note
	for _, n := range notes {
		switch n.Kind {
		case NoteAwaitingAgent, NoteAwaitingCSR:
			agent = append(agent, n)
		case NoteRateLimit:
			limited = append(limited, n)
		default:
			wait = append(wait, n)
		}
	}
	if len(limited) > 0 {
		fmt.Fprintln(w, v.paint(ansiBold, "Rate limits (apply defers the excess to a later run):"))
		for _, n := range limited {
			fmt.Fprintf(w, "  %s %s\n", v.paint(ansiYellow, "%"), v.paint(ansiBold, n.Address))
			fmt.Fprintf(w, "      %s\n", oneLine(n.Message))
		}
		fmt.Fprintln(w)
	}
	if len(wait) > 0 {
		fmt.Fprintln(w, v.paint(ansiBold, "Needs attention (not retried by this plan):"))
		for _, n := range wait {
			fmt.Fprintf(w, "  %s %s\n", v.paint(ansiRed, "!"), v.paint(ansiBold, n.Address))
			fmt.Fprintf(w, "      %s\n", oneLine(n.Message))
		}
		fmt.Fprintln(w)
	}
	if len(agent) > 0 {
		fmt.Fprintln(w, v.paint(ansiBold, "Awaiting agents (apply does not deploy these):"))
		for _, n := range agent {
			if n.Kind == NoteAwaitingCSR {
				fmt.Fprintf(w, "  %s %s awaiting CSR (agent %s)\n", v.paint(ansiDim, "@"), n.Address, n.Agent)
				fmt.Fprintf(w, "      %s\n", oneLine(n.Message))
				continue
			}
			fmt.Fprintf(w, "  %s %s -> target.%s (agent %s)\n", v.paint(ansiDim, "@"), n.Address, n.Target, n.Agent)
			if n.Error != "" {
				fmt.Fprintf(w, "      %s\n", v.paint(ansiRed, "last deployment failed: "+oneLine(n.Error)))
			}
		}
		fmt.Fprintln(w)
	}
}

// oneLine keeps a message (an issuer's error, say) on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// Result writes the apply's errors, one per line, then its one-line
// summary.
func (v textView) Result(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	for _, e := range r.Errors {
		fmt.Fprintf(bw, "%s %s\n", v.paint(ansiRed, "Error:"), oneLine(e.Error()))
	}
	if len(r.Deferred) > 0 {
		fmt.Fprintf(bw, "%s %s (an issuer's rate_limit is spent; a later apply issues them)\n",
			v.paint(ansiYellow, "Deferred:"), strings.Join(r.Deferred, ", "))
	}
	style := ansiGreen
	if r.Failed > 0 {
		style = ansiRed
	}
	fmt.Fprintln(bw, v.paint(ansiBold+style, r.String()))
	v.delivery(bw, r.Delivery)
	return bw.Flush()
}
