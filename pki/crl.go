package pki

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Revocation reason codes (RFC 5280 section 5.3.1) that an operator may
// give. The others (cACompromise, certificateHold, removeFromCRL,
// privilegeWithdrawn, aACompromise) describe events a local CA of leaves
// never has.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
)

// RevocationReasons lists the reason names an operator may give, in code
// order, spelled as RFC 5280 spells them.
var RevocationReasons = []string{"unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"}

var reasonCodes = map[string]int{
	"unspecified":          ReasonUnspecified,
	"keyCompromise":        ReasonKeyCompromise,
	"affiliationChanged":   ReasonAffiliationChanged,
	"superseded":           ReasonSuperseded,
	"cessationOfOperation": ReasonCessationOfOperation,
}

// ParseRevocationReason returns the RFC 5280 code of a reason name from
// RevocationReasons. Case is ignored; an unknown name is an error that
// lists the valid ones.
func ParseRevocationReason(name string) (int, error) {
	for n, code := range reasonCodes {
		if strings.EqualFold(n, name) {
			return code, nil
		}
	}
	return 0, fmt.Errorf("unknown revocation reason %q (want one of %s)", name, strings.Join(RevocationReasons, ", "))
}

// RevocationReasonName is the RFC 5280 name of a reason code, or
// "reason N" for a code outside RevocationReasons.
func RevocationReasonName(code int) string {
	for n, c := range reasonCodes {
		if c == code {
			return n
		}
	}
	return fmt.Sprintf("reason %d", code)
}

// Revoked is one revoked certificate as a CRL or an OCSP response states
// it.
type Revoked struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    int // an RFC 5280 reason code
	// NotAfter is the certificate's expiry: a CRL leaves out entries
	// that expired before its thisUpdate (RFC 5280 section 3.3 allows
	// it), zero keeps the entry.
	NotAfter time.Time
}

// ParseSerialHex parses a serial in the hex form SerialHex writes.
func ParseSerialHex(s string) (*big.Int, error) {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("serial %q is not a positive hex number", s)
	}
	return n, nil
}

// DefaultCRLValidity is how long a CRL is valid (nextUpdate - thisUpdate)
// when CRL is given zero. A day bounds how long a relying party that
// caches it misses a revocation; RefreshCRLAt renews it halfway.
const DefaultCRLValidity = 24 * time.Hour

// CRL signs a complete CRL (RFC 5280, version 2) of revoked with the CA's
// key: thisUpdate is CRLThisUpdate (about now minus Backdate), nextUpdate
// validity later (zero:
// DefaultCRLValidity), number is the cRLNumber (it must grow with every
// CRL the CA publishes; the caller keeps the counter), and the authority
// key identifier is the root's. Entries are sorted by serial; those whose
// certificate expired before thisUpdate are left out; a reason code of
// unspecified is left out as RFC 5280 asks. The result is DER.
func (ca *LocalCA) CRL(revoked []Revoked, number uint64, now time.Time, validity time.Duration) ([]byte, error) {
	if now.IsZero() {
		return nil, errors.New("signing CRL: no time given")
	}
	if validity == 0 {
		validity = DefaultCRLValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("signing CRL: validity %s is negative", validity)
	}
	thisUpdate := CRLThisUpdate(revoked, now)
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		if r.Serial == nil || r.Serial.Sign() <= 0 {
			return nil, errors.New("signing CRL: an entry has no positive serial")
		}
		if !r.NotAfter.IsZero() && r.NotAfter.Before(thisUpdate) {
			continue
		}
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber:   r.Serial,
			RevocationTime: r.RevokedAt.UTC().Truncate(time.Second),
			ReasonCode:     r.Reason, // 0 (unspecified) adds no extension
		})
	}
	slices.SortFunc(entries, func(a, b x509.RevocationListEntry) int { return a.SerialNumber.Cmp(b.SerialNumber) })
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: entries,
		Number:                    new(big.Int).SetUint64(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                thisUpdate.Add(validity),
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("signing CRL of %q: %w", ca.cert.Subject.CommonName, err)
	}
	return der, nil
}

// CRLThisUpdate is the thisUpdate of a CRL of revoked signed at now:
// now minus Backdate, for relying parties whose clocks run behind, but
// never before a revocation it lists (one made in the last minute), as a
// CRL may not list what happened after it (zlint
// e_crl_revocation_time_after_this_update), and never after now.
func CRLThisUpdate(revoked []Revoked, now time.Time) time.Time {
	this := now.Add(-Backdate)
	for _, r := range revoked {
		if r.RevokedAt.After(this) {
			this = r.RevokedAt
		}
	}
	if this.After(now) {
		this = now
	}
	return this.UTC().Truncate(time.Second)
}

// RefreshCRLAt is when a CRL valid from thisUpdate to nextUpdate should
// be replaced: halfway, so that a relying party fetching it just before
// nextUpdate still gets one valid for a while.
func RefreshCRLAt(thisUpdate, nextUpdate time.Time) time.Time {
	return thisUpdate.Add(nextUpdate.Sub(thisUpdate) / 2)
}
