package reconcile

import (
	"time"

	"github.com/certctl/certctl/spec"
)

// Backoff is how long to wait before the next attempt after failures
// consecutive failed attempts: 1m, 10m, 100m, then 24h. failures < 1 is
// treated as 1.
func Backoff(failures int) time.Duration {
	switch {
	case failures <= 1:
		return time.Minute
	case failures == 2:
		return 10 * time.Minute
	case failures == 3:
		return 100 * time.Minute
	default:
		return 24 * time.Hour
	}
}

// IssuerBackoff is Backoff tuned by an issuer: an ACME issuer's backoff
// list gives the wait after the 1st, 2nd, … failure, its last entry
// repeating; any other issuer (or none, or an empty list) uses Backoff.
func IssuerBackoff(is *spec.Issuer, failures int) time.Duration {
	if is == nil || is.ACME == nil || len(is.ACME.Backoff) == 0 {
		return Backoff(failures)
	}
	steps := is.ACME.Backoff
	return steps[min(max(failures, 1), len(steps))-1]
}
