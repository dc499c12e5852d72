package notify

import "time"

// Backoff of failed deliveries (DESIGN.md, Notifications). Both functions
// take retryCount, the number of attempts that had failed before the one
// that just failed — the row's retry_count before it is incremented. With
// the defaults (2m, 1h, 5 attempts) the caller does, after a failure:
//
//	if notify.Exhausted(row.RetryCount, n.Retry.Attempts) {
//		row.Status, row.NextRetryAt = "dead", time.Time{}
//	} else {
//		row.NextRetryAt = notify.NextRetry(now, row.RetryCount, n.Retry.Initial, n.Retry.Max)
//	}
//	row.RetryCount++ // never reset on success: "delivered on attempt N"
//
// which retries after 2m, 4m, 8m and 16m, and declares the row dead when the
// fifth attempt fails, with retry_count 5.

// NextRetry is when to try again: now + min(initial × 2^retryCount, max).
// A max of 0 or less means no cap; a negative initial counts as 0. It never
// overflows, however large retryCount is.
func NextRetry(now time.Time, retryCount int, initial, max time.Duration) time.Time {
	if initial < 0 {
		initial = 0
	}
	if retryCount < 0 {
		retryCount = 0
	}
	d := initial
	for i := 0; i < retryCount && d > 0; i++ {
		if max > 0 && d >= max {
			break
		}
		if d > (1<<62)/2 {
			d = 1 << 62 // ~146 years: effectively never
			break
		}
		d *= 2
	}
	if max > 0 && d > max {
		d = max
	}
	return now.Add(d)
}

// Exhausted reports whether the attempt that just failed was the last of
// attempts: retryCount+1 >= attempts. An attempts below 1 counts as 1, so a
// misconfigured budget still delivers once and never loops.
func Exhausted(retryCount, attempts int) bool {
	if attempts < 1 {
		attempts = 1
	}
	return retryCount+1 >= attempts
}
