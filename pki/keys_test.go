package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// testKeys caches one key per algorithm: RSA-4096 generation is slow and
// most tests only need some key of each kind.
var testKeys = map[string]crypto.Signer{}

func testKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	if k, ok := testKeys[alg]; ok {
		return k
	}
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%q) error: %v", alg, err)
	}
	testKeys[alg] = k
	return k
}

func TestKeyRoundTrip(t *testing.T) {
	for _, alg := range KeyAlgorithms {
		t.Run(alg, func(t *testing.T) {
			key, err := GenerateKey(alg)
			if err != nil {
				t.Fatalf("GenerateKey(%q) error: %v", alg, err)
			}
			if got := KeyAlgorithmOf(key.Public()); got != alg {
				t.Errorf("KeyAlgorithmOf(public) = %q, want %q", got, alg)
			}
			if got := KeyAlgorithmOf(key); got != alg {
				t.Errorf("KeyAlgorithmOf(private) = %q, want %q", got, alg)
			}
			pemBytes, err := MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatalf("MarshalPrivateKeyPEM error: %v", err)
			}
			if block, _ := pem.Decode(pemBytes); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("MarshalPrivateKeyPEM gave %q, want a PRIVATE KEY block", firstLine(pemBytes))
			}
			back, err := ParsePrivateKeyPEM(pemBytes)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM error: %v", err)
			}
			if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Errorf("ParsePrivateKeyPEM(MarshalPrivateKeyPEM(key)) has a different public key")
			}
			if got := KeyAlgorithmOf(back.Public()); got != alg {
				t.Errorf("KeyAlgorithmOf(parsed) = %q, want %q", got, alg)
			}
		})
	}
}

func TestGenerateKeyUnknown(t *testing.T) {
	for _, alg := range []string{"", "rsa-1024", "ECDSA-P256", "ecdsa-p521"} {
		_, err := GenerateKey(alg)
		if err == nil {
			t.Errorf("GenerateKey(%q) = nil error, want one", alg)
			continue
		}
		if !strings.Contains(err.Error(), `"`+alg+`"`) {
			t.Errorf("GenerateKey(%q) error %q does not quote the value", alg, err)
		}
	}
}

func TestKeyAlgorithmOfOther(t *testing.T) {
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, pub := range map[string]crypto.PublicKey{"p521": p521.Public(), "rsa1024": rsa1024.Public(), "nil": nil, "string": "x"} {
		if got := KeyAlgorithmOf(pub); got != "" {
			t.Errorf("KeyAlgorithmOf(%s) = %q, want \"\"", name, got)
		}
	}
}

func TestParsePrivateKeyPEMLegacyForms(t *testing.T) {
	rsaKey := testKey(t, RSA2048).(*rsa.PrivateKey)
	ecKey := testKey(t, ECDSAP256).(*ecdsa.PrivateKey)
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	for name, tc := range map[string]struct {
		pem  []byte
		want crypto.PublicKey
	}{
		"pkcs1":       {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey.Public()},
		"sec1":        {pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), ecKey.Public()},
		"sec1+params": {append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...), ecKey.Public()},
	} {
		got, err := ParsePrivateKeyPEM(tc.pem)
		if err != nil {
			t.Errorf("ParsePrivateKeyPEM(%s) error: %v", name, err)
			continue
		}
		if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want) {
			t.Errorf("ParsePrivateKeyPEM(%s) returned a different key", name)
		}
	}
}

func TestParsePrivateKeyPEMErrors(t *testing.T) {
	cert := EncodeCertificatePEM([]byte{0x30, 0x00})
	garbage := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key, secret-ish")})
	for name, in := range map[string][]byte{"empty": nil, "text": []byte("hello"), "cert": cert, "garbage": garbage} {
		_, err := ParsePrivateKeyPEM(in)
		if err == nil {
			t.Errorf("ParsePrivateKeyPEM(%s) = nil error, want one", name)
			continue
		}
		if strings.Contains(err.Error(), "secret-ish") {
			t.Errorf("ParsePrivateKeyPEM(%s) error leaks input: %v", name, err)
		}
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
