package pki

import (
	"testing"
	"time"
)

func TestRenewAt(t *testing.T) {
	day := 24 * time.Hour
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lifetime time.Duration
		before   time.Duration
		percent  float64
		want     time.Time
	}{
		{"duration", 90 * day, 30 * day, 0, nb.Add(60 * day)},
		{"duration wins over percent", 90 * day, 30 * day, 50, nb.Add(60 * day)},
		{"default percent of 90d", 90 * day, 0, DefaultRenewPercent, nb.Add(60*day + 7*time.Hour + 12*time.Minute)},
		{"half", 100 * day, 0, 50, nb.Add(50 * day)},
		{"zero percent renews at expiry", 10 * day, 0, 0, nb.Add(10 * day)},
		{"hundred percent renews at issue", 10 * day, 0, 100, nb},
		{"fractional percent", 1000 * time.Second, 0, 12.5, nb.Add(875 * time.Second)},
		{"before longer than lifetime", 10 * day, 30 * day, 0, nb.Add(-20 * day)},
		{"negative before means percent", 100 * day, -time.Hour, 25, nb.Add(75 * day)},
	}
	for _, tc := range tests {
		na := nb.Add(tc.lifetime)
		if got := RenewAt(nb, na, tc.before, tc.percent); !got.Equal(tc.want) {
			t.Errorf("%s: RenewAt(%s, %s, %s, %v) = %s, want %s", tc.name, nb.Format(time.RFC3339), na.Format(time.RFC3339), tc.before, tc.percent, got.Format(time.RFC3339), tc.want.Format(time.RFC3339))
		}
	}
}
