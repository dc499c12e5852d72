package reconcile

import (
	"bufio"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Inventory statuses, worst first.
const (
	StatusExpired    = "expired"     // the current certificate has expired
	StatusRevoked    = "revoked"     // revoked by certctl revoke; apply replaces it
	StatusFailed     = "failed"      // the last attempt failed
	StatusNotIssued  = "not issued"  // in the config, no certificate yet
	StatusRenewalDue = "renewal due" // in its renewal window
	StatusOrphaned   = "orphaned"    // in the state only
	StatusValid      = "valid"
)

// CertStatus is one line of `certctl show`.
type CertStatus struct {
	Name          string    `json:"name"`
	Address       string    `json:"address"`
	Status        string    `json:"status"`
	Serial        string    `json:"serial,omitempty"`
	Fingerprint   string    `json:"fingerprint,omitempty"`
	NotBefore     time.Time `json:"not_before,omitzero"`
	NotAfter      time.Time `json:"not_after,omitzero"`
	RenewsAt      time.Time `json:"renews_at,omitzero"`
	Issuer        string    `json:"issuer,omitempty"`
	Owner         string    `json:"owner,omitempty"`
	Team          string    `json:"team,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// Revision and RevisionAuthor name the configuration revision (git
	// commit) whose apply last wrote the certificate's record.
	Revision       string `json:"revision,omitempty"`
	RevisionAuthor string `json:"revision_author,omitempty"`

	// RenewalWindowStart and RenewalWindowEnd are the window the ACME CA
	// suggested (ARI) when RenewsAt comes from it.
	RenewalWindowStart time.Time `json:"renewal_window_start,omitzero"`
	RenewalWindowEnd   time.Time `json:"renewal_window_end,omitzero"`

	// KeyAgent is the agent that holds the private key ("" for the
	// state); CSRPending is set while an agent's CSR waits to be signed.
	KeyAgent   string `json:"key_agent,omitempty"`
	CSRPending bool   `json:"csr_pending,omitempty"`
	// Deployments are the certificate's targets in the configuration,
	// with what each last received.
	Deployments []DeploymentStatus `json:"deployments,omitempty"`
}

// Deployment statuses.
const (
	DeploymentCurrent  = "current"  // holds the current certificate
	DeploymentOutdated = "outdated" // holds an earlier one, or none yet
	DeploymentFailed   = "failed"   // the last deployment failed (rolled back)
)

// DeploymentStatuses lists the deployment statuses in name order.
func DeploymentStatuses() []string {
	return []string{DeploymentCurrent, DeploymentFailed, DeploymentOutdated}
}

// DeploymentStatus is one target of a certificate in `certctl show`.
type DeploymentStatus struct {
	Target string `json:"target"`
	// Agent is the target's agent, "" for the certctl host.
	Agent       string    `json:"agent,omitempty"`
	Status      string    `json:"status"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	DeployedAt  time.Time `json:"deployed_at,omitzero"`
	ReportedAt  time.Time `json:"reported_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// deploymentsOf lists c's targets with what rec records of each.
func deploymentsOf(cfg *spec.Config, c *spec.Certificate, rec *state.Certificate) []DeploymentStatus {
	var out []DeploymentStatus
	for _, tname := range c.Targets {
		d := DeploymentStatus{Target: tname, Status: DeploymentOutdated}
		if tg := cfg.Targets[tname]; tg != nil {
			d.Agent = tg.Agent
		}
		if rec != nil {
			if dep, ok := rec.Deployments[tname]; ok {
				d.Fingerprint, d.DeployedAt, d.ReportedAt, d.LastError = dep.Fingerprint, dep.DeployedAt, dep.ReportedAt, dep.LastError
				switch {
				case dep.LastError != "":
					d.Status = DeploymentFailed
				case rec.Fingerprint != "" && dep.Fingerprint == rec.Fingerprint:
					d.Status = DeploymentCurrent
				}
			}
		}
		out = append(out, d)
	}
	return out
}

// Inventory lists every certificate of cfg and snap, sorted by name, with
// its status at now. Like Plan it is pure. Owner, team and issuer come from
// the config when the certificate is in it, else from the state.
func Inventory(cfg *spec.Config, snap *state.Snapshot, now time.Time) []CertStatus {
	if snap == nil {
		snap = &state.Snapshot{}
	}
	names := make(map[string]bool, len(snap.Certificates))
	if cfg != nil {
		for n := range cfg.Certificates {
			names[n] = true
		}
	}
	for n := range snap.Certificates {
		names[n] = true
	}
	out := make([]CertStatus, 0, len(names))
	for _, name := range slices.Sorted(maps.Keys(names)) {
		var c *spec.Certificate
		if cfg != nil {
			c = cfg.Certificates[name]
		}
		rec := snap.Certificates[name]
		s := CertStatus{Name: name, Address: CertAddress(name)}
		if rec != nil {
			s.Serial, s.Fingerprint = rec.Serial, rec.Fingerprint
			s.NotBefore, s.NotAfter = rec.NotBefore, rec.NotAfter
			s.Issuer, s.Owner, s.Team = rec.Issuer, rec.Owner, rec.Team
			s.Revision, s.RevisionAuthor = rec.Revision, rec.RevisionAuthor
			if rec.Status == state.StatusFailed {
				s.LastError, s.NextAttemptAt = rec.LastError, rec.NextAttemptAt
			}
		}
		hasCert := rec != nil && rec.Fingerprint != ""
		if rec != nil {
			s.KeyAgent, s.CSRPending = rec.KeyAgent, rec.CSR != nil
		}
		if c != nil {
			s.Deployments = deploymentsOf(cfg, c, rec)
			s.Issuer, s.Owner, s.Team = c.Issuer, c.Owner, c.Team
			if hasCert {
				due := renewalOf(cfg, c, rec) // ARI window or policy: jitter.go
				s.RenewsAt = due.At
				if due.ARI {
					s.RenewalWindowStart, s.RenewalWindowEnd = due.Start, due.End
				}
				if !rec.RevokedAt.IsZero() {
					s.RenewsAt = rec.RevokedAt // the next apply renews it
				}
			}
		}
		switch {
		case c == nil:
			s.Status = StatusOrphaned
		case hasCert && !now.Before(rec.NotAfter):
			s.Status = StatusExpired
		case hasCert && !rec.RevokedAt.IsZero():
			s.Status = StatusRevoked
		case rec != nil && rec.Status == state.StatusFailed:
			s.Status = StatusFailed
		case !hasCert:
			s.Status = StatusNotIssued
		case !now.Before(s.RenewsAt):
			s.Status = StatusRenewalDue
		default:
			s.Status = StatusValid
		}
		out = append(out, s)
	}
	return out
}

var statusColors = map[string]string{
	StatusExpired:    ansiRed,
	StatusRevoked:    ansiRed,
	StatusFailed:     ansiRed,
	StatusNotIssued:  ansiDim,
	StatusRenewalDue: ansiYellow,
	StatusOrphaned:   ansiYellow,
	StatusValid:      ansiGreen,
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Show writes the inventory as an aligned table; failed certificates get
// their next attempt and last error in the NOTE column.
func (v textView) Show(w io.Writer, certs []CertStatus) error {
	header := []string{"NAME", "STATUS", "SERIAL", "NOT AFTER", "RENEWS AT", "ISSUER", "OWNER", "TEAM", "NOTE"}
	rows := make([][]string, 0, len(certs))
	for _, c := range certs {
		note := ""
		if c.LastError != "" {
			note = oneLine(c.LastError)
			if !c.NextAttemptAt.IsZero() {
				note = "retry after " + ts(c.NextAttemptAt) + ": " + note
			}
		}
		rows = append(rows, []string{c.Name, c.Status, orDash(c.Serial), showTime(c.NotAfter), showTime(c.RenewsAt),
			orDash(c.Issuer), orDash(c.Owner), orDash(c.Team), note})
	}
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
			pad := widths[i] - utf8.RuneCountInString(cell)
			if i == len(r)-1 {
				pad = 0
			}
			b.WriteString(style(i, cell))
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		bw.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
	line(header, func(_ int, s string) string { return v.paint(ansiBold, s) })
	for _, r := range rows {
		line(r, func(i int, s string) string {
			if i == 1 {
				return v.paint(statusColors[s], s)
			}
			return s
		})
	}
	return bw.Flush()
}
