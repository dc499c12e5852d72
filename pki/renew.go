package pki

import "time"

// DefaultRenewPercent is the share of a certificate's lifetime that remains
// when renewal is due if a policy does not say otherwise.
const DefaultRenewPercent = 33.0

// RenewAt is when a certificate valid from notBefore to notAfter should be
// renewed. With before > 0 it is notAfter-before; otherwise it is when
// percent of the lifetime remains, notAfter - lifetime*percent/100. It reads
// no clock; the result may be before notBefore when before exceeds the
// lifetime, which means "renew now".
func RenewAt(notBefore, notAfter time.Time, before time.Duration, percent float64) time.Time {
	if before > 0 {
		return notAfter.Add(-before)
	}
	lifetime := notAfter.Sub(notBefore)
	return notAfter.Add(-time.Duration(float64(lifetime) * percent / 100))
}
