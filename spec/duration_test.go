package spec

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	const d = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90d", 90 * d, false},
		{"36h", 36 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1.5d", 36 * time.Hour, false},
		{"0d", 0, false},
		{"0", 0, false},
		{"2m", 2 * time.Minute, false},
		{"1h30m10s", time.Hour + 30*time.Minute + 10*time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"3650d", 3650 * d, false},
		{"-1d", -d, false},
		{"1d1d", 2 * d, false},
		{"", 0, true},
		{"90", 0, true},
		{"d", 0, true},
		{"90x", 0, true},
		{"1w", 0, true},
		{"1 d", 0, true},
		{"1y", 0, true},
		{"..5d", 0, true},
		{"-", 0, true},
		{"200000d", 0, true}, // over 292 years
		{"99999999999999999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			if _, ok := err.(*DurationError); !ok {
				t.Errorf("ParseDuration(%q) error is %T, want *DurationError", tt.in, err)
			}
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		90 * 24 * time.Hour:      "90d",
		36 * time.Hour:           "1d12h",
		12 * time.Hour:           "12h",
		90 * time.Minute:         "1h30m",
		0:                        "0s",
		1500 * time.Millisecond:  "1.5s",
		-48 * time.Hour:          "-2d",
		24*time.Hour + time.Hour: "1d1h",
	}
	for in, want := range tests {
		if got := formatDuration(in); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
