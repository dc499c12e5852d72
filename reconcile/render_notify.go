package reconcile

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Views of the notification queue: the plan's section on rows that need
// an operator, the delivery lines of an apply, `certctl notifications` and
// `certctl status`.

const ansiMagenta = "\x1b[35m"

// notifierList renders notifier names as addresses: "notifier.a, notifier.b".
func notifierList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "notifier." + n
	}
	return strings.Join(out, ", ")
}

// plural is "1 notification" or "2 notifications".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// rowLabel names what a row is about: "expiring certificate.www -> notifier.ops".
func rowLabel(event, cert, notifier string) string {
	return event + " " + CertAddress(cert) + " -> notifier." + notifier
}

// queue writes the plan's last section: each dead row with its last error
// and the command that revives it, then how many rows wait.
func (v textView) queue(w io.Writer, q *QueueStatus) {
	if !q.NeedsAttention() {
		return
	}
	fmt.Fprintln(w)
	if len(q.Dead) > 0 {
		fmt.Fprintln(w, v.paint(ansiBold, "Notifications that need an operator (dead: every attempt failed):"))
		for _, d := range q.Dead {
			fmt.Fprintf(w, "  %s %s %s\n", v.paint(ansiRed, "!"), v.paint(ansiBold, d.ID), rowLabel(d.Event, d.Certificate, d.Notifier))
			fmt.Fprintf(w, "      dead after %s: %s\n", plural(d.RetryCount, "attempt"), oneLine(d.LastError))
			fmt.Fprintf(w, "      to send it again once the notifier works: %s\n", d.Requeue)
		}
	}
	if line := waitingLine(q); line != "" {
		fmt.Fprintln(w, line)
	}
}

// waitingLine is "2 notifications wait for a retry, 1 is pending; the next
// apply delivers them." or "" when none wait.
func waitingLine(q *QueueStatus) string {
	var parts []string
	if q.WaitingRetry > 0 {
		parts = append(parts, plural(q.WaitingRetry, "notification")+" "+map[bool]string{true: "waits", false: "wait"}[q.WaitingRetry == 1]+" for a retry")
	}
	if q.Pending > 0 {
		parts = append(parts, plural(q.Pending, "notification")+" "+map[bool]string{true: "is", false: "are"}[q.Pending == 1]+" pending")
	}
	if len(parts) == 0 {
		return ""
	}
	them := "them"
	if q.WaitingRetry+q.Pending == 1 {
		them = "it"
	}
	return strings.Join(parts, ", ") + "; certctl apply delivers " + them + " when due."
}

func markdownQueue(w io.Writer, q *QueueStatus) {
	if !q.NeedsAttention() {
		return
	}
	if len(q.Dead) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "**Notifications that need an operator** (dead: every attempt failed):")
		fmt.Fprintln(w)
		for _, d := range q.Dead {
			fmt.Fprintf(w, "- %s %s → %s, dead after %s: %s. Run %s\n", mdCode(d.ID), mdCell(d.Event), mdCode("notifier."+d.Notifier),
				plural(d.RetryCount, "attempt"), mdCell(d.LastError), mdCode(d.Requeue))
		}
	}
	if line := waitingLine(q); line != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, mdCell(line))
	}
}

// delivery writes what a delivery sweep did after an apply: one line per
// row that failed, went dead or was dropped, then the summary line.
func (v textView) delivery(w io.Writer, d *DeliveryResult) {
	if d.Empty() {
		return
	}
	for _, n := range d.Rows {
		label := n.ID + " (" + rowLabel(n.Event, n.Certificate, n.Notifier) + ")"
		switch n.Status {
		case state.NotifyFailed:
			fmt.Fprintf(w, "%s notification %s failed, attempt %d, retry after %s: %s\n",
				v.paint(ansiYellow, "Warning:"), label, n.RetryCount, ts(n.NextRetryAt), oneLine(n.LastError))
		case state.NotifyDead:
			fmt.Fprintf(w, "%s notification %s is dead after %s: %s\n  to send it again once the notifier works: %s\n",
				v.paint(ansiRed, "Error:"), label, plural(n.RetryCount, "attempt"), oneLine(n.LastError), RequeueCommand(n.ID))
		case state.NotifyDropped:
			fmt.Fprintf(w, "Dropped notification %s: %s\n", label, n.Reason)
		}
	}
	style := ansiGreen
	if d.Failures() > 0 {
		style = ansiRed
	}
	fmt.Fprintln(w, v.paint(style, d.String()))
}

// deliveryDoc is the "notifications" member of the apply JSON.
type deliveryDoc struct {
	Sent    int                   `json:"sent"`
	Failed  int                   `json:"failed"`
	Dead    int                   `json:"dead"`
	Dropped int                   `json:"dropped"`
	Rows    []*state.Notification `json:"rows"`
}

func newDeliveryDoc(d *DeliveryResult) *deliveryDoc {
	if d == nil {
		return nil
	}
	doc := &deliveryDoc{Sent: d.Sent, Failed: d.Failed, Dead: d.Dead, Dropped: d.Dropped, Rows: d.Rows}
	if doc.Rows == nil {
		doc.Rows = []*state.Notification{}
	}
	return doc
}

// NotificationsView renders notification rows (`certctl notifications`).
type NotificationsView interface {
	Notifications(w io.Writer, rows []*state.Notification) error
}

// NewNotificationsView returns the view for o (Markdown is text).
func NewNotificationsView(o ViewOptions) NotificationsView {
	if o.Format == FormatJSON {
		return jsonView{}
	}
	return textView{color: o.Color}
}

// notificationsDoc is the JSON of `certctl notifications -json`
// (schemas/notifications.schema.json).
type notificationsDoc struct {
	FormatVersion string                `json:"format_version"`
	Notifications []*state.Notification `json:"notifications"`
}

// Notifications writes the rows as one JSON document.
func (jsonView) Notifications(w io.Writer, rows []*state.Notification) error {
	if rows == nil {
		rows = []*state.Notification{}
	}
	return writeJSON(w, notificationsDoc{FormatVersion: FormatVersion, Notifications: rows})
}

var notifyStatusColors = map[string]string{
	state.NotifyPending: ansiCyan,
	state.NotifySent:    ansiGreen,
	state.NotifyFailed:  ansiYellow,
	state.NotifyDead:    ansiRed,
	state.NotifyDropped: ansiDim,
}

// Notifications writes the rows as a table. NOTE says what happened last:
// the error of a failed or dead row, why a row was dropped, and for a row
// delivered after failures the attempt that succeeded.
func (v textView) Notifications(w io.Writer, rows []*state.Notification) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "No notifications.")
		return err
	}
	header := []string{"ID", "STATUS", "EVENT", "CERTIFICATE", "NOTIFIER", "RETRIES", "CREATED", "NEXT RETRY", "NOTE"}
	cells := make([][]string, 0, len(rows))
	for _, n := range rows {
		note := ""
		switch n.Status {
		case state.NotifyFailed, state.NotifyDead:
			note = oneLine(n.LastError)
		case state.NotifyDropped:
			note = n.Reason
		case state.NotifySent:
			if n.RetryCount > 0 {
				note = fmt.Sprintf("delivered on attempt %d", n.RetryCount+1)
			}
		}
		cells = append(cells, []string{n.ID, n.Status, n.Event, n.Certificate, n.Notifier, strconv.Itoa(n.RetryCount),
			showTime(n.CreatedAt), showTime(n.NextRetryAt), note})
	}
	return v.table(w, header, cells, func(i int, s string) string {
		if i == 1 {
			return v.paint(notifyStatusColors[s], s)
		}
		return s
	})
}

// table writes an aligned table with a bold header; style colours cells.
func (v textView) table(w io.Writer, header []string, rows [][]string, style func(i int, s string) string) error {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, cell := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	bw := bufio.NewWriter(w)
	line := func(r []string, style func(i int, s string) string) {
		var b strings.Builder
		for i, cell := range r {
			b.WriteString(style(i, cell))
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		bw.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
	line(header, func(_ int, s string) string { return v.paint(ansiBold, s) })
	for _, r := range rows {
		line(r, style)
	}
	return bw.Flush()
}

// CertStatuses lists the inventory statuses, worst first.
func CertStatuses() []string {
	return []string{StatusExpired, StatusRevoked, StatusFailed, StatusNotIssued, StatusRenewalDue, StatusOrphaned, StatusValid}
}

// StatusReport is `certctl status`: certificates counted by inventory
// status and notification rows counted by status (dead included). Every
// status is present, with 0 when none.
type StatusReport struct {
	Certificates  Counts `json:"certificates"`
	Notifications Counts `json:"notifications"`
}

// Counts is a total and its split by status.
type Counts struct {
	Total    int            `json:"total"`
	ByStatus map[string]int `json:"by_status"`
}

// Status counts cfg and snap at now. Like Inventory it is pure.
func Status(cfg *spec.Config, snap *state.Snapshot, now time.Time) StatusReport {
	return StatusOf(Inventory(cfg, snap, now), snap)
}

// StatusOf counts certs, the Inventory of snap (and a config) at some
// time, and snap's notification rows: it is Status for a caller that needs
// the inventory too (metrics), so that both count alike. snap may be nil.
func StatusOf(certs []CertStatus, snap *state.Snapshot) StatusReport {
	if snap == nil {
		snap = &state.Snapshot{}
	}
	r := StatusReport{
		Certificates:  Counts{ByStatus: map[string]int{}},
		Notifications: Counts{ByStatus: map[string]int{}},
	}
	for _, s := range CertStatuses() {
		r.Certificates.ByStatus[s] = 0
	}
	for _, c := range certs {
		r.Certificates.ByStatus[c.Status]++
		r.Certificates.Total++
	}
	for _, s := range state.NotifyStatuses() {
		n := snap.NotificationCounts[s]
		r.Notifications.ByStatus[s] = n
		r.Notifications.Total += n
	}
	return r
}

// StatusView renders a StatusReport.
type StatusView interface {
	Status(w io.Writer, r StatusReport) error
}

// NewStatusView returns the view for o (Markdown is text).
func NewStatusView(o ViewOptions) StatusView {
	if o.Format == FormatJSON {
		return jsonView{}
	}
	return textView{color: o.Color}
}

type statusDoc struct {
	FormatVersion string `json:"format_version"`
	StatusReport
}

// Status writes the report as JSON (schemas/status.schema.json).
func (jsonView) Status(w io.Writer, r StatusReport) error {
	return writeJSON(w, statusDoc{FormatVersion: FormatVersion, StatusReport: r})
}

// Status writes the counts, one status a line, in a fixed order, and says
// what to do about dead notifications.
func (v textView) Status(w io.Writer, r StatusReport) error {
	bw := bufio.NewWriter(w)
	section := func(title string, c Counts, order []string, colors map[string]string) {
		fmt.Fprintf(bw, "%s %d\n", v.paint(ansiBold, title), c.Total)
		for _, s := range order {
			n := c.ByStatus[s]
			label := fmt.Sprintf("%-12s", s)
			if n > 0 {
				label = v.paint(colors[s], label)
			}
			fmt.Fprintf(bw, "  %s %5d\n", label, n)
		}
	}
	section("Certificates:", r.Certificates, CertStatuses(), statusColors)
	section("Notifications:", r.Notifications, state.NotifyStatuses(), notifyStatusColors)
	if dead := r.Notifications.ByStatus[state.NotifyDead]; dead > 0 {
		verb := "need"
		if dead == 1 {
			verb = "needs"
		}
		fmt.Fprintf(bw, "\n%s %s an operator: see them with 'certctl notifications -status dead', then run 'certctl requeue ID' (or 'certctl requeue -all-dead') once the notifier works.\n",
			plural(dead, "dead notification"), verb)
	}
	return bw.Flush()
}

// DeliveryView renders a delivery sweep on its own (an apply with no
// changes); after changes, the apply view shows it with the result.
type DeliveryView interface {
	Delivery(w io.Writer, d *DeliveryResult) error
}

// NewDeliveryView returns the text view (JSON callers use NewApplyView).
func NewDeliveryView(o ViewOptions) DeliveryView { return textView{color: o.Color} }

// Delivery writes the sweep's lines; nothing when it tried nothing.
func (v textView) Delivery(w io.Writer, d *DeliveryResult) error {
	bw := bufio.NewWriter(w)
	v.delivery(bw, d)
	return bw.Flush()
}
