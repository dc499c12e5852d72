package acme

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// RateLimit is a client-side budget of new orders: at most Orders in a
// burst, refilled continuously at Orders per Per (a token bucket). It keeps
// certctl under a CA's limits (Let's Encrypt: 300 new orders per 3 hours)
// instead of learning about them from rejected orders.
type RateLimit struct {
	Orders int
	Per    time.Duration
}

// ErrRateLimited is matched (errors.Is) by every [*RateLimitError].
var ErrRateLimited = errors.New("rate limited")

// RateLimitError says an order was not placed because of a rate limit:
// the client-side budget (ByCA false) or the CA's (ByCA true, RetryAfter
// as the CA sent it, possibly 0). The reconciler decides when to retry.
type RateLimitError struct {
	RetryAfter time.Duration
	ByCA       bool
	Err        error // the CA's problem document when ByCA
}

func (e *RateLimitError) Error() string {
	who := "client-side order budget exhausted"
	if e.ByCA {
		who = "the CA rate-limited the order"
		if e.Err != nil {
			who += ": " + e.Err.Error()
		}
	}
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s; retry after %s", who, e.RetryAfter.Round(time.Second))
	}
	return who
}

// Unwrap makes errors.Is(err, ErrRateLimited) true and exposes the CA's
// problem document.
func (e *RateLimitError) Unwrap() []error { return []error{ErrRateLimited, e.Err} }

// Bucket is a token bucket for a [RateLimit]. It is a pure value: time is
// always passed in, so a plan can simulate it and tests need no clock. It
// is not safe for concurrent use.
type Bucket struct {
	limit  RateLimit
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket for l as of now.
func NewBucket(l RateLimit, now time.Time) *Bucket {
	return &Bucket{limit: l, tokens: float64(l.Orders), last: now}
}

// refill adds the tokens earned since the last call. A clock that goes
// backwards earns nothing and does not move last back.
func (b *Bucket) refill(now time.Time) {
	if !now.After(b.last) {
		return
	}
	rate := float64(b.limit.Orders) / float64(b.limit.Per)
	b.tokens = math.Min(float64(b.limit.Orders), b.tokens+rate*float64(now.Sub(b.last)))
	b.last = now
}

// Take spends one token if there is one. Otherwise it spends nothing and
// returns how long until one is available.
func (b *Bucket) Take(now time.Time) (ok bool, wait time.Duration) {
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	rate := float64(b.limit.Orders) / float64(b.limit.Per)
	return false, time.Duration(math.Ceil((1 - b.tokens) / rate))
}

// Available is the number of whole tokens as of now.
func (b *Bucket) Available(now time.Time) int {
	b.refill(now)
	return int(b.tokens)
}
