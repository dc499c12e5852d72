package acme

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme/acmetest"
)

// Without ARI, RenewalInfo says so and a renewal is ordered without
// "replaces". Pebble always has ARI, so the issuer is told otherwise.
func TestWithoutARI(t *testing.T) {
	SetLogger(nil)
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	iss, _, err := New(ctx, Config{
		Directory: p.DirectoryURL, CABundle: p.RootsPEM, Profile: "default",
		HTTP01: &HTTP01{Port: p.HTTPPort, Iface: "127.0.0.1"}, PollInterval: 50 * time.Millisecond, Timeout: 5 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := func() pki.IssueRequest {
		key, err := pki.GenerateKey(pki.ECDSAP384)
		if err != nil {
			t.Fatal(err)
		}
		csr, _, err := pki.NewCSR(key, pki.CSRSubject{DNSNames: []string{"noari.example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		return pki.IssueRequest{Name: "noari", CSR: csr}
	}
	first, err := iss.Issue(ctx, req())
	if err != nil {
		t.Fatal(err)
	}
	iss.ari = false
	if _, _, ok, err := iss.RenewalInfo(ctx, first.Leaf); ok || err != nil {
		t.Errorf("RenewalInfo without ARI = %v, %v; want not ok, no error", ok, err)
	}
	r := req()
	r.Replaces = first.Leaf
	if _, err := iss.Issue(ctx, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Logs(), "is a replacement of") {
		t.Errorf("an order named the replaced certificate although ARI is off")
	}
}
