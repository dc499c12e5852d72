package reconcile

import (
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Wake is when a long-running reconciler should plan again, and why.
type Wake struct {
	At      time.Time // zero: nothing is scheduled
	Address string    // the certificate it is for
	Reason  string    // "renewal", "expiry", "retry", "notice", "renewal info"
}

// Before reports whether w is scheduled earlier than o (an unscheduled Wake
// is never earlier).
func (w Wake) Before(o Wake) bool {
	return !w.At.IsZero() && (o.At.IsZero() || w.At.Before(o.At))
}

// NextWake returns the earliest time after now at which Plan(cfg, snap, …,
// t) would differ from the plan at now although neither the configuration
// nor the state changed: a renewal time (the CA's ARI window or the
// policy's), an expiry, the end of a failed certificate's backoff, a
// notify_before threshold, or an ACME renewal window falling due for a
// refresh (ARIRefreshInterval). Times at or before now are not returned:
// the pass at now acted on them, and one that failed is retried on its own
// backoff. Notification retries are not in the snapshot: a caller asks the
// store (state.DB.NextNotificationDue). Pure.
func NextWake(cfg *spec.Config, snap *state.Snapshot, now time.Time) Wake {
	var best Wake
	consider := func(at time.Time, name, reason string) {
		if at.After(now) && (best.At.IsZero() || at.Before(best.At)) {
			best = Wake{At: at, Address: CertAddress(name), Reason: reason}
		}
	}
	if cfg == nil || snap == nil {
		return best
	}
	for name, c := range cfg.Certificates {
		rec := snap.Certificates[name]
		if rec == nil {
			continue
		}
		if rec.Status == state.StatusFailed {
			consider(rec.NextAttemptAt, name, "retry")
		}
		if rec.Fingerprint == "" {
			continue
		}
		consider(renewalOf(cfg, c, rec).At, name, "renewal")
		consider(rec.NotAfter, name, "expiry")
		if pol := cfg.Policies[c.Policy]; pol != nil {
			for _, t := range pol.NotifyBefore {
				consider(rec.NotAfter.Add(-t), name, "notice")
			}
		}
		if rec.CSR != nil {
			consider(UnaskedCSRHeldUntil(rec, now), name, "held CSR")
		}
		if is := cfg.Issuers[c.Issuer]; is != nil && is.Type == spec.IssuerTypeACME && rec.Issuer == c.Issuer {
			consider(rec.ARICheckedAt.Add(ARIRefreshInterval), name, "renewal info")
		}
	}
	return best
}
