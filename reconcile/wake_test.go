package reconcile

import (
	"testing"
	"time"

	"github.com/certctl/certctl/state"
)

func TestNextWake(t *testing.T) {
	renews := time.Date(2026, 6, 30, 7, 12, 0, 0, time.UTC) // 33% of nb..na
	day := 24 * time.Hour
	tests := []struct {
		name   string
		edit   func(snap *state.Snapshot, notify *[]time.Duration)
		now    time.Time
		want   time.Time
		reason string
	}{
		{"renewal", nil, t0, renews, "renewal"},
		{"notice before renewal", func(_ *state.Snapshot, n *[]time.Duration) { *n = []time.Duration{31 * day} }, t0, na.Add(-31 * day), "notice"},
		{"renewal past: expiry next", nil, renews.Add(time.Hour), na, "expiry"},
		{"all past", nil, na.Add(time.Hour), time.Time{}, ""},
		{"failed: its retry", func(s *state.Snapshot, _ *[]time.Duration) {
			rec := s.Certificates["www"]
			rec.Status, rec.NextAttemptAt = state.StatusFailed, t0.Add(time.Hour)
		}, t0, t0.Add(time.Hour), "retry"},
		{"no certificate yet, no retry", func(s *state.Snapshot, _ *[]time.Duration) {
			for _, rec := range s.Certificates {
				rec.Fingerprint = ""
			}
		}, t0, time.Time{}, ""},
	}
	for _, tt := range tests {
		cfg := testConfig(t.TempDir())
		snap := appliedSnapshot(cfg)
		pol := *cfg.Policies["standard"]
		cfg.Policies["standard"] = &pol
		if tt.edit != nil {
			tt.edit(snap, &pol.NotifyBefore)
		}
		got := NextWake(cfg, snap, tt.now)
		if !got.At.Equal(tt.want) || got.Reason != tt.reason {
			t.Errorf("%s: NextWake(%s) = %s %q, want %s %q", tt.name, tt.now, got.At, got.Reason, tt.want, tt.reason)
		}
	}
}
