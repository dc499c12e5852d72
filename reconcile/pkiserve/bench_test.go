package pkiserve

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// benchSnapshot is a state of n certificates of one local CA, every
// tenth revoked. The CA key is stored in clear: unseal is the identity.
func benchSnapshot(b *testing.B, n int) (*spec.Config, *state.Snapshot, *pki.LocalCA) {
	now := time.Now()
	ca, err := pki.NewLocalCA(pki.CAConfig{Name: "internal"}, now)
	if err != nil {
		b.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		b.Fatal(err)
	}
	snap := &state.Snapshot{
		Lineage:      "0123456789abcdef0123456789abcdef",
		Serial:       42,
		Issuers:      map[string]*state.Issuer{"internal": {Name: "internal", Type: spec.IssuerTypeLocalCA, CertPEM: ca.CertPEM(), KeySealed: keyPEM}},
		Certificates: map[string]*state.Certificate{},
		Revocations:  map[string][]*state.Revocation{},
		CRLNumbers:   map[string]uint64{"internal": uint64(n / 10)},
	}
	for i := range n {
		name := fmt.Sprintf("svc-%05d", i)
		serial := fmt.Sprintf("%032x", i+1)
		snap.Certificates[name] = &state.Certificate{Name: name, Issuer: "internal", Serial: serial, History: []state.Version{{Serial: fmt.Sprintf("%032x", n+i+1)}}}
		if i%10 == 0 {
			snap.Revocations["internal"] = append(snap.Revocations["internal"], &state.Revocation{Issuer: "internal", Serial: serial, Name: name, RevokedAt: now, Reason: 1, NotAfter: now.Add(time.Hour)})
		}
	}
	cfg := &spec.Config{Issuers: map[string]*spec.Issuer{"internal": {Type: spec.IssuerTypeLocalCA, Name: "internal"}}}
	return cfg, snap, ca
}

func identity(b []byte) ([]byte, error) { return b, nil }

// BenchmarkUpdate10k is the cost of Server.Update after a watch pass
// over 10,000 certificates (1,000 revoked): unchanged, the state as it
// was (same serial); changed, a write since (the serial moved) but the
// same revocations, so the CRL is kept.
func BenchmarkUpdate10k(b *testing.B) {
	for _, changed := range []bool{false, true} {
		b.Run(map[bool]string{false: "unchanged", true: "changed"}[changed], func(b *testing.B) {
			cfg, snap, _ := benchSnapshot(b, 10000)
			s := New()
			now := time.Now()
			if err := s.Update(cfg, snap, identity, now); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if changed {
					snap.Serial++
				}
				if err := s.Update(cfg, snap, identity, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServeOCSP is one OCSP POST through the handler (no network).
func BenchmarkServeOCSP(b *testing.B) {
	cfg, snap, ca := benchSnapshot(b, 10000)
	s := New()
	if err := s.Update(cfg, snap, identity, time.Now()); err != nil {
		b.Fatal(err)
	}
	leaf := *ca.Certificate()
	leaf.SerialNumber, _ = pki.ParseSerialHex(fmt.Sprintf("%032x", 5))
	req, err := ocsp.CreateRequest(&leaf, ca.Certificate(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("POST", "/.well-known/pki/ocsp/internal", bytes.NewReader(req)))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkServeCRL is one CRL GET of a cached CRL with 1,000 entries.
func BenchmarkServeCRL(b *testing.B) {
	cfg, snap, _ := benchSnapshot(b, 10000)
	s := New()
	if err := s.Update(cfg, snap, identity, time.Now()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/pki/crl/internal", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
