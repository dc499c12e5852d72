package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DurationError is the error ParseDuration returns.
type DurationError struct {
	Value  string // the input
	Reason string // what is wrong, e.g. `unknown unit "x"`
}

func (e *DurationError) Error() string {
	return fmt.Sprintf("invalid duration %q: %s (units: d, h, m, s, ms, us, ns)", e.Value, e.Reason)
}

// ParseDuration parses a Go duration ("36h", "1h30m", "90s") extended with
// a "d" unit of exactly 24 hours: "90d", "1d12h", "1.5d". Units may be mixed
// in one string, as time.ParseDuration allows. A leading sign is accepted as
// in time.ParseDuration; callers reject negative values where they make no
// sense. The result is exact (no floating-point rounding) up to nanoseconds.
// Errors are *DurationError.
func ParseDuration(s string) (time.Duration, error) {
	fail := func(format string, args ...any) (time.Duration, error) {
		return 0, &DurationError{Value: s, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return fail("it is empty")
	}
	if strings.ContainsAny(s, " \t\n") {
		return fail("it contains a space")
	}
	rest := s
	neg := false
	if rest[0] == '-' || rest[0] == '+' {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return fail("there is no number")
	}
	var total time.Duration
	for rest != "" {
		// One segment: a decimal number, then a unit.
		i := 0
		for i < len(rest) && (rest[i] == '.' || rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		num := rest[:i]
		if num == "" || num == "." {
			return fail("expected a number at %q", rest)
		}
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		unit := rest[i:j]
		rest = rest[j:]
		var d time.Duration
		switch unit {
		case "":
			return fail("%s has no unit", num)
		case "d":
			h, err := time.ParseDuration(num + "h")
			if err != nil {
				return fail("%q is not a number", num)
			}
			if h > math.MaxInt64/24 {
				return fail("it is too large")
			}
			d = h * 24
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
			var err error
			d, err = time.ParseDuration(num + unit)
			if err != nil {
				return fail("%q is not a number, or it is too large", num)
			}
		default:
			return fail("unknown unit %q", unit)
		}
		if total > math.MaxInt64-d {
			return fail("it is too large")
		}
		total += d
	}
	if neg {
		total = -total
	}
	return total, nil
}

// formatDuration renders d the way an operator writes it: whole days as
// "90d", otherwise days plus Go's notation ("1d12h0m0s" is shortened to
// "1d12h").
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	rem := d % (24 * time.Hour)
	var b strings.Builder
	b.WriteString(sign)
	if days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
	}
	if rem > 0 {
		r := rem.String()
		for _, suf := range []string{"m0s", "h0m"} {
			if strings.HasSuffix(r, suf) {
				r = strings.TrimSuffix(r, suf[1:])
			}
		}
		b.WriteString(r)
	}
	return b.String()
}
