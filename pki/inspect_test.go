package pki

import (
	"encoding/pem"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
)

// testdata/fixture.pem was made by `openssl req -x509 -set_serial
// 0x00ab01cd02`; the expected values are what `openssl x509 -fingerprint
// -sha256 -serial` printed for it.
const (
	fixtureFingerprint = "f76f1594f81b159418bae5ac26a7c8f3bb4b9cc530e414ef9fa423eade4cc6cd"
	fixtureSerial      = "ab01cd02"
)

func readFixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/fixture.pem")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInspectFixture(t *testing.T) {
	cert, err := ParseCertificatePEM(readFixture(t))
	if err != nil {
		t.Fatalf("ParseCertificatePEM error: %v", err)
	}
	if got := cert.Subject.CommonName; got != "fixture.example.com" {
		t.Errorf("CN = %q, want fixture.example.com", got)
	}
	if got := Fingerprint(cert); got != fixtureFingerprint {
		t.Errorf("Fingerprint = %s, want %s", got, fixtureFingerprint)
	}
	if got := SerialHex(cert); got != fixtureSerial {
		t.Errorf("SerialHex = %s, want %s", got, fixtureSerial)
	}
	if got := EncodeCertificatePEM(cert.Raw); string(got) != string(readFixture(t)) {
		t.Errorf("EncodeCertificatePEM(DER) differs from the openssl PEM:\n%s", got)
	}
}

func TestSerialHex(t *testing.T) {
	cert, _ := ParseCertificatePEM(readFixture(t))
	for _, tc := range []struct {
		n    *big.Int
		want string
	}{{big.NewInt(1), "01"}, {big.NewInt(0xabc), "0abc"}, {big.NewInt(0xabcd), "abcd"}, {new(big.Int).Lsh(big.NewInt(1), 127), "8" + strings.Repeat("0", 31)}} {
		c := *cert
		c.SerialNumber = tc.n
		if got := SerialHex(&c); got != tc.want {
			t.Errorf("SerialHex(serial %v) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestParseCertificatesPEM(t *testing.T) {
	fixture := readFixture(t)
	ca := testCA(t, ECDSAP256)
	other := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	bundle := slices.Concat(other, fixture, []byte("comment\n"), ca.CertPEM(), other)

	certs, err := ParseCertificatesPEM(bundle)
	if err != nil {
		t.Fatalf("ParseCertificatesPEM error: %v", err)
	}
	if len(certs) != 2 || Fingerprint(certs[0]) != fixtureFingerprint || !certs[1].Equal(ca.Certificate()) {
		t.Errorf("ParseCertificatesPEM(bundle) = %d certificates, want fixture then CA", len(certs))
	}
	first, err := ParseCertificatePEM(bundle)
	if err != nil || Fingerprint(first) != fixtureFingerprint {
		t.Errorf("ParseCertificatePEM(bundle) = %v, %v; want the fixture (skipping the key block)", first, err)
	}

	if certs, err := ParseCertificatesPEM(nil); err != nil || len(certs) != 0 {
		t.Errorf("ParseCertificatesPEM(nil) = %d, %v; want 0, nil", len(certs), err)
	}
	if _, err := ParseCertificatePEM(other); err == nil {
		t.Error("ParseCertificatePEM(no certificate) = nil error, want one")
	}
	bad := EncodeCertificatePEM([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	if _, err := ParseCertificatesPEM(slices.Concat(fixture, bad)); err == nil || !strings.Contains(err.Error(), "certificate 2") {
		t.Errorf("ParseCertificatesPEM(good, bad) error = %v, want one naming certificate 2", err)
	}
	if _, err := ParseCertificatePEM(bad); err == nil {
		t.Error("ParseCertificatePEM(bad) = nil error, want one")
	}
}
