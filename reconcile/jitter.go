package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// JitterFraction bounds the renewal jitter of ACME certificates: a
// renewal moves later by at most this share of its renewal window (from
// the policy's renewal time to expiry). With the default 33% of a 90-day
// certificate that is up to 3 days, so thousands of certificates issued
// on one day renew over days, not in one minute. The result is always
// before expiry.
const JitterFraction = 0.1

// jitter is a fraction in [0, 1) fixed for name: the top 53 bits of
// SHA-256(name). The same certificate always gets the same share, so
// plans are reproducible and a renewal time never moves between runs.
func jitter(name string) float64 {
	sum := sha256.Sum256([]byte(name))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// JitteredRenewsAt is renewsAt moved later by name's share of
// JitterFraction of [renewsAt, notAfter), in whole seconds. It returns
// renewsAt when the window is empty (renewsAt at or after notAfter).
func JitteredRenewsAt(name string, renewsAt, notAfter time.Time) time.Time {
	window := notAfter.Sub(renewsAt)
	if window <= 0 {
		return renewsAt
	}
	off := time.Duration(jitter(name) * JitterFraction * float64(window)).Truncate(time.Second)
	return renewsAt.Add(off)
}

// ARIRenewsAt is the renewal time inside the window [start, end) an ACME
// CA suggested (ARI, RFC 9773 asks clients to pick a point at random in
// it): name's share of the window, in whole seconds after start. It is
// never at or after notAfter; a window that ends there (which a CA should
// not send) gives the latest second before it, or start.
func ARIRenewsAt(name string, start, end, notAfter time.Time) time.Time {
	at := start
	if end.After(start) {
		at = start.Add(time.Duration(jitter(name) * float64(end.Sub(start))).Truncate(time.Second))
	}
	if !at.Before(notAfter) {
		if last := notAfter.Add(-time.Second); last.After(start) {
			return last
		}
		return start
	}
	return at
}

// renewal is when a certificate is due, and on whose word.
type renewal struct {
	At time.Time
	// ARI is true when At comes from the CA's suggested window [Start,
	// End); otherwise it is the policy's renewal time (jittered for an
	// ACME issuer).
	ARI        bool
	Start, End time.Time
}

// renewalOf schedules the renewal of rec's current certificate under c.
// Certificates from an ACME issuer renew inside the window the CA
// suggested, when the record holds one, and otherwise at the policy's
// time plus a jitter; certificates from a local CA renew at exactly the
// policy's time. Pure: the window is what Apply recorded.
func renewalOf(cfg *spec.Config, c *spec.Certificate, rec *state.Certificate) renewal {
	base := RenewsAt(rec.NotBefore, rec.NotAfter, cfg.Policies[c.Policy])
	is := cfg.Issuers[c.Issuer]
	if is == nil || is.Type != spec.IssuerTypeACME || rec.Issuer != c.Issuer {
		return renewal{At: base}
	}
	if !rec.RenewalWindowStart.IsZero() && !rec.RenewalWindowEnd.Before(rec.RenewalWindowStart) {
		return renewal{
			At:  ARIRenewsAt(c.Name, rec.RenewalWindowStart, rec.RenewalWindowEnd, rec.NotAfter),
			ARI: true, Start: rec.RenewalWindowStart, End: rec.RenewalWindowEnd,
		}
	}
	return renewal{At: JitteredRenewsAt(c.Name, base, rec.NotAfter)}
}

// reason is the plan's reason for a renewal that is due.
func (r renewal) reason(notAfter time.Time) string {
	if r.ARI {
		return "renewal window reached (the CA suggests " + ts(r.Start) + " to " + ts(r.End) +
			"; renews at " + ts(r.At) + ", expires " + ts(notAfter) + ")"
	}
	return "renewal window reached (renews at " + ts(r.At) + ", expires " + ts(notAfter) + ")"
}
