package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// Backdate is how far before the requested time NotBefore is set, for the
// root and for leaves, so that a certificate deployed at once is valid on
// hosts whose clocks run slightly behind. It is kept small because it comes
// out of the requested lifetime (see LocalCA.Issue).
const Backdate = time.Minute

// DefaultCAValidity is the root's lifetime when CAConfig.Validity is zero.
const DefaultCAValidity = 10 * 365 * 24 * time.Hour

// DefaultCAKeyAlgorithm is the root's key algorithm when
// CAConfig.KeyAlgorithm is empty.
const DefaultCAKeyAlgorithm = ECDSAP256

// Defaults for the root's subject. The CA/Browser Forum requires both in a
// CA's subject (zlint: e_ca_organization_name_missing,
// e_ca_country_name_missing); "XX" is the ISO 3166-1 user-assigned code the
// Baseline Requirements (7.1.4.2.2) allow when no country applies.
const (
	DefaultCAOrganization = "certctl"
	DefaultCACountry      = "XX"
)

// maxCommonNameLen is the upper bound on a subject CN (RFC 5280 ub-common-name).
const maxCommonNameLen = 64

// CAConfig describes the root that NewLocalCA creates.
type CAConfig struct {
	// Name is the issuer's name in the config, for errors.
	Name string
	// CommonName is the root's subject CN; it defaults to "certctl NAME CA".
	CommonName string
	// KeyAlgorithm is one of KeyAlgorithms; it defaults to
	// DefaultCAKeyAlgorithm.
	KeyAlgorithm string
	// Validity is the root's lifetime; zero means DefaultCAValidity.
	Validity time.Duration
	// Organization and Country go in the root's subject; they default to
	// DefaultCAOrganization and DefaultCACountry. Country is an ISO 3166-1
	// alpha-2 code.
	Organization string
	Country      string
}

// LocalCA is a self-signed root that signs leaf certificates directly. It is
// immutable after construction, so Issue and the accessors are safe for
// concurrent use.
type LocalCA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	urls    CAURLs
}

// Issue is the shape the reconciler consumes; pin LocalCA to it.
var _ interface {
	Issue(context.Context, IssueRequest) (*Issued, error)
} = (*LocalCA)(nil)

// NewLocalCA generates a key and a self-signed root valid from now-Backdate
// for cfg.Validity. The root has CA:true (critical, no path length limit),
// key usage certSign, cRLSign and digitalSignature (critical; the last so
// the root itself may sign OCSP responses later), a subject key identifier
// (RFC 7093 method 1) and a random 127-bit positive serial.
func NewLocalCA(cfg CAConfig, now time.Time) (*LocalCA, error) {
	ca, err := newLocalCA(cfg, now)
	if err != nil {
		return nil, fmt.Errorf("creating local CA %s: %w", cfg.Name, err)
	}
	return ca, nil
}

func newLocalCA(cfg CAConfig, now time.Time) (*LocalCA, error) {
	if now.IsZero() {
		return nil, errors.New("no creation time given")
	}
	alg := cfg.KeyAlgorithm
	if alg == "" {
		alg = DefaultCAKeyAlgorithm
	}
	validity := cfg.Validity
	switch {
	case validity == 0:
		validity = DefaultCAValidity
	case validity < 0:
		return nil, fmt.Errorf("validity %s is negative", validity)
	}
	cn := cfg.CommonName
	if cn == "" {
		cn = strings.TrimSpace("certctl " + cfg.Name + " CA")
	}
	if len(cn) > maxCommonNameLen {
		return nil, fmt.Errorf("common name %q is longer than %d bytes", cn, maxCommonNameLen)
	}
	org := cfg.Organization
	if org == "" {
		org = DefaultCAOrganization
	}
	country := cfg.Country
	if country == "" {
		country = DefaultCACountry
	}
	if len(country) != 2 || strings.ToUpper(country) != country {
		return nil, fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code", country)
	}
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyIDOf(key.Public())
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := now.Add(-Backdate).UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{org}, Country: []string{country}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity - time.Second),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing root: %w", err)
	}
	return &LocalCA{cert: cert, key: key, certPEM: EncodeCertificatePEM(der)}, nil
}

// LoadLocalCA restores a CA from its certificate and private key PEM, as
// returned by CertPEM and KeyPEM. It checks that the certificate is a CA
// allowed to sign certificates and that the key belongs to it.
func LoadLocalCA(certPEM, keyPEM []byte) (*LocalCA, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("loading local CA: %w", err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading local CA %q: %w", cert.Subject.CommonName, err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("loading local CA %q: certificate is not a CA", cert.Subject.CommonName)
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("loading local CA %q: certificate may not sign certificates (no keyCertSign usage)", cert.Subject.CommonName)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("loading local CA %q: private key does not match the certificate", cert.Subject.CommonName)
	}
	return &LocalCA{cert: cert, key: key, certPEM: EncodeCertificatePEM(cert.Raw)}, nil
}

// Certificate returns the root certificate. Callers must not modify it.
func (ca *LocalCA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the root certificate as PEM. Callers must not modify it.
func (ca *LocalCA) CertPEM() []byte { return ca.certPEM }

// KeyPEM returns the CA's private key as PKCS #8 PEM. It is secret: store
// it encrypted, never print it.
func (ca *LocalCA) KeyPEM() ([]byte, error) { return MarshalPrivateKeyPEM(ca.key) }

// randomSerial returns a random positive serial of at most 128 bits: 16
// random bytes with the top bit cleared (so the DER INTEGER needs no sign
// byte and stays within 16 octets), retried in the astronomically unlikely
// case of zero.
func randomSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("generating serial: %w", err)
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyIDOf computes a key identifier by RFC 7093 section 2 method 1:
// the leftmost 160 bits of the SHA-256 of the subjectPublicKey bit string.
func subjectKeyIDOf(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("computing key identifier: %w", err)
	}
	return subjectKeyID(spki)
}

func subjectKeyID(rawSPKI []byte) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(rawSPKI, &spki)
	if err != nil {
		return nil, fmt.Errorf("computing key identifier: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("computing key identifier: trailing data after public key")
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// containsIP and containsFold are small helpers for SAN membership.
func containsIP(ips []net.IP, ip net.IP) bool { return slices.ContainsFunc(ips, ip.Equal) }

func containsFold(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
}
