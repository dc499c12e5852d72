package reconcile

import (
	"cmp"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/certctl/certctl/pki"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Certificates of an external issuer (`issuer "external" "NAME" {}`) were
// issued outside certctl and brought in by `certctl import`. Plan never
// issues, renews or replaces them: it cannot order from their CA. Everything
// else applies as to any certificate: expiry notices (expiry.go), status and
// metrics (Inventory), metadata updates, deploys of the recorded certificate.
// What would be an issuing change for another issuer is a NoteExternal
// instead, so that an operator sees what to do by hand.

// isExternal reports whether c's issuer is an external one.
func isExternal(cfg *spec.Config, c *spec.Certificate) bool {
	is := cfg.Issuers[c.Issuer]
	return is != nil && is.Type == spec.IssuerTypeExternal
}

// externalNote adds the note an external certificate needs, if any: not
// imported, issued for other attributes than the configuration asks, past
// its renewal time, or expired.
func (pl *planner) externalNote(c *spec.Certificate, rec *state.Certificate, addr func() string) {
	msg := ""
	switch {
	case rec == nil || rec.Fingerprint == "":
		msg = IssuerAddress(c.Issuer) + " is external: certctl cannot issue this certificate; bring the existing one in with certctl import"
	case rec.Issuer != c.Issuer:
		msg = "the recorded certificate is from " + IssuerAddress(rec.Issuer) + ", and " + IssuerAddress(c.Issuer) + " is external: certctl cannot issue a new one"
	default:
		if names, _ := forces(specAttrs(c, pl.cfg), recordAttrs(rec)); len(names) > 0 {
			msg = strings.Join(names, ", ") + " differ from the recorded certificate, and " + IssuerAddress(c.Issuer) +
				" is external: get a new certificate from its CA and import it"
		} else if !pl.now.Before(rec.NotAfter) {
			msg = "expired at " + ts(rec.NotAfter) + "; " + IssuerAddress(c.Issuer) + " is external: renew it at its CA and import it"
		} else if due := renewalOf(pl.cfg, c, rec); !pl.now.Before(due.At) {
			msg = "renewal due since " + ts(due.At) + " (expires " + ts(rec.NotAfter) + "); " + IssuerAddress(c.Issuer) +
				" is external: renew it at its CA and import it"
		}
	}
	if msg != "" {
		pl.p.Notes = append(pl.p.Notes, Note{Address: addr(), Kind: NoteExternal, Message: msg})
	}
}

// ImportedRecord returns the state record of a certificate issued outside
// certctl that c, a certificate of cfg, describes (`certctl import` writes
// c from leaf). The record is built as Apply builds the record of a
// certificate it issued, from the attributes c asks for, so that the next
// plan shows no change for it until its renewal is due. chainPEM holds the
// issuers found for it (may be empty); keySealed is its private key sealed
// with the state's key, or nil when none was found. IssuedAt is the
// leaf's notBefore: the certificate was not ordered now, and an ACME
// issuer's order budget must not count it. It fails, naming the attribute,
// when leaf does not carry what c asks for. Pure.
func ImportedRecord(cfg *spec.Config, c *spec.Certificate, leaf *x509.Certificate, chainPEM, keySealed []byte, now time.Time) (*state.Certificate, error) {
	want := specAttrs(c, cfg)
	if err := leafCarries(leaf, want); err != nil {
		return nil, fmt.Errorf("importing %s: %w", CertAddress(c.Name), err)
	}
	rec := &state.Certificate{Name: c.Name}
	issued := &pki.Issued{Leaf: leaf, CertPEM: pki.EncodeCertificatePEM(leaf.Raw), ChainPEM: chainPEM}
	recordIssued(rec, c, want, issued, keySealed, now)
	setMeta(rec, c, nil)
	rec.IssuedAt = leaf.NotBefore
	return rec, nil
}

// leafCarries checks that leaf has the names and key algorithm of want.
// The common name may be one of the DNS names when the leaf has none.
func leafCarries(leaf *x509.Certificate, want attrs) error {
	have := LeafAttrs(leaf)
	cnOK := have.CommonName == want.CommonName ||
		(have.CommonName == "" && (slices.Contains(have.DNSNames, want.CommonName) || slices.Contains(have.IPAddresses, want.CommonName)))
	if !cnOK {
		return fmt.Errorf("the certificate's common name is %q, not %q", have.CommonName, want.CommonName)
	}
	for _, f := range []struct {
		name       string
		have, want []string
	}{
		{AttrDNSNames, have.DNSNames, want.DNSNames},
		{AttrIPAddresses, have.IPAddresses, want.IPAddresses},
		{AttrEmailAddresses, have.EmailAddresses, want.EmailAddresses},
	} {
		if !slices.Equal(f.have, f.want) {
			return fmt.Errorf("the certificate's %s are %s, not %s", f.name, quoteList(f.have), quoteList(f.want))
		}
	}
	if have.KeyAlgorithm != want.KeyAlgorithm {
		return fmt.Errorf("the certificate's key is %s, not %s", cmp.Or(have.KeyAlgorithm, "of a kind certctl does not support"), want.KeyAlgorithm)
	}
	return nil
}

// LeafAttrs returns what leaf itself names, normalised as a plan compares
// attributes: the common name (lower-cased when it is a DNS name), the SANs
// and the key algorithm ("" for a key certctl does not support). Issuer and
// Usages are left empty: they are the configuration's.
func LeafAttrs(leaf *x509.Certificate) LeafNames {
	ips := make([]string, len(leaf.IPAddresses))
	for i, ip := range leaf.IPAddresses {
		ips[i] = ip.String()
	}
	cn := leaf.Subject.CommonName
	if ip := net.ParseIP(cn); ip != nil {
		cn = ip.String()
	} else if hostShaped(cn) {
		cn = strings.ToLower(cn) // DNS names compare without case, as spec keeps them
	} // a person, a service or a mailbox keeps its case, as spec does
	return LeafNames{
		CommonName:     cn,
		DNSNames:       normNames(leaf.DNSNames, true),
		IPAddresses:    normNames(ips, false),
		EmailAddresses: normNames(leaf.EmailAddresses, false),
		KeyAlgorithm:   pki.KeyAlgorithmOf(leaf.PublicKey),
	}
}

// hostShaped reports whether s has the characters of a DNS name (ASCII
// letters, digits, '-', '.', '*', '_').
func hostShaped(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-.*_", r)) {
			return false
		}
	}
	return s != ""
}

// LeafNames is what LeafAttrs reads from a certificate. Lists are sorted
// and hold each value once; callers must not modify them.
type LeafNames struct {
	CommonName     string
	DNSNames       []string
	IPAddresses    []string
	EmailAddresses []string
	KeyAlgorithm   string
}
