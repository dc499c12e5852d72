package pki

import (
	"fmt"
	"net/url"
)

// CAURLs are where relying parties fetch what the CA publishes. Leaves
// issued by a CA that has them carry an authorityInformationAccess
// extension (IssuerURL as caIssuers, OCSPURL as OCSP) and a
// cRLDistributionPoints extension (CRLURL). Each is optional.
//
// The CA/Browser Forum requires TLS server certificates to carry
// authorityInformationAccess, and either a CRL distribution point or an
// OCSP URL unless they live 7 days or less; zlint reports their absence as
// errors (e_sub_cert_aia_missing, e_missing_crl_distrib_point). A local CA
// without URLs therefore issues server certificates that fail those two
// lints and nothing else.
type CAURLs struct {
	IssuerURL string // the CA certificate, DER, over http
	OCSPURL   string
	CRLURL    string // a DER CRL, over http
}

// WithURLs returns a copy of ca that puts urls in the certificates it
// issues. Each non-empty URL must be absolute http or https. The receiver
// is unchanged, so a CA shared between goroutines stays safe to use.
func (ca *LocalCA) WithURLs(urls CAURLs) (*LocalCA, error) {
	for _, u := range []struct{ name, value string }{
		{"issuer URL", urls.IssuerURL}, {"OCSP URL", urls.OCSPURL}, {"CRL URL", urls.CRLURL},
	} {
		if u.value == "" {
			continue
		}
		parsed, err := url.Parse(u.value)
		if err != nil {
			return nil, fmt.Errorf("local CA %q: %s: %w", ca.cert.Subject.CommonName, u.name, err)
		}
		if (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return nil, fmt.Errorf("local CA %q: %s %q is not an absolute http(s) URL", ca.cert.Subject.CommonName, u.name, u.value)
		}
	}
	c := *ca
	c.urls = urls
	return &c, nil
}

// URLs returns what WithURLs set, or the zero CAURLs.
func (ca *LocalCA) URLs() CAURLs { return ca.urls }
