package reconcile

import "time"

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
