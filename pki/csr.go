package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"slices"
	"strings"
)

// CSRSubject names what a CSR asks to be certified.
type CSRSubject struct {
	CommonName     string
	DNSNames       []string
	IPAddresses    []net.IP
	EmailAddresses []string
}

// NewCSR builds and signs a PKCS #10 request for key. The CA/Browser Forum
// requires a subject common name to appear among the SANs, so a CommonName
// that is an IP address or a DNS name not already listed is added to the
// SANs (first, so it reads as the primary name). It returns the parsed
// request and its DER encoding.
func NewCSR(key crypto.Signer, subj CSRSubject) (*x509.CertificateRequest, []byte, error) {
	if key == nil {
		return nil, nil, fmt.Errorf("creating CSR: no key")
	}
	subj = subj.withCommonNameInSANs()
	tmpl := &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: subj.CommonName},
		DNSNames:       subj.DNSNames,
		IPAddresses:    subj.IPAddresses,
		EmailAddresses: subj.EmailAddresses,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating CSR for %q: %w", subj.CommonName, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing CSR for %q: %w", subj.CommonName, err)
	}
	return csr, der, nil
}

// WithoutCommonName returns s with no CommonName, the name it held moved
// into the SANs (first) if it is a DNS name or an IP address not already
// there; a common name of any other shape is dropped. A certificate issued
// for the result has an empty subject, which the TLS Baseline Requirements
// (7.1.4.2.2) prefer: the common name is deprecated, and every name a TLS
// client checks is in the SANs.
func (s CSRSubject) WithoutCommonName() CSRSubject {
	s = s.withCommonNameInSANs()
	s.CommonName = ""
	return s
}

// withCommonNameInSANs returns s with its CommonName added to the SANs
// (first) if it is an IP address or a DNS name not already listed. The
// lists of the result are copies when they change, s's otherwise, so the
// caller must not modify them.
func (s CSRSubject) withCommonNameInSANs() CSRSubject {
	cn := s.CommonName
	if cn == "" {
		return s
	}
	if ip := net.ParseIP(cn); ip != nil {
		if !containsIP(s.IPAddresses, ip) {
			s.IPAddresses = slices.Insert(slices.Clip(s.IPAddresses), 0, ip)
		}
	} else if looksLikeDNSName(cn) && !containsFold(s.DNSNames, cn) {
		s.DNSNames = slices.Insert(slices.Clip(s.DNSNames), 0, cn)
	}
	return s
}

// looksLikeDNSName reports whether s has the shape of a DNS name: dot
// separated labels of letters, digits and hyphens, an optional leading "*."
// for wildcards. It is a shape check for deciding whether a common name
// belongs in the SANs; name validation against policy lives in spec.
func looksLikeDNSName(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// MaxCSRSize bounds the PEM of a CSR that ParseCSRPEM accepts: an RSA-4096
// request with a few hundred names fits well within it.
const MaxCSRSize = 32 << 10

// ParseCSRPEM parses one PEM "CERTIFICATE REQUEST" block and checks its
// self-signature. Anything else in data (a second block, trailing text) is
// an error, so that what is stored is exactly what was checked.
func ParseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > MaxCSRSize {
		return nil, fmt.Errorf("CSR is %d bytes, more than %d", len(data), MaxCSRSize)
	}
	blk, rest := pem.Decode(data)
	if blk == nil {
		return nil, fmt.Errorf("CSR is not PEM")
	}
	if blk.Type != "CERTIFICATE REQUEST" && blk.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("CSR PEM block is %q, want \"CERTIFICATE REQUEST\"", blk.Type)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("CSR PEM has trailing data")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	return csr, nil
}

// CSRPEM encodes a CSR's DER as PEM.
func CSRPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
