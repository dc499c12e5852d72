package discover

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testCA makes a certificate signed by parent (self-signed when nil).
func makeCert(t testing.TB, cn string, isCA bool, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, dns ...string) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, DNSNames: dns,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func write(t testing.TB, path string, parts ...[]byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, slices.Concat(parts...), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDir(t *testing.T) {
	rootKey, interKey := ecKey(t), ecKey(t)
	root := makeCert(t, "Root", true, rootKey, nil, nil)
	inter := makeCert(t, "Intermediate", true, interKey, root, rootKey)
	wwwKey := ecKey(t)
	www := makeCert(t, "www.example.com", false, wwwKey, inter, interKey, "www.example.com")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	api := makeCert(t, "api.example.com", false, rsaKey, inter, interKey, "api.example.com")
	lone := makeCert(t, "lone.example.com", false, ecKey(t), inter, interKey, "lone.example.com")

	dir := t.TempDir()
	wwwKeyDER, _ := x509.MarshalPKCS8PrivateKey(wwwKey)
	write(t, filepath.Join(dir, "www.crt"), pemOf("CERTIFICATE", www.Raw))
	write(t, filepath.Join(dir, "www.fullchain.crt"), pemOf("CERTIFICATE", www.Raw), pemOf("CERTIFICATE", inter.Raw))
	write(t, filepath.Join(dir, "keys", "www.key"), pemOf("PRIVATE KEY", wwwKeyDER))
	write(t, filepath.Join(dir, "ca", "root.pem"), pemOf("CERTIFICATE", root.Raw))
	// DER certificate with a PKCS #1 key in DER.
	write(t, filepath.Join(dir, "api.der"), api.Raw)
	write(t, filepath.Join(dir, "api.key.der"), x509.MarshalPKCS1PrivateKey(rsaKey))
	// A leaf whose key is encrypted.
	write(t, filepath.Join(dir, "lone.pem"), pemOf("CERTIFICATE", lone.Raw), pemOf("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}))
	write(t, filepath.Join(dir, "README"), []byte("not a certificate\n"))
	write(t, filepath.Join(dir, ".git", "x.pem"), pemOf("CERTIFICATE", makeCert(t, "hidden.example.com", false, ecKey(t), nil, nil).Raw))

	res, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Leaves {
		var chain []string
		for _, c := range f.Chain {
			chain = append(chain, c.Subject.CommonName)
		}
		got = append(got, strings.Join([]string{filepath.Base(f.Source), f.Leaf.Subject.CommonName, strings.Join(chain, ","), map[bool]string{true: "key", false: "no key"}[f.Key != nil]}, " "))
	}
	want := []string{
		"api.der api.example.com Intermediate key",
		"lone.pem lone.example.com Intermediate no key",
		"www.crt www.example.com Intermediate key",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Dir() leaves =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.CAs != 2 || res.Files != 8 {
		t.Errorf("Dir() CAs = %d, Files = %d; want 2 and 8", res.CAs, res.Files)
	}
	if len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "lone.pem: encrypted private key") {
		t.Errorf("Dir() Skipped = %q", res.Skipped)
	}

	if _, err := Dir(filepath.Join(dir, "missing")); err == nil {
		t.Error("Dir(missing) succeeded")
	}
}

// TestEndpoint runs a TLS server on loopback that picks its certificate by
// SNI, and reads both.
func TestEndpoint(t *testing.T) {
	caKey := ecKey(t)
	ca := makeCert(t, "CA", true, caKey, nil, nil)
	pair := func(name string) tls.Certificate {
		k := ecKey(t)
		c := makeCert(t, name, false, k, ca, caKey, name)
		return tls.Certificate{Certificate: [][]byte{c.Raw, ca.Raw}, PrivateKey: k}
	}
	a, b := pair("a.example.com"), pair("b.example.com")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hi.ServerName == "b.example.com" {
				return &b, nil
			}
			return &a, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	addr := ln.Addr().String()
	for _, tt := range []struct{ sni, want, source string }{
		{"", "a.example.com", addr},
		{"b.example.com", "b.example.com", "b.example.com@" + addr},
	} {
		f, err := Endpoint(t.Context(), addr, tt.sni, 5*time.Second)
		if err != nil {
			t.Fatalf("Endpoint(%s, %q) = %v", addr, tt.sni, err)
		}
		// The CA is self-signed: a root, so not in the chain.
		if f.Leaf.Subject.CommonName != tt.want || len(f.Chain) != 0 || f.Key != nil || f.Source != tt.source {
			t.Errorf("Endpoint(%s, %q) = %s chain %d source %s", addr, tt.sni, f.Leaf.Subject.CommonName, len(f.Chain), f.Source)
		}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if _, err := Endpoint(t.Context(), closed, "", time.Second); err == nil || !strings.Contains(err.Error(), closed) {
		t.Errorf("Endpoint(closed port) = %v, want an error naming it", err)
	}
}
