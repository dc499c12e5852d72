package acme_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/pki/acme/acmetest"
	"github.com/miekg/dns"
)

// realValidation starts challtestsrv and a pebble that validates for real,
// resolving every name to 127.0.0.1 through challtestsrv.
func realValidation(t *testing.T) (*acmetest.Pebble, *acmetest.ChallTestSrv) {
	t.Helper()
	cts := acmetest.StartChallTestSrv(t)
	p := acmetest.StartPebble(t, acmetest.Options{DNSServer: cts.DNSAddr})
	return p, cts
}

func TestHTTP01(t *testing.T) {
	p, _ := realValidation(t)
	iss, _ := newIssuer(t, pebbleConfig(p))

	// Concurrent orders share the issuer's one http-01 server.
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			names := []string{fmt.Sprintf("h%d.example.com", i), fmt.Sprintf("h%d.example.org", i)}
			start := time.Now()
			got := issue(t, iss, request(t, names...))
			t.Logf("http-01 order %d: %v", i, time.Since(start))
			checkIssued(t, p, got, names...)
		})
	}
	wg.Wait()
}

func TestHTTP01Fails(t *testing.T) {
	p, _ := realValidation(t)
	cfg := pebbleConfig(p)
	cfg.HTTP01.Port = p.HTTPPort + 1 // pebble looks elsewhere
	if cfg.HTTP01.Port > 65535 {
		cfg.HTTP01.Port = p.HTTPPort - 1
	}
	iss, _ := newIssuer(t, cfg)
	_, err := iss.Issue(ctxT(t), request(t, "nobody.example.com"))
	if err == nil || !strings.Contains(err.Error(), "nobody.example.com") || !strings.Contains(err.Error(), "http-01 challenge invalid") {
		t.Fatalf("Issue with nothing answering = %v, want the failed challenge named", err)
	}
	t.Logf("error reads: %v", err)
}

func TestHTTP01Webroot(t *testing.T) {
	p, _ := realValidation(t)
	root := t.TempDir()
	serveFiles(t, p.HTTPPort, root) // the "already running web server"
	cfg := pebbleConfig(p)
	cfg.HTTP01 = &acme.HTTP01{Webroot: root}
	iss, _ := newIssuer(t, cfg)
	got := issue(t, iss, request(t, "webroot.example.com"))
	checkIssued(t, p, got, "webroot.example.com")
	left, _ := os.ReadDir(filepath.Join(root, ".well-known", "acme-challenge"))
	if len(left) != 0 {
		t.Errorf("webroot keeps %d challenge files after the order", len(left))
	}
}

func TestDNS01HTTPReq(t *testing.T) {
	p, cts := realValidation(t)
	cfg := pebbleConfig(p)
	cfg.HTTP01 = nil
	cfg.DNS01 = &acme.DNS01{
		Provider:           "httpreq",
		Config:             map[string]string{"HTTPREQ_ENDPOINT": cts.HTTPReqEndpoint(t)},
		Resolvers:          []string{cts.DNSAddr},
		PropagationTimeout: 10 * time.Second,
	}
	iss, _ := newIssuer(t, cfg)
	start := time.Now()
	got := issue(t, iss, request(t, "dns.example.net", "*.dns.example.net"))
	t.Logf("dns-01 order with a wildcard: %v", time.Since(start))
	checkIssued(t, p, got, "dns.example.net", "*.dns.example.net")
}

// dnsUpdate starts named and a pebble that validates against it, and
// returns the config of an issuer that sends it updates signed with
// secret (bind.TSIGSecret, or a wrong one).
func dnsUpdate(t *testing.T, secret func(*acmetest.BIND) string) (*acmetest.BIND, *acmetest.Pebble, acme.Config) {
	bind := acmetest.StartBIND(t)
	p := acmetest.StartPebble(t, acmetest.Options{DNSServer: bind.Addr})
	cfg := pebbleConfig(p)
	cfg.HTTP01 = nil
	cfg.DNS01 = &acme.DNS01{
		Provider: "dnsupdate",
		Config: map[string]string{
			"DNSUPDATE_NAMESERVER":     bind.Addr,
			"DNSUPDATE_TSIG_KEY":       bind.TSIGKey,
			"DNSUPDATE_TSIG_SECRET":    secret(bind),
			"DNSUPDATE_TSIG_ALGORITHM": bind.TSIGAlgorithm,
			// dnsupdate is sequential: one name at a time, by default
			// 60 s apart.
			"DNSUPDATE_SEQUENCE_INTERVAL": "0",
		},
		Resolvers:          []string{bind.Addr},
		PropagationTimeout: 10 * time.Second,
	}
	return bind, p, cfg
}

// TestDNS01RFC2136 runs lego's dnsupdate provider against BIND: TSIG-signed
// dynamic updates (RFC 2136) to a primary server, which pebble then asks
// for the TXT records, as a CA asks the zone's authoritative servers.
func TestDNS01RFC2136(t *testing.T) {
	bind, p, cfg := dnsUpdate(t, func(b *acmetest.BIND) string { return b.TSIGSecret })
	iss, _ := newIssuer(t, cfg)
	got := issue(t, iss, request(t, "www.example.test", "*.example.test"))
	checkIssued(t, p, got, "www.example.test", "*.example.test")
	// The challenge records are deleted again.
	for _, name := range []string{"_acme-challenge.www.example.test", "_acme-challenge.example.test"} {
		if rrs, err := bind.Query(name, dns.TypeTXT); err != nil || len(rrs) > 0 {
			t.Errorf("TXT %s after the order = %v, %v; want none", name, rrs, err)
		}
	}
	if !strings.Contains(bind.Logs(), "updating zone 'example.test/IN': adding an RR at '_acme-challenge.www.example.test' TXT") {
		t.Errorf("named logged no signed update adding the challenge:\n%s", bind.Logs())
	}
}

// TestDNS01RFC2136BadKey: named refuses an update signed with a wrong
// TSIG secret (BADSIG), and the order fails saying so.
func TestDNS01RFC2136BadKey(t *testing.T) {
	_, _, cfg := dnsUpdate(t, func(*acmetest.BIND) string { return base64.StdEncoding.EncodeToString([]byte("not the key")) })
	iss, _ := newIssuer(t, cfg)
	_, err := iss.Issue(context.Background(), request(t, "bad.example.test"))
	if err == nil || !strings.Contains(err.Error(), "dns: bad authentication") {
		t.Fatalf("Issue with a wrong TSIG secret = %v, want the server's refusal", err)
	}
}

// TestDNS01Exec runs lego's exec provider; the program is this test binary
// (see helperExec), which forwards to challtestsrv.
func TestDNS01Exec(t *testing.T) {
	p, cts := realValidation(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "dns-hook")
	body := fmt.Sprintf("#!/bin/sh\nCERTCTL_TEST_EXEC_HOOK=%s exec %s \"$@\"\n", cts.ManagementURL, self)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := pebbleConfig(p)
	cfg.HTTP01 = nil
	cfg.DNS01 = &acme.DNS01{
		Provider: "exec",
		// exec is sequential: one record at a time, 0 s apart here.
		Config:             map[string]string{"EXEC_PATH": script, "EXEC_SEQUENCE_INTERVAL": "0"},
		Resolvers:          []string{cts.DNSAddr},
		PropagationTimeout: 10 * time.Second,
	}
	iss, _ := newIssuer(t, cfg)
	got := issue(t, iss, request(t, "exec.example.net", "*.exec.example.net"))
	checkIssued(t, p, got, "exec.example.net", "*.exec.example.net")
}

// helperExec is the exec provider's program when the test binary runs
// with CERTCTL_TEST_EXEC_HOOK set: "present|cleanup FQDN VALUE".
func helperExec() bool {
	mgmt := os.Getenv("CERTCTL_TEST_EXEC_HOOK")
	if mgmt == "" {
		return false
	}
	cts := &acmetest.ChallTestSrv{ManagementURL: mgmt}
	args := os.Args[1:]
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: present|cleanup FQDN VALUE")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	switch args[0] {
	case "present":
		err = cts.SetTXT(ctx, args[1], args[2])
	case "cleanup":
		err = cts.ClearTXT(ctx, args[1])
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// TestDNS01PropagationTimeout asks a resolver that never sees the record.
func TestDNS01PropagationTimeout(t *testing.T) {
	p, cts := realValidation(t)
	elsewhere := acmetest.StartChallTestSrv(t)
	cfg := pebbleConfig(p)
	cfg.HTTP01 = nil
	cfg.DNS01 = &acme.DNS01{
		Provider:           "httpreq",
		Config:             map[string]string{"HTTPREQ_ENDPOINT": cts.HTTPReqEndpoint(t)},
		Resolvers:          []string{elsewhere.DNSAddr},
		PropagationTimeout: time.Second,
	}
	iss, _ := newIssuer(t, cfg)
	_, err := iss.Issue(ctxT(t), request(t, "slow.example.net"))
	if err == nil || !strings.Contains(err.Error(), "time limit exceeded") || !strings.Contains(err.Error(), elsewhere.DNSAddr) {
		t.Fatalf("Issue = %v, want a propagation timeout naming the resolver", err)
	}
	t.Logf("error reads: %v", err)
}
