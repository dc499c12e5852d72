package notify

import (
	"testing"
	"time"
)

func TestNextRetry(t *testing.T) {
	now := time.Date(2026, 4, 17, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		retryCount   int
		initial, max time.Duration
		want         time.Duration
	}{
		{0, 2 * time.Minute, time.Hour, 2 * time.Minute},
		{1, 2 * time.Minute, time.Hour, 4 * time.Minute},
		{2, 2 * time.Minute, time.Hour, 8 * time.Minute},
		{3, 2 * time.Minute, time.Hour, 16 * time.Minute},
		{4, 2 * time.Minute, time.Hour, 32 * time.Minute},
		{5, 2 * time.Minute, time.Hour, time.Hour}, // 64m capped
		{6, 2 * time.Minute, time.Hour, time.Hour},
		{1000, 2 * time.Minute, time.Hour, time.Hour}, // no overflow
		{-1, 2 * time.Minute, time.Hour, 2 * time.Minute},
		{3, 30 * time.Second, 0, 4 * time.Minute}, // no cap
		{1000, time.Second, 0, 1 << 62},           // no cap, no overflow
		{2, 0, time.Hour, 0},
		{2, 2 * time.Hour, time.Hour, time.Hour}, // initial above max
	}
	for _, tc := range tests {
		got := NextRetry(now, tc.retryCount, tc.initial, tc.max)
		if want := now.Add(tc.want); !got.Equal(want) {
			t.Errorf("NextRetry(now, %d, %v, %v) = now+%v, want now+%v",
				tc.retryCount, tc.initial, tc.max, got.Sub(now), tc.want)
		}
	}
}

func TestExhausted(t *testing.T) {
	tests := []struct {
		retryCount, attempts int
		want                 bool
	}{
		{0, 5, false}, {3, 5, false}, {4, 5, true}, {5, 5, true},
		{0, 1, true}, {0, 0, true}, {0, -3, true},
	}
	for _, tc := range tests {
		if got := Exhausted(tc.retryCount, tc.attempts); got != tc.want {
			t.Errorf("Exhausted(%d, %d) = %v, want %v", tc.retryCount, tc.attempts, got, tc.want)
		}
	}
}

// TestBackoffSchedule plays the caller's loop from backoff.go with an
// injected clock and a notifier that always fails: attempts at 0, 2, 6, 14
// and 30 minutes, then dead with retry_count 5.
func TestBackoffSchedule(t *testing.T) {
	start := time.Date(2026, 4, 17, 12, 0, 0, 0, time.UTC)
	clock := start
	var (
		retryCount int
		dead       bool
		attemptsAt []time.Duration
		nextRetry  time.Time
	)
	for i := 0; i < 20 && !dead; i++ {
		attemptsAt = append(attemptsAt, clock.Sub(start))
		// the attempt fails
		if Exhausted(retryCount, 5) {
			dead, nextRetry = true, time.Time{}
		} else {
			nextRetry = NextRetry(clock, retryCount, 2*time.Minute, time.Hour)
		}
		retryCount++
		clock = nextRetry
	}
	want := []time.Duration{0, 2 * time.Minute, 6 * time.Minute, 14 * time.Minute, 30 * time.Minute}
	if len(attemptsAt) != len(want) {
		t.Fatalf("attempts at %v, want %v", attemptsAt, want)
	}
	for i := range want {
		if attemptsAt[i] != want[i] {
			t.Errorf("attempt %d at +%v, want +%v", i+1, attemptsAt[i], want[i])
		}
	}
	if !dead || retryCount != 5 || !nextRetry.IsZero() {
		t.Errorf("after the budget: dead=%v retry_count=%d next_retry_at=%v, want dead, 5, zero", dead, retryCount, nextRetry)
	}
}
