package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
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
	tmpl := &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: subj.CommonName},
		DNSNames:       slices.Clone(subj.DNSNames),
		IPAddresses:    slices.Clone(subj.IPAddresses),
		EmailAddresses: slices.Clone(subj.EmailAddresses),
	}
	if cn := subj.CommonName; cn != "" {
		if ip := net.ParseIP(cn); ip != nil {
			if !containsIP(tmpl.IPAddresses, ip) {
				tmpl.IPAddresses = slices.Insert(tmpl.IPAddresses, 0, ip)
			}
		} else if looksLikeDNSName(cn) && !containsFold(tmpl.DNSNames, cn) {
			tmpl.DNSNames = slices.Insert(tmpl.DNSNames, 0, cn)
		}
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
