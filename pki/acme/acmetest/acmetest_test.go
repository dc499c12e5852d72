package acmetest_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/certctl/certctl/pki/acme/acmetest"
)

func TestStartPebble(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	resp, err := p.HTTPClient().Get(p.DirectoryURL)
	if err != nil {
		t.Fatalf("GET directory with RootsPEM: %v", err)
	}
	resp.Body.Close()
	if p.HTTPPort == 0 {
		t.Errorf("HTTPPort not set")
	}
	roots, inter := p.IssuerRoots(t)
	if roots.Equal(inter) {
		t.Errorf("roots and intermediates are the same pool")
	}
	p.Stop()
	p.Stop() // idempotent
	if _, err := p.HTTPClient().Get(p.DirectoryURL); err == nil {
		t.Errorf("directory still answers after Stop")
	}
}

func TestChallTestSrv(t *testing.T) {
	c := acmetest.StartChallTestSrv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, c.DNSAddr)
	}}
	if err := c.SetTXT(ctx, "_acme-challenge.x.example.", "v1"); err != nil {
		t.Fatal(err)
	}
	txt, err := r.LookupTXT(ctx, "_acme-challenge.x.example.")
	if err != nil || !slices.Contains(txt, "v1") {
		t.Errorf("TXT after SetTXT = %v, %v", txt, err)
	}
	addrs, err := r.LookupHost(ctx, "anything.example.")
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
		t.Errorf("A anything.example = %v, %v; want only 127.0.0.1", addrs, err)
	}
	if err := c.ClearTXT(ctx, "_acme-challenge.x.example."); err != nil {
		t.Fatal(err)
	}
	if txt, _ := r.LookupTXT(ctx, "_acme-challenge.x.example."); len(txt) != 0 {
		t.Errorf("TXT after ClearTXT = %v", txt)
	}
}
