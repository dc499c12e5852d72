package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the clock of these tests. It is the real time, because openssl
// and zlint (whose lints depend on NotBefore) look at real dates.
var testNow = time.Now().UTC().Truncate(time.Second)

var (
	testCAsMu sync.Mutex
	testCAs   = map[string]*LocalCA{}
)

// testCA returns a CA with a key of alg, made once per test binary.
func testCA(t testing.TB, alg string) *LocalCA {
	t.Helper()
	testCAsMu.Lock()
	defer testCAsMu.Unlock()
	if ca, ok := testCAs[alg]; ok {
		return ca
	}
	ca, err := NewLocalCA(CAConfig{Name: "test", CommonName: "certctl test CA " + alg, KeyAlgorithm: alg, Validity: 3650 * 24 * time.Hour}, testNow)
	if err != nil {
		t.Fatalf("NewLocalCA(%s) error: %v", alg, err)
	}
	testCAs[alg] = ca
	return ca
}

// issue makes a key of alg, a CSR for subj and has ca sign it.
func issue(t testing.TB, ca *LocalCA, alg string, subj CSRSubject, usages []string, validity time.Duration) *Issued {
	t.Helper()
	csr, _, err := NewCSR(testKey(t, alg), subj)
	if err != nil {
		t.Fatalf("NewCSR error: %v", err)
	}
	iss, err := ca.Issue(context.Background(), IssueRequest{Name: "test", CSR: csr, Usages: usages, Validity: validity, Now: testNow})
	if err != nil {
		t.Fatalf("Issue(%s, %v) error: %v", alg, usages, err)
	}
	return iss
}

// issueForKey makes a key of alg and has ca sign it for subj, with no CSR.
// IssueForKey does not parse the leaf back: issueForKey does, sets Leaf,
// and checks that Summary equals what the parsed leaf says.
func issueForKey(t testing.TB, ca *LocalCA, alg string, subj CSRSubject, usages []string, validity time.Duration) *Issued {
	t.Helper()
	iss, err := ca.IssueForKey(context.Background(), IssueRequest{Name: "test", PublicKey: testKey(t, alg).Public(), Subject: subj, Usages: usages, Validity: validity, Now: testNow})
	if err != nil {
		t.Fatalf("IssueForKey(%s, %v) error: %v", alg, usages, err)
	}
	if iss.Leaf != nil {
		t.Fatal("IssueForKey parsed the leaf back")
	}
	summary := iss.Summary()
	if iss.Leaf, err = ParseCertificatePEM(iss.CertPEM); err != nil {
		t.Fatalf("IssueForKey(%s, %v) made an unreadable certificate: %v", alg, usages, err)
	}
	if parsed := iss.Summary(); summary != parsed {
		t.Fatalf("IssueForKey(%s, %v).Summary() = %+v, the parsed leaf says %+v", alg, usages, summary, parsed)
	}
	return iss
}

var (
	ninetyDays = 90 * 24 * time.Hour
	serverSubj = CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}, IPAddresses: []net.IP{net.ParseIP("8.8.8.8"), net.ParseIP("2001:4860:4860::8888")}}
	clientSubj = CSRSubject{CommonName: "client.example.com", IPAddresses: []net.IP{net.ParseIP("8.8.4.4")}, EmailAddresses: []string{"ops@example.com"}}
	emailSubj  = CSRSubject{CommonName: "alice@example.com", EmailAddresses: []string{"alice@example.com"}}
)

// usageCases are the usage combinations Issue accepts, with names that fit
// each.
var usageCases = []struct {
	usages []string
	subj   CSRSubject
	ekus   []x509.ExtKeyUsage
}{
	{[]string{"server_auth"}, serverSubj, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
	{[]string{"client_auth"}, clientSubj, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	{[]string{"server_auth", "client_auth"}, serverSubj, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
	{[]string{"email_protection"}, emailSubj, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}},
	{[]string{"client_auth", "email_protection", "client_auth"}, emailSubj, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}},
}

func TestIssueEveryKeyAndUsage(t *testing.T) {
	ca := testCA(t, ECDSAP384)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	for _, alg := range KeyAlgorithms {
		for _, uc := range usageCases {
			for _, is := range issuers {
				t.Run(alg+"/"+strings.Join(uc.usages, "+")+"/"+is.name, func(t *testing.T) {
					iss := is.issue(t, ca, alg, uc.subj, uc.usages, ninetyDays)
					leaf := iss.Leaf
					checkLeaf(t, ca, leaf, alg, uc.ekus)
					// Verify once per usage: x509.Verify wants the chain to allow
					// any one of opts.KeyUsages.
					for _, eku := range uc.ekus {
						opts := x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{eku}}
						if eku == x509.ExtKeyUsageServerAuth {
							opts.DNSName = uc.subj.DNSNames[0]
						}
						if _, err := leaf.Verify(opts); err != nil {
							t.Errorf("Verify(%v) error: %v", eku, err)
						}
					}
					if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err == nil {
						t.Error("Verify(CodeSigning) succeeded, want an EKU error")
					}
					wantSANs := slices.Concat([]string{uc.subj.CommonName}, uc.subj.DNSNames)
					if uc.subj.CommonName == emailSubj.CommonName {
						wantSANs = nil // an email address as CN is not copied to the DNS SANs
					}
					if !slices.Equal(leaf.DNSNames, wantSANs) {
						t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, wantSANs)
					}
					if !slices.EqualFunc(leaf.IPAddresses, uc.subj.IPAddresses, net.IP.Equal) {
						t.Errorf("IPAddresses = %v, want %v", leaf.IPAddresses, uc.subj.IPAddresses)
					}
					if !slices.Equal(leaf.EmailAddresses, uc.subj.EmailAddresses) {
						t.Errorf("EmailAddresses = %q, want %q", leaf.EmailAddresses, uc.subj.EmailAddresses)
					}
					if leaf.Subject.CommonName != uc.subj.CommonName {
						t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, uc.subj.CommonName)
					}
					if string(iss.ChainPEM) != string(ca.CertPEM()) {
						t.Error("ChainPEM is not the CA certificate")
					}
					if got, err := ParseCertificatePEM(iss.CertPEM); err != nil || !got.Equal(leaf) {
						t.Errorf("CertPEM does not hold Leaf (err %v)", err)
					}
				})
			}
		}
	}
}

// A subject without a CN gives a leaf with an empty subject, the CN's name
// first among the SANs and the subjectAltName extension critical (RFC 5280
// 4.2.1.6), by either way of issuing.
func TestIssueWithoutCommonName(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	subj := CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}}.WithoutCommonName()
	for _, is := range issuers {
		leaf := is.issue(t, ca, ECDSAP256, subj, []string{UsageServerAuth}, ninetyDays).Leaf
		if len(leaf.Subject.Names) != 0 || string(leaf.RawSubject) != "\x30\x00" {
			t.Errorf("%s: subject = %q (% x), want empty", is.name, leaf.Subject, leaf.RawSubject)
		}
		if want := []string{"www.example.com", "example.com"}; !slices.Equal(leaf.DNSNames, want) {
			t.Errorf("%s: DNSNames = %q, want %q", is.name, leaf.DNSNames, want)
		}
		i := slices.IndexFunc(leaf.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) })
		if i < 0 || !leaf.Extensions[i].Critical {
			t.Errorf("%s: subjectAltName missing or not critical (index %d)", is.name, i)
		}
	}
	// With a CN the extension is not critical.
	leaf := issueForKey(t, ca, ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays).Leaf
	for _, e := range leaf.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) && e.Critical {
			t.Error("subjectAltName is critical in a leaf with a subject CN")
		}
	}
}

// IssueForKey's Summary, taken from what it signed, is what parsing the
// leaf gives, to the representation of the times: where NotBefore is
// clamped to the CA's, NotAfter capped at the CA's, the times cross from
// UTCTime to GeneralizedTime (2050), and Now has nanoseconds, a monotonic
// reading and a zone other than UTC.
func TestIssueForKeySummary(t *testing.T) {
	zone := time.FixedZone("UTC+5", 5*3600)
	late := time.Date(2049, 6, 1, 12, 0, 0, 123456789, zone)
	lateCA, err := NewLocalCA(CAConfig{Name: "late", KeyAlgorithm: ECDSAP256, Validity: 3 * 365 * 24 * time.Hour}, late)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Now() // has a monotonic reading
	wallCA, err := NewLocalCA(CAConfig{Name: "wall", KeyAlgorithm: ECDSAP256, Validity: 365 * 24 * time.Hour}, wall)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ca       *LocalCA
		now      time.Time
		validity time.Duration
	}{
		{"ordinary", testCA(t, ECDSAP256), testNow, ninetyDays},
		{"clamped to the CA's notBefore, monotonic now", wallCA, time.Now(), ninetyDays},
		{"capped at the CA's notAfter", wallCA, time.Now(), 2 * 365 * 24 * time.Hour},
		{"into GeneralizedTime, zoned now", lateCA, late.Add(time.Hour), 365 * 24 * time.Hour},
		{"GeneralizedTime both", lateCA, late.AddDate(1, 0, 0), ninetyDays},
	}
	for _, tc := range tests {
		req := IssueRequest{Name: "www", PublicKey: testKey(t, ECDSAP256).Public(), Subject: CSRSubject{CommonName: "www.example.com"}, Usages: []string{UsageServerAuth}, Validity: tc.validity, Now: tc.now}
		iss, err := tc.ca.IssueForKey(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: IssueForKey: %v", tc.name, err)
		}
		got := iss.Summary()
		leaf, err := ParseCertificatePEM(iss.CertPEM)
		if err != nil {
			t.Fatal(err)
		}
		want := (&Issued{Leaf: leaf}).Summary()
		if got != want {
			t.Errorf("%s: Summary() = %+v, parsing the leaf gives %+v", tc.name, got, want)
		}
		if byHand := (&Issued{CertPEM: iss.CertPEM}).Summary(); byHand != want {
			t.Errorf("%s: Summary() of an Issued with only CertPEM = %+v, want %+v", tc.name, byHand, want)
		}
		if want.Serial != SerialHex(leaf) || want.Fingerprint != Fingerprint(leaf) || !want.NotAfter.Equal(leaf.NotAfter) {
			t.Errorf("%s: Summary of a parsed leaf = %+v, not its own serial, fingerprint and dates", tc.name, want)
		}
	}
	if got := (&Issued{CertPEM: []byte("not PEM")}).Summary(); got != (LeafSummary{}) {
		t.Errorf("Summary() with no readable leaf = %+v, want zero", got)
	}
}

// IssueForKey refuses what Issue refuses, and a request with no key; it
// ignores a CSR.
func TestIssueForKeyRefuses(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	key := testKey(t, ECDSAP256).Public()
	ok := IssueRequest{Name: "www", PublicKey: key, Subject: CSRSubject{CommonName: "www.example.com"}, Usages: []string{"server_auth"}, Validity: ninetyDays, Now: testNow}
	tests := []struct {
		name string
		edit func(*IssueRequest)
		want string
	}{
		{"no key", func(r *IssueRequest) { r.PublicKey = nil }, "no public key"},
		{"private key", func(r *IssueRequest) { r.PublicKey = testKey(t, ECDSAP256) }, "unsupported public key"},
		{"zero validity", func(r *IssueRequest) { r.Validity = 0 }, "not positive"},
		{"server with email SAN", func(r *IssueRequest) { r.Subject.EmailAddresses = []string{"a@example.com"} }, "email"},
		{"no names", func(r *IssueRequest) { r.Subject = CSRSubject{}; r.Usages = []string{"client_auth"} }, "names nothing"},
		{"CN that names nothing, left out", func(r *IssueRequest) {
			r.Subject = CSRSubject{CommonName: "Alice Example"}.WithoutCommonName()
			r.Usages = []string{"client_auth"}
		}, "names nothing"},
	}
	for _, tc := range tests {
		req := ok
		tc.edit(&req)
		iss, err := ca.IssueForKey(context.Background(), req)
		if err == nil {
			t.Errorf("%s: IssueForKey = %+v, nil; want an error", tc.name, iss.Summary())
			continue
		}
		if !strings.HasPrefix(err.Error(), "issuing www: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: IssueForKey error = %q, want \"issuing www: ...%s...\"", tc.name, err, tc.want)
		}
	}
	other, _, err := NewCSR(testKey(t, RSA2048), CSRSubject{CommonName: "other.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	req := ok
	req.CSR = other
	iss, err := ca.IssueForKey(context.Background(), req)
	if err != nil {
		t.Fatalf("IssueForKey with a CSR: %v", err)
	}
	if iss.Leaf, err = ParseCertificatePEM(iss.CertPEM); err != nil {
		t.Fatal(err)
	}
	if !iss.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key) || iss.Leaf.Subject.CommonName != "www.example.com" {
		t.Errorf("IssueForKey took the CSR: key %T, CN %q", iss.Leaf.PublicKey, iss.Leaf.Subject.CommonName)
	}
}

// checkLeaf checks what every leaf must have, whatever it names.
func checkLeaf(t *testing.T, ca *LocalCA, leaf *x509.Certificate, alg string, ekus []x509.ExtKeyUsage) {
	t.Helper()
	if got := KeyAlgorithmOf(leaf.PublicKey); got != alg {
		t.Errorf("leaf key algorithm = %q, want %q", got, alg)
	}
	if !leaf.BasicConstraintsValid || leaf.IsCA {
		t.Errorf("BasicConstraints valid=%v CA=%v, want present and CA:false", leaf.BasicConstraintsValid, leaf.IsCA)
	}
	if !slices.Equal(leaf.ExtKeyUsage, ekus) {
		t.Errorf("ExtKeyUsage = %v, want %v", leaf.ExtKeyUsage, ekus)
	}
	wantKU := x509.KeyUsageDigitalSignature
	if alg == RSA2048 || alg == RSA3072 || alg == RSA4096 {
		if slices.Contains(ekus, x509.ExtKeyUsageServerAuth) || slices.Contains(ekus, x509.ExtKeyUsageEmailProtection) {
			wantKU |= x509.KeyUsageKeyEncipherment
		}
	}
	if leaf.KeyUsage != wantKU {
		t.Errorf("KeyUsage = %b, want %b", leaf.KeyUsage, wantKU)
	}
	if leaf.SubjectKeyId != nil {
		t.Errorf("SubjectKeyId = %x, want none (TLS BR 7.1.2.7.6)", leaf.SubjectKeyId)
	}
	if len(ca.Certificate().SubjectKeyId) == 0 || !slices.Equal(leaf.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want the CA's SKID %x", leaf.AuthorityKeyId, ca.Certificate().SubjectKeyId)
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 127 {
		t.Errorf("serial %x is not positive and at most 127 bits", leaf.SerialNumber)
	}
	if err := leaf.CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Errorf("leaf signature does not verify with the CA: %v", err)
	}
	if len(leaf.Policies) != 1 {
		t.Errorf("Policies = %v, want exactly one", leaf.Policies)
	}
}

// rfc7093 computes the key identifier independently of subjectKeyID.
func rfc7093(t *testing.T, spki []byte) []byte {
	t.Helper()
	var v struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &v); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(v.Key.Bytes)
	return sum[:20]
}

func TestIssueValidity(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	leaf := issue(t, ca, ECDSAP256, serverSubj, []string{"server_auth"}, ninetyDays).Leaf
	if want := testNow.Add(-Backdate); !leaf.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %s, want %s (now - Backdate)", leaf.NotBefore, want)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; got != ninetyDays {
		t.Errorf("inclusive lifetime = %s, want %s", got, ninetyDays)
	}
}

func TestIssueCappedAtCA(t *testing.T) {
	ca, err := NewLocalCA(CAConfig{Name: "short", Validity: 30 * 24 * time.Hour}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	leaf := issue(t, ca, ECDSAP256, serverSubj, []string{"server_auth"}, 365*24*time.Hour).Leaf
	if !leaf.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("NotAfter = %s, want the CA's %s", leaf.NotAfter, ca.Certificate().NotAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: leaf.NotAfter, DNSName: "www.example.com"}); err != nil {
		t.Errorf("capped leaf does not verify at its NotAfter: %v", err)
	}
	// Within the CA's lifetime, the request is honoured.
	leaf = issue(t, ca, ECDSAP256, serverSubj, []string{"server_auth"}, 24*time.Hour).Leaf
	if leaf.NotAfter.Sub(leaf.NotBefore) != 24*time.Hour-time.Second {
		t.Errorf("short leaf lifetime = %s, want 24h-1s", leaf.NotAfter.Sub(leaf.NotBefore))
	}
}

func TestIssueSerials(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	seen := map[string]bool{}
	maxBits := 0
	for range 64 {
		s := issue(t, ca, ECDSAP256, serverSubj, []string{"server_auth"}, ninetyDays).Leaf.SerialNumber
		if s.Sign() <= 0 || s.BitLen() > 127 {
			t.Fatalf("serial %x is not positive and at most 127 bits", s)
		}
		if seen[s.String()] {
			t.Fatalf("serial %x issued twice", s)
		}
		seen[s.String()] = true
		maxBits = max(maxBits, s.BitLen())
	}
	// 64 draws all below 120 bits happen with probability 2^-448.
	if maxBits < 120 {
		t.Errorf("largest of 64 serials has %d bits, want about 127: serials are not 128-bit random", maxBits)
	}
}

func TestIssueRefuses(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	csr, _, err := NewCSR(testKey(t, ECDSAP256), serverSubj)
	if err != nil {
		t.Fatal(err)
	}
	badSig := *csr
	badSig.Signature = slices.Clone(csr.Signature)
	badSig.Signature[len(badSig.Signature)-1] ^= 0xff
	mailCSR, _, _ := NewCSR(testKey(t, ECDSAP256), CSRSubject{CommonName: "www.example.com", EmailAddresses: []string{"a@example.com"}})
	emptyCSR, _, _ := NewCSR(testKey(t, ECDSAP256), CSRSubject{})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	caNB, caNA := ca.Certificate().NotBefore, ca.Certificate().NotAfter

	ok := IssueRequest{Name: "www", CSR: csr, Usages: []string{"server_auth"}, Validity: ninetyDays, Now: testNow}
	tests := []struct {
		name string
		ctx  context.Context
		edit func(*IssueRequest)
		want string
	}{
		{"bad CSR signature", nil, func(r *IssueRequest) { r.CSR = &badSig }, "signature"},
		{"nil CSR", nil, func(r *IssueRequest) { r.CSR = nil }, "no CSR"},
		{"zero validity", nil, func(r *IssueRequest) { r.Validity = 0 }, "not positive"},
		{"negative validity", nil, func(r *IssueRequest) { r.Validity = -time.Hour }, "not positive"},
		{"validity shorter than backdate", nil, func(r *IssueRequest) { r.Validity = 30 * time.Second }, "too short"},
		{"zero now", nil, func(r *IssueRequest) { r.Now = time.Time{} }, "issuance time"},
		{"before CA", nil, func(r *IssueRequest) { r.Now = caNB.Add(-time.Hour) }, "not valid"},
		{"after CA", nil, func(r *IssueRequest) { r.Now = caNA.Add(time.Second) }, "not valid"},
		{"unknown usage", nil, func(r *IssueRequest) { r.Usages = []string{"server_auth", "code_signing"} }, `"code_signing"`},
		{"no usages", nil, func(r *IssueRequest) { r.Usages = nil }, "no usages"},
		{"server and email usages", nil, func(r *IssueRequest) { r.Usages = []string{"server_auth", "email_protection"} }, "cannot be combined"},
		{"server with email SAN", nil, func(r *IssueRequest) { r.CSR = mailCSR }, "email"},
		{"no names", nil, func(r *IssueRequest) { r.CSR = emptyCSR; r.Usages = []string{"client_auth"} }, "names nothing"},
		{"canceled", canceled, func(*IssueRequest) {}, "canceled"},
	}
	for _, tc := range tests {
		req := ok
		tc.edit(&req)
		ctx := tc.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		iss, err := ca.Issue(ctx, req)
		if err == nil {
			t.Errorf("%s: Issue = %v, nil; want an error", tc.name, iss.Leaf.Subject)
			continue
		}
		if !strings.HasPrefix(err.Error(), "issuing www: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Issue error = %q, want \"issuing www: ...%s...\"", tc.name, err, tc.want)
		}
	}
	if _, err := ca.Issue(context.Background(), ok); err != nil {
		t.Errorf("the unedited request fails: %v", err)
	}
}

// A CSR from elsewhere (an agent, another tool) gets the same treatment as
// one from NewCSR: CN added to the SANs, only CN and DNS/IP/email SANs
// copied.
func TestIssueForeignCSR(t *testing.T) {
	uri, _ := url.Parse("spiffe://example.com/x")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "x.example.com", Organization: []string{"Not Vouched For"}},
		DNSNames: []string{"y.example.com"},
		URIs:     []*url.URL{uri},
	}, testKey(t, ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := testCA(t, ECDSAP256).Issue(context.Background(), IssueRequest{Name: "x", CSR: csr, Usages: []string{UsageServerAuth}, Validity: ninetyDays, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	leaf := iss.Leaf
	if want := []string{"x.example.com", "y.example.com"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, want)
	}
	if len(leaf.URIs) != 0 || leaf.Subject.String() != "CN=x.example.com" {
		t.Errorf("URIs %v, subject %q; want no URIs and CN only", leaf.URIs, leaf.Subject)
	}
	if leaf.AuthorityKeyId == nil || leaf.SubjectKeyId != nil {
		t.Errorf("key identifiers: authority %x, subject %x; want the authority's only", leaf.AuthorityKeyId, leaf.SubjectKeyId)
	}

	der, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "8.8.8.8"}}, testKey(t, ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	csr, _ = x509.ParseCertificateRequest(der)
	iss, err = testCA(t, ECDSAP256).Issue(context.Background(), IssueRequest{Name: "ip", CSR: csr, Usages: []string{UsageServerAuth}, Validity: ninetyDays, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if want := []net.IP{net.ParseIP("8.8.8.8")}; !slices.EqualFunc(iss.Leaf.IPAddresses, want, net.IP.Equal) || len(iss.Leaf.DNSNames) != 0 {
		t.Errorf("IP CN: IPAddresses %v, DNSNames %q; want %v and none", iss.Leaf.IPAddresses, iss.Leaf.DNSNames, want)
	}
}

func TestIssueLongCommonName(t *testing.T) {
	long := strings.Repeat("a", 60) + ".example.com"
	leaf := issue(t, testCA(t, ECDSAP256), ECDSAP256, CSRSubject{CommonName: long}, []string{"server_auth"}, ninetyDays).Leaf
	if leaf.Subject.CommonName != "" || !slices.Equal(leaf.DNSNames, []string{long}) {
		t.Errorf("CN %q, DNSNames %q; want no CN and the name as SAN", leaf.Subject.CommonName, leaf.DNSNames)
	}
}

func TestIssueConcurrent(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	csr, _, err := NewCSR(testKey(t, ECDSAP256), serverSubj)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		serials = map[string]bool{}
	)
	for range 8 {
		wg.Go(func() {
			for range 16 {
				iss, err := ca.Issue(context.Background(), IssueRequest{Name: "c", CSR: csr, Usages: []string{"server_auth"}, Validity: ninetyDays, Now: testNow})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				serials[iss.Leaf.SerialNumber.String()] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(serials) != 8*16 {
		t.Errorf("%d distinct serials from %d issues", len(serials), 8*16)
	}
}

func TestNewLocalCA(t *testing.T) {
	for _, alg := range KeyAlgorithms {
		t.Run(alg, func(t *testing.T) {
			ca := testCA(t, alg)
			root := ca.Certificate()
			if got := KeyAlgorithmOf(root.PublicKey); got != alg {
				t.Errorf("root key algorithm = %q, want %q", got, alg)
			}
			if err := root.CheckSignatureFrom(root); err != nil {
				t.Errorf("root is not self-signed: %v", err)
			}
			if !root.BasicConstraintsValid || !root.IsCA || root.MaxPathLen > 0 || root.MaxPathLenZero {
				t.Errorf("BasicConstraints = valid %v, CA %v, pathlen %d/%v; want CA with no path length", root.BasicConstraintsValid, root.IsCA, root.MaxPathLen, root.MaxPathLenZero)
			}
			if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature; root.KeyUsage != want {
				t.Errorf("KeyUsage = %b, want %b", root.KeyUsage, want)
			}
			for _, oid := range []asn1.ObjectIdentifier{{2, 5, 29, 19}, {2, 5, 29, 15}} {
				i := slices.IndexFunc(root.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oid) })
				if i < 0 || !root.Extensions[i].Critical {
					t.Errorf("extension %v missing or not critical", oid)
				}
			}
			if want := rfc7093(t, root.RawSubjectPublicKeyInfo); !slices.Equal(root.SubjectKeyId, want) {
				t.Errorf("SubjectKeyId = %x, want %x", root.SubjectKeyId, want)
			}
			if root.SerialNumber.Sign() <= 0 || root.SerialNumber.BitLen() > 127 {
				t.Errorf("serial %x is not positive and at most 127 bits", root.SerialNumber)
			}
			if got, want := root.Subject.String(), "CN=certctl test CA "+alg+",O=certctl,C=XX"; got != want {
				t.Errorf("subject = %q, want %q", got, want)
			}
		})
	}
}

func TestNewLocalCADefaults(t *testing.T) {
	ca, err := NewLocalCA(CAConfig{Name: "internal"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	root := ca.Certificate()
	if root.Subject.CommonName != "certctl internal CA" {
		t.Errorf("CN = %q, want %q", root.Subject.CommonName, "certctl internal CA")
	}
	if got := KeyAlgorithmOf(root.PublicKey); got != DefaultCAKeyAlgorithm {
		t.Errorf("key algorithm = %q, want %q", got, DefaultCAKeyAlgorithm)
	}
	if got := root.NotAfter.Sub(root.NotBefore) + time.Second; got != DefaultCAValidity {
		t.Errorf("lifetime = %s, want %s", got, DefaultCAValidity)
	}
	if !root.NotBefore.Equal(testNow.Add(-Backdate)) {
		t.Errorf("NotBefore = %s, want now - Backdate", root.NotBefore)
	}
}

func TestNewLocalCAErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  CAConfig
		now  time.Time
		want string
	}{
		"unknown alg":       {CAConfig{Name: "x", KeyAlgorithm: "dsa"}, testNow, `"dsa"`},
		"negative validity": {CAConfig{Name: "x", Validity: -time.Hour}, testNow, "negative"},
		"long CN":           {CAConfig{Name: "x", CommonName: strings.Repeat("c", 65)}, testNow, "longer than 64"},
		"bad country":       {CAConfig{Name: "x", Country: "usa"}, testNow, "ISO 3166"},
		"zero now":          {CAConfig{Name: "x"}, time.Time{}, "creation time"},
	} {
		_, err := NewLocalCA(tc.cfg, tc.now)
		if err == nil || !strings.HasPrefix(err.Error(), "creating local CA x: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewLocalCA error = %v, want \"creating local CA x: ...%s...\"", name, err, tc.want)
		}
	}
}

func TestLoadLocalCA(t *testing.T) {
	orig := testCA(t, RSA2048)
	keyPEM, err := orig.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadLocalCA(orig.CertPEM(), keyPEM)
	if err != nil {
		t.Fatalf("LoadLocalCA error: %v", err)
	}
	if !loaded.Certificate().Equal(orig.Certificate()) || string(loaded.CertPEM()) != string(orig.CertPEM()) {
		t.Error("loaded CA has a different certificate")
	}
	leaf := issue(t, loaded, ECDSAP256, serverSubj, []string{"server_auth"}, ninetyDays).Leaf
	roots := x509.NewCertPool()
	roots.AddCert(orig.Certificate())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, DNSName: "www.example.com"}); err != nil {
		t.Errorf("leaf of the loaded CA does not verify against the original: %v", err)
	}

	otherKey, _ := MarshalPrivateKeyPEM(testKey(t, RSA2048))
	leafIss := issue(t, orig, ECDSAP256, serverSubj, []string{"server_auth"}, ninetyDays)
	leafKey, _ := MarshalPrivateKeyPEM(testKey(t, ECDSAP256))
	for name, tc := range map[string]struct {
		cert, key []byte
		want      string
	}{
		"wrong key":  {orig.CertPEM(), otherKey, "does not match"},
		"not a CA":   {leafIss.CertPEM, leafKey, "not a CA"},
		"no cert":    {nil, keyPEM, "no CERTIFICATE"},
		"no key":     {orig.CertPEM(), nil, "no PEM block"},
		"key as crt": {keyPEM, keyPEM, "no CERTIFICATE"},
	} {
		if _, err := LoadLocalCA(tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadLocalCA error = %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestWithURLs(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	urls := CAURLs{IssuerURL: "http://pki.example.com/ca.crt", OCSPURL: "http://pki.example.com/ocsp", CRLURL: "http://pki.example.com/ca.crl"}
	withURLs, err := ca.WithURLs(urls)
	if err != nil {
		t.Fatal(err)
	}
	if ca.URLs() != (CAURLs{}) || withURLs.URLs() != urls {
		t.Errorf("URLs: original %+v, copy %+v; want original unchanged", ca.URLs(), withURLs.URLs())
	}
	leaf := issue(t, withURLs, ECDSAP256, serverSubj, []string{"server_auth"}, ninetyDays).Leaf
	if !slices.Equal(leaf.IssuingCertificateURL, []string{urls.IssuerURL}) || !slices.Equal(leaf.OCSPServer, []string{urls.OCSPURL}) || !slices.Equal(leaf.CRLDistributionPoints, []string{urls.CRLURL}) {
		t.Errorf("leaf URLs = %q %q %q, want %+v", leaf.IssuingCertificateURL, leaf.OCSPServer, leaf.CRLDistributionPoints, urls)
	}
	plain := issue(t, ca, ECDSAP256, serverSubj, []string{"server_auth"}, ninetyDays).Leaf
	if len(plain.IssuingCertificateURL)+len(plain.OCSPServer)+len(plain.CRLDistributionPoints) != 0 {
		t.Error("a CA without URLs put URLs in a leaf")
	}
	for _, bad := range []string{"pki.example.com/ca.crl", "ldap://x/y", "http://", "http://[::1"} {
		if _, err := ca.WithURLs(CAURLs{CRLURL: bad}); err == nil {
			t.Errorf("WithURLs(CRLURL %q) = nil error, want one", bad)
		}
	}
}
