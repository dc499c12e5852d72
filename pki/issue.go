package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Usage names accepted in IssueRequest.Usages.
const (
	UsageServerAuth      = "server_auth"
	UsageClientAuth      = "client_auth"
	UsageEmailProtection = "email_protection"
)

// KnownUsages lists the usage names ExtKeyUsageOf accepts. Callers must not
// modify it.
var KnownUsages = []string{UsageServerAuth, UsageClientAuth, UsageEmailProtection}

// ExtKeyUsageOf maps a usage name to its extended key usage. An unknown
// name is an error that quotes it.
func ExtKeyUsageOf(usage string) (x509.ExtKeyUsage, error) {
	switch usage {
	case UsageServerAuth:
		return x509.ExtKeyUsageServerAuth, nil
	case UsageClientAuth:
		return x509.ExtKeyUsageClientAuth, nil
	case UsageEmailProtection:
		return x509.ExtKeyUsageEmailProtection, nil
	}
	return 0, fmt.Errorf("unknown usage %q (want one of %s)", usage, strings.Join(KnownUsages, ", "))
}

// Issue signs req.CSR with the CA's key. It is safe for concurrent use.
//
// The leaf gets the CSR's subject CN and its DNS, IP and email SANs, nothing
// else from the CSR; a CN that is a DNS name or IP missing from the SANs is
// added to them, and a CN longer than 64 bytes is left out of the subject
// (the SANs still carry it). A leaf with no CN has an empty subject and a
// critical subjectAltName (RFC 5280 4.2.1.6). Extended key usages come from
// req.Usages (at least one, all known). Key usage is digitalSignature, plus
// keyEncipherment for RSA keys used for serverAuth or emailProtection.
// CA:false, the authority key identifier, certificate policies (see
// policiesFor), the CA's URLs if it has any (see CAURLs), and a random
// positive serial of up to 127 bits complete it. There is no subject key
// identifier: the TLS Baseline Requirements (7.1.2.7.6) recommend against
// it in subscriber certificates, and path building uses the authority key
// identifier, which matches the CA's subject key identifier.
//
// Validity: NotBefore is req.Now-Backdate (not before the CA's NotBefore)
// and NotAfter is NotBefore+req.Validity-1s, so the lifetime counted
// inclusively as RFC 5280 does is exactly req.Validity; NotAfter is capped
// at the CA's NotAfter, so the leaf may be shorter than asked for.
//
// Issue refuses: a nil CSR or one whose signature does not verify, a CSR
// with no names, a non-positive Validity, a zero Now, a CA that is not
// valid at Now, a validity too short to still be valid at Now, no or
// unknown usages, and server_auth combined with email_protection or with
// email SANs (the TLS Baseline Requirements forbid both). Errors start with
// "issuing NAME:".
func (ca *LocalCA) Issue(ctx context.Context, req IssueRequest) (*Issued, error) {
	if req.CSR == nil {
		return nil, fmt.Errorf("issuing %s: no CSR", req.Name)
	}
	issued, err := ca.issue(ctx, req, req.CSR.PublicKey, subjectOf(req.CSR), req.CSR)
	if err == nil {
		if issued.Leaf, err = x509.ParseCertificate(issued.der); err != nil {
			err = fmt.Errorf("parsing issued certificate: %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("issuing %s: %w", req.Name, err)
	}
	return issued, nil
}

// IssueForKey signs req.PublicKey for the names in req.Subject, with no
// CSR: for a key generated in this process there is no possession to
// prove, and skipping the CSR's signing and verification saves half the
// public-key operations of an issuance. req.CSR is ignored. The leaf and
// the refusals are those of Issue, with "no public key" for a nil
// PublicKey. The result's Leaf is nil (see Issued): the leaf is not
// parsed back, and Issued.Summary comes from what was signed. It is safe
// for concurrent use.
func (ca *LocalCA) IssueForKey(ctx context.Context, req IssueRequest) (*Issued, error) {
	if req.PublicKey == nil {
		return nil, fmt.Errorf("issuing %s: no public key", req.Name)
	}
	issued, err := ca.issue(ctx, req, req.PublicKey, req.Subject, nil)
	if err != nil {
		return nil, fmt.Errorf("issuing %s: %w", req.Name, err)
	}
	return issued, nil
}

// subjectOf is what a CSR asks for, as far as Issue takes it.
func subjectOf(csr *x509.CertificateRequest) CSRSubject {
	return CSRSubject{CommonName: csr.Subject.CommonName, DNSNames: csr.DNSNames, IPAddresses: csr.IPAddresses, EmailAddresses: csr.EmailAddresses}
}

// issue signs pub for subj; csr, if not nil, is the request they came
// from, whose signature is checked once the request itself is. The result
// has no Leaf.
func (ca *LocalCA) issue(ctx context.Context, req IssueRequest, pub crypto.PublicKey, subj CSRSubject, csr *x509.CertificateRequest) (*Issued, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case req.Validity <= 0:
		return nil, fmt.Errorf("validity %s is not positive", req.Validity)
	case req.Now.IsZero():
		return nil, errors.New("no issuance time given")
	}
	if req.Now.Before(ca.cert.NotBefore) || !req.Now.Before(ca.cert.NotAfter) {
		return nil, fmt.Errorf("CA %q is not valid at %s (valid %s to %s)", ca.cert.Subject.CommonName,
			req.Now.UTC().Format(time.RFC3339), ca.cert.NotBefore.Format(time.RFC3339), ca.cert.NotAfter.Format(time.RFC3339))
	}
	if csr != nil {
		if err := csr.CheckSignature(); err != nil {
			return nil, fmt.Errorf("CSR signature: %w", err)
		}
	}

	ekus := make([]x509.ExtKeyUsage, 0, len(req.Usages))
	for _, u := range req.Usages {
		eku, err := ExtKeyUsageOf(u)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ekus, eku) {
			ekus = append(ekus, eku)
		}
	}
	if len(ekus) == 0 {
		return nil, fmt.Errorf("no usages given (want some of %s)", strings.Join(KnownUsages, ", "))
	}
	serverAuth := slices.Contains(ekus, x509.ExtKeyUsageServerAuth)
	// The TLS Baseline Requirements (7.1.2.7.10, 7.1.2.7.12) forbid both in
	// a server certificate, and no TLS client looks at them there.
	if serverAuth && slices.Contains(ekus, x509.ExtKeyUsageEmailProtection) {
		return nil, fmt.Errorf("usages %s and %s cannot be combined: a TLS server certificate may not be an S/MIME certificate", UsageServerAuth, UsageEmailProtection)
	}
	if serverAuth && len(subj.EmailAddresses) > 0 {
		return nil, fmt.Errorf("a %s certificate may not name email addresses (request has %s)", UsageServerAuth, strings.Join(subj.EmailAddresses, ", "))
	}

	ku := x509.KeyUsageDigitalSignature
	switch pub.(type) {
	case *rsa.PublicKey:
		// RSA key transport (TLS 1.2 RSA key exchange, S/MIME enveloped
		// data) encrypts to the key. RFC 5280 4.2.1.12 allows it for those
		// purposes only, not for client authentication alone (zlint:
		// e_key_usage_and_extended_key_usage_inconsistent).
		if serverAuth || slices.Contains(ekus, x509.ExtKeyUsageEmailProtection) {
			ku |= x509.KeyUsageKeyEncipherment
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}

	subj = subj.withCommonNameInSANs()
	cn := subj.CommonName
	if len(cn) > maxCommonNameLen {
		cn = ""
	}
	// A TLS server certificate is matched by its SANs only; a client
	// certificate may name a person or a service by its subject alone.
	if len(subj.DNSNames)+len(subj.IPAddresses)+len(subj.EmailAddresses) == 0 && (serverAuth || cn == "") {
		return nil, errors.New("the request names nothing (no DNS, IP or email SAN, and no common name for a certificate without server_auth)")
	}

	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}

	notBefore := req.Now.Add(-Backdate).UTC().Truncate(time.Second)
	if notBefore.Before(ca.cert.NotBefore) {
		notBefore = ca.cert.NotBefore
	}
	notAfter := notBefore.Add(req.Validity - time.Second)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if !notAfter.After(req.Now) {
		return nil, fmt.Errorf("validity %s is too short: the certificate would expire at %s, before it is issued", req.Validity, notAfter.Format(time.RFC3339))
	}

	// An empty subject makes crypto/x509 mark the subjectAltName critical,
	// as RFC 5280 4.2.1.6 requires.
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              ku,
		ExtKeyUsage:           ekus,
		BasicConstraintsValid: true,
		IsCA:                  false,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
		DNSNames:              subj.DNSNames,
		IPAddresses:           subj.IPAddresses,
		EmailAddresses:        subj.EmailAddresses,
		Policies:              policiesFor(ekus, subj.EmailAddresses),
		OCSPServer:            nonEmpty(ca.urls.OCSPURL),
		IssuingCertificateURL: nonEmpty(ca.urls.IssuerURL),
		CRLDistributionPoints: nonEmpty(ca.urls.CRLURL),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return &Issued{CertPEM: EncodeCertificatePEM(der), ChainPEM: slices.Clone(ca.certPEM),
		der: der, serial: serial, notBefore: notBefore, notAfter: notAfter}, nil
}

// Certificate policy OIDs put in leaves (see policiesFor).
var (
	oidAnyPolicy = mustOID("2.5.29.32.0")
	// CA/Browser Forum S/MIME BR 7.1.6.1, mailbox-validated profiles.
	oidSMIMEMailboxMultipurpose = mustOID("2.23.140.1.5.1.2")
	oidSMIMEMailboxStrict       = mustOID("2.23.140.1.5.1.3")
)

// policiesFor picks the certificatePolicies of a leaf.
//
// TLS and other certificates assert anyPolicy (RFC 5280 4.2.1.4): no
// particular policy, which is the truth for a private CA. The TLS Baseline
// Requirements want a policy in every subscriber certificate (zlint:
// e_sub_cert_certificate_policies_missing, e_sub_cert_cert_policy_empty);
// their reserved "domain validated" OID would claim a validation this CA
// does not do, and anyPolicy satisfies the lints.
//
// S/MIME certificates (emailProtection with an email SAN) must carry
// exactly one S/MIME BR policy OID (zlint: e_exactly_one_smime_policy), and
// no other value satisfies it. They get the mailbox-validated profile their
// usages fit: "strict" for emailProtection alone, "multipurpose" when
// clientAuth is also present. In a private hierarchy the OID marks the
// certificate profile; no relying party reads it as an audit claim.
func policiesFor(ekus []x509.ExtKeyUsage, emails []string) []x509.OID {
	if slices.Contains(ekus, x509.ExtKeyUsageEmailProtection) && len(emails) > 0 {
		if len(ekus) == 1 {
			return []x509.OID{oidSMIMEMailboxStrict}
		}
		return []x509.OID{oidSMIMEMailboxMultipurpose}
	}
	return []x509.OID{oidAnyPolicy}
}

func mustOID(s string) x509.OID {
	oid, err := x509.ParseOID(s)
	if err != nil {
		panic(err)
	}
	return oid
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
