package acme_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/pki/acme/acmetest"
)

// Pebble rejects a share of good nonces as badNonce; lego retries them.
func TestFaultNonceReject(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true, NonceReject: 30})
	iss, _ := newIssuer(t, pebbleConfig(p))
	for range 2 {
		checkIssued(t, p, issue(t, iss, request(t, "nonce.example.com")), "nonce.example.com")
	}
	if !strings.Contains(p.Logs(), "Configured to reject 30% of good nonces") {
		t.Errorf("pebble was not configured to reject nonces:\n%s", p.Logs())
	}
}

func TestFaultCADown(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	iss, acct := newIssuer(t, cfg)
	p.Stop()

	start := time.Now()
	_, err := iss.Issue(ctxT(t), request(t, "down.example.com"))
	if err == nil || !strings.Contains(err.Error(), "CA unreachable") || !strings.Contains(err.Error(), "down.example.com") {
		t.Errorf("Issue with the CA down = %v, want \"CA unreachable\" naming the certificate", err)
	}
	t.Logf("Issue failed after %v: %v", time.Since(start), err)

	_, _, err = acme.New(ctxT(t), cfg, acct)
	if err == nil || !strings.Contains(err.Error(), "CA unreachable") {
		t.Errorf("New with the CA down = %v, want \"CA unreachable\"", err)
	}
}

func TestFaultWrongCABundle(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	cfg.CABundle = selfSignedPEM(t)
	_, _, err := acme.New(ctxT(t), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "certificate verification failed") || !strings.Contains(err.Error(), "ca_bundle") {
		t.Fatalf("New(wrong ca_bundle) = %v, want a TLS verification error pointing at ca_bundle", err)
	}
	t.Logf("error reads: %v", err)

	cfg.CABundle = nil // system roots do not know pebble either
	if _, _, err := acme.New(ctxT(t), cfg, nil); err == nil || !strings.Contains(err.Error(), "certificate verification failed") {
		t.Errorf("New(no ca_bundle) = %v", err)
	}
}

func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Not Pebble"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodeCertificatePEM(der)
}
