package reconcile

import (
	"fmt"
	"testing"
	"time"
)

func TestJitteredRenewsAt(t *testing.T) {
	renewsAt := time.Date(2026, 6, 30, 7, 12, 0, 0, time.UTC)
	notAfter := time.Date(2026, 7, 30, 0, 0, 0, 0, time.UTC)
	window := notAfter.Sub(renewsAt)
	bound := renewsAt.Add(time.Duration(JitterFraction * float64(window)))

	// Deterministic, bounded, whole seconds.
	hours := map[time.Time]bool{}
	const n = 2000
	for i := range n {
		name := fmt.Sprintf("site-%d", i)
		got := JitteredRenewsAt(name, renewsAt, notAfter)
		if again := JitteredRenewsAt(name, renewsAt, notAfter); !again.Equal(got) {
			t.Fatalf("JitteredRenewsAt(%s) = %v, then %v", name, got, again)
		}
		if got.Before(renewsAt) || !got.Before(bound) || !got.Before(notAfter) {
			t.Fatalf("JitteredRenewsAt(%s) = %v, want in [%v, %v)", name, got, renewsAt, bound)
		}
		if got.Nanosecond() != 0 {
			t.Fatalf("JitteredRenewsAt(%s) = %v, want whole seconds", name, got)
		}
		hours[got.Truncate(time.Hour)] = true
	}
	// Certificates issued together spread over the ~71 hours of jitter
	// rather than renewing in one minute.
	if len(hours) < 60 {
		t.Errorf("%d certificates renew in %d distinct hours, want them spread over most of the %v jitter", n, len(hours), bound.Sub(renewsAt))
	}
	// An empty or inverted window is left alone.
	if got := JitteredRenewsAt("x", notAfter, notAfter); !got.Equal(notAfter) {
		t.Errorf("JitteredRenewsAt(empty window) = %v, want %v", got, notAfter)
	}
	if got := JitteredRenewsAt("x", notAfter.Add(time.Hour), notAfter); !got.Equal(notAfter.Add(time.Hour)) {
		t.Errorf("JitteredRenewsAt(renewsAt after notAfter) = %v", got)
	}
}

func TestARIRenewsAt(t *testing.T) {
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(48 * time.Hour)
	notAfter := start.Add(30 * 24 * time.Hour)
	for i := range 500 {
		name := fmt.Sprintf("c%d", i)
		got := ARIRenewsAt(name, start, end, notAfter)
		if got.Before(start) || !got.Before(end) || !got.Equal(ARIRenewsAt(name, start, end, notAfter)) {
			t.Fatalf("ARIRenewsAt(%s) = %v, want a fixed time in [%v, %v)", name, got, start, end)
		}
	}
	for _, tt := range []struct {
		name                  string
		start, end, notAfter  time.Time
		wantAtOrAfter, before time.Time
	}{
		{"point window", start, start, notAfter, start, start.Add(time.Second)},
		{"inverted window", end, start, notAfter, end, end.Add(time.Second)},
		{"window past expiry", start, notAfter.Add(24 * time.Hour), start.Add(time.Hour), start, start.Add(time.Hour)},
		{"window starting at expiry", notAfter, notAfter.Add(time.Hour), notAfter, notAfter, notAfter.Add(time.Second)},
	} {
		got := ARIRenewsAt("www", tt.start, tt.end, tt.notAfter)
		if got.Before(tt.wantAtOrAfter) || !got.Before(tt.before) {
			t.Errorf("ARIRenewsAt(%s) = %v, want in [%v, %v)", tt.name, got, tt.wantAtOrAfter, tt.before)
		}
	}
}

func TestIssuerBackoff(t *testing.T) {
	le := acmeIssuerSpec("le")
	le.ACME.Backoff = []time.Duration{30 * time.Second, 5 * time.Minute}
	for _, tt := range []struct {
		failures int
		def, own time.Duration
	}{
		{0, time.Minute, 30 * time.Second},
		{1, time.Minute, 30 * time.Second},
		{2, 10 * time.Minute, 5 * time.Minute},
		{3, 100 * time.Minute, 5 * time.Minute},
		{9, 24 * time.Hour, 5 * time.Minute},
	} {
		if got := IssuerBackoff(acmeIssuerSpec("plain"), tt.failures); got != tt.def {
			t.Errorf("IssuerBackoff(default, %d) = %v, want %v", tt.failures, got, tt.def)
		}
		if got := IssuerBackoff(le, tt.failures); got != tt.own {
			t.Errorf("IssuerBackoff(backoff = [30s, 5m], %d) = %v, want %v", tt.failures, got, tt.own)
		}
	}
	if got := IssuerBackoff(nil, 2); got != 10*time.Minute {
		t.Errorf("IssuerBackoff(nil, 2) = %v", got)
	}
}
