package acme

// White-box tests of the parts that need no CA, or that need to reach
// inside an Issuer.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewBucket(RateLimit{Orders: 3, Per: 3 * time.Hour}, t0)
	for i := range 3 {
		if ok, _ := b.Take(t0); !ok {
			t.Fatalf("Take #%d at t0 refused, want a full bucket of 3", i+1)
		}
	}
	ok, wait := b.Take(t0)
	if ok || wait != time.Hour {
		t.Errorf("Take on empty = %v, %v; want false, 1h", ok, wait)
	}
	if ok, wait := b.Take(t0.Add(30 * time.Minute)); ok || wait != 30*time.Minute {
		t.Errorf("Take after 30m = %v, %v; want false, 30m", ok, wait)
	}
	if ok, _ := b.Take(t0.Add(time.Hour)); !ok {
		t.Errorf("Take after 1h refused, want one token refilled")
	}
	if n := b.Available(t0.Add(100 * time.Hour)); n != 3 {
		t.Errorf("Available long after = %d, want capped at 3", n)
	}
	if n := b.Available(t0); n != 3 { // the clock went back: nothing earned, nothing lost
		t.Errorf("Available with the clock back = %d, want 3", n)
	}
}

func TestNewDNSProviderRestoresEnv(t *testing.T) {
	t.Setenv("HTTPREQ_ENDPOINT", "http://ambient.example")
	os.Unsetenv("HTTPREQ_MODE")
	p, err := newDNSProvider("httpreq", map[string]string{"HTTPREQ_ENDPOINT": "http://127.0.0.1:1", "HTTPREQ_MODE": "RAW"})
	if err != nil || p == nil {
		t.Fatalf("newDNSProvider(httpreq) = %v, %v", p, err)
	}
	if v := os.Getenv("HTTPREQ_ENDPOINT"); v != "http://ambient.example" {
		t.Errorf("HTTPREQ_ENDPOINT after = %q, want the ambient value restored", v)
	}
	if _, set := os.LookupEnv("HTTPREQ_MODE"); set {
		t.Errorf("HTTPREQ_MODE is still set after construction")
	}

	os.Unsetenv("HTTPREQ_ENDPOINT")
	_, err = newDNSProvider("httpreq", nil)
	if err == nil || !strings.Contains(err.Error(), "HTTPREQ_ENDPOINT") {
		t.Errorf("newDNSProvider(httpreq, no endpoint) = %v, want the missing setting named", err)
	}
}

// Every listed provider builds when its required settings are present,
// so none is listed that this binary cannot construct.
func TestProvidersBuild(t *testing.T) {
	settings := map[string]map[string]string{
		"cloudflare":   {"CLOUDFLARE_DNS_API_TOKEN": "t"},
		"digitalocean": {"DO_AUTH_TOKEN": "t"},
		"dnsupdate":    {"DNSUPDATE_NAMESERVER": "127.0.0.1:53"},
		"exec":         {"EXEC_PATH": "/bin/true"},
		"gcloud":       {"GCE_PROJECT": "p", "GCE_ACCESS_TOKEN": "t"},
		"hetzner":      {"HETZNER_API_TOKEN": "t"},
		"httpreq":      {"HTTPREQ_ENDPOINT": "http://127.0.0.1:1"},
		"ns1":          {"NS1_API_KEY": "k"},
		"ovh":          {"OVH_ENDPOINT": "ovh-eu", "OVH_APPLICATION_KEY": "k", "OVH_APPLICATION_SECRET": "s", "OVH_CONSUMER_KEY": "c"},
		"pdns":         {"PDNS_API_URL": "http://127.0.0.1:1", "PDNS_API_KEY": "k", "PDNS_API_VERSION": "1"},
		"route53":      {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1", "AWS_HOSTED_ZONE_ID": "Z"},
	}
	for _, p := range Providers() {
		t.Run(p.Name, func(t *testing.T) {
			s, ok := settings[p.Name]
			if !ok {
				t.Fatalf("no test settings for provider %s", p.Name)
			}
			for k := range s {
				if !contains(p.Settings, k) {
					t.Errorf("test setting %s is not among %s's settings", k, p.Name)
				}
			}
			if _, err := newDNSProvider(p.Name, s); err != nil {
				t.Errorf("newDNSProvider(%s) = %v", p.Name, err)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestTokenServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &tokenServer{addr: addr, tokens: map[string]token{}}
	ctx := context.Background()
	get := func(host, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/.well-known/acme-challenge/"+tok, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if err := s.Present(ctx, "a.example", "tokA", "keyA"); err != nil {
		t.Fatal(err)
	}
	if err := s.Present(ctx, "b.example", "tokB", "keyB"); err != nil {
		t.Fatal(err)
	}
	if code, body := get("a.example", "tokA"); code != 200 || body != "keyA" {
		t.Errorf("GET tokA as a.example = %d %q", code, body)
	}
	if code, _ := get("b.example", "tokA"); code != 404 {
		t.Errorf("GET tokA as b.example = %d, want 404 (wrong host)", code)
	}
	if err := s.CleanUp(ctx, "a.example", "tokA", ""); err != nil {
		t.Fatal(err)
	}
	if code, body := get("b.example:80", "tokB"); code != 200 || body != "keyB" {
		t.Errorf("GET tokB after tokA's cleanup = %d %q; the server must keep serving", code, body)
	}
	if err := s.CleanUp(ctx, "b.example", "tokB", ""); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("b.example", "tokB"); code != 0 {
		t.Errorf("server still answers after the last cleanup")
	}
}

// Issue waits for a free slot and gives up with its context.
func TestIssueWaitsForSlot(t *testing.T) {
	i := &Issuer{sem: make(chan struct{}, 1)}
	i.sem <- struct{}{} // the one slot is taken
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := pki.NewCSR(key, pki.CSRSubject{DNSNames: []string{"slot.example"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = i.Issue(ctx, pki.IssueRequest{Name: "slot", CSR: csr})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Issue with no free slot = %v, want the context's deadline", err)
	}
}

func TestSplitChain(t *testing.T) {
	if _, err := splitChain(nil, nil, nil); err == nil {
		t.Errorf("splitChain(nothing) succeeded")
	}
}
