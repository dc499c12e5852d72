package reconcile

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Expiry notices. Plan decides them from the record and now (it stays
// pure); Apply raises them. Each is raised once per certificate version:
// the record's Notified lists the notices already raised for the version
// whose fingerprint it names, and a new version (renewal, replacement)
// starts with none.
//
//   - "expiring/T" for each notify_before threshold T: due once
//     not_after - T has passed. When several are due at once (a first
//     plan that finds a certificate 10 days from expiry under 30d and
//     14d) one notice is raised, for the most urgent threshold, and all
//     of them are recorded: the operator gets one message, not a burst.
//   - "expired": due once not_after has passed. It stands for every
//     threshold, including "0d", which would otherwise fire at the same
//     instant: an expired certificate gets one critical message.
//
// A threshold as long as the certificate's lifetime or longer (30d for a
// 30-day certificate) is ignored: it would fire the moment the certificate
// is issued. Expiry notices do not depend on the certificate's status: when renewal
// keeps failing, the thresholds of the current version keep firing. When
// the same plan renews the certificate, Apply skips the notice if the
// renewal succeeded (the notice was about a version that is gone).

// noticeExpired is the Notified entry of the expired notice.
const noticeExpired = notify.EventExpired

// noticeKey is the Notified entry of a threshold: "expiring/14d".
func noticeKey(threshold time.Duration) string {
	return notify.EventExpiring + "/" + FormatThreshold(threshold)
}

// FormatThreshold renders a notify_before threshold as written: "30d",
// "36h", "1d12h", "0d".
func FormatThreshold(d time.Duration) string {
	const day = 24 * time.Hour
	if d <= 0 {
		return "0d"
	}
	var b strings.Builder
	if days := d / day; days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
	}
	if rem := d % day; rem > 0 {
		b.WriteString(trimZeroUnits(rem.String()))
	}
	return b.String()
}

// trimZeroUnits shortens Go's "12h0m0s" to "12h" and "1h30m0s" to "1h30m".
func trimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ExpiryNotice is an expiry notice that is due.
type ExpiryNotice struct {
	Event     string        // notify.EventExpiring or notify.EventExpired
	Threshold time.Duration // the most urgent threshold reached (expiring)
	// Record lists the Notified entries to add once the notice is raised:
	// the notice's own and every other one it stands for.
	Record []string
}

// DueExpiryNotice returns the expiry notice due for rec at now under the
// policy's notify_before thresholds, if any. rec must hold a certificate.
// It is pure.
func DueExpiryNotice(rec *state.Certificate, thresholds []time.Duration, now time.Time) (ExpiryNotice, bool) {
	if rec == nil || rec.Fingerprint == "" || rec.NotAfter.IsZero() {
		return ExpiryNotice{}, false
	}
	var done []string
	if rec.Notified != nil && rec.Notified.Fingerprint == rec.Fingerprint {
		done = rec.Notified.Notices
	}
	if !now.Before(rec.NotAfter) {
		if slices.Contains(done, noticeExpired) {
			return ExpiryNotice{}, false
		}
		n := ExpiryNotice{Event: notify.EventExpired}
		for _, t := range thresholds {
			if k := noticeKey(t); !slices.Contains(done, k) && !slices.Contains(n.Record, k) {
				n.Record = append(n.Record, k)
			}
		}
		n.Record = append(n.Record, noticeExpired)
		slices.Sort(n.Record)
		return n, true
	}
	n := ExpiryNotice{Event: notify.EventExpiring}
	found := false
	lifetime := rec.NotAfter.Sub(rec.NotBefore)
	for _, t := range thresholds {
		if now.Before(rec.NotAfter.Add(-t)) {
			continue // not reached yet
		}
		if !rec.NotBefore.IsZero() && t >= lifetime {
			continue // reached on issuance: it says nothing about expiry
		}
		k := noticeKey(t)
		if slices.Contains(done, k) || slices.Contains(n.Record, k) {
			continue
		}
		n.Record = append(n.Record, k)
		if !found || t < n.Threshold {
			n.Threshold, found = t, true
		}
	}
	if !found {
		return ExpiryNotice{}, false
	}
	slices.Sort(n.Record)
	return n, true
}

// notice plans the expiry notice of c, if one is due and some notifier
// receives it.
func (pl *planner) notice(c *spec.Certificate, rec *state.Certificate, addr func() string, issuing Action) {
	pol := pl.cfg.Policies[c.Policy]
	if pol == nil || rec == nil || rec.Fingerprint == "" {
		return
	}
	n, ok := DueExpiryNotice(rec, pol.NotifyBefore, pl.now)
	if !ok {
		return
	}
	to := notify.Route(pl.cfg, c, n.Event)
	if len(to) == 0 {
		return // nobody to tell; the notice stays due until someone listens
	}
	ch := Change{
		Address: addr(), Kind: KindCertificate, Name: c.Name, Action: ActionNotify,
		Event: n.Event, Notifiers: to, Prior: rec.Fingerprint, NotAfter: rec.NotAfter,
	}
	if n.Event == notify.EventExpired {
		ch.Reason = "expired at " + ts(rec.NotAfter)
	} else {
		ch.Threshold = FormatThreshold(n.Threshold)
		ch.Reason = "expires " + ts(rec.NotAfter) + ": notify_before " + ch.Threshold + " reached"
	}
	if issuing.Issues() {
		ch.Reason += "; skipped if the " + issuing.String() + " in this plan succeeds"
	}
	pl.p.Changes = append(pl.p.Changes, ch)
}
