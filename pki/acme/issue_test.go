package acme_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/pki/acme/acmetest"
)

func TestIssue(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	iss, acct := newIssuer(t, pebbleConfig(p))
	if acct.URI == "" || len(acct.KeyPEM) == 0 || len(acct.Registration) == 0 {
		t.Fatalf("New returned an incomplete account: %v", acct)
	}
	if strings.Contains(acct.String(), "PRIVATE") || strings.Contains(acct.GoString(), "PRIVATE") {
		t.Errorf("Account's String/GoString show the key")
	}
	if !iss.ARI() {
		t.Errorf("ARI() = false, pebble has renewalInfo")
	}

	start := time.Now()
	got := issue(t, iss, request(t, "www.example.com", "example.com"))
	t.Logf("one order (ALWAYS_VALID): %v", time.Since(start))
	checkIssued(t, p, got, "www.example.com", "example.com")
	// Profile "default" is 90 days in pebble; without a profile pebble
	// would pick one at random.
	if d := got.Leaf.NotAfter.Sub(got.Leaf.NotBefore); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Errorf("validity = %v, want 90 days (profile default)", d)
	}
}

func TestIssueProfile(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	cfg.Profile = "shortlived"
	iss, _ := newIssuer(t, cfg)
	got := issue(t, iss, request(t, "short.example.com"))
	if d := got.Leaf.NotAfter.Sub(got.Leaf.NotBefore); d > 7*24*time.Hour {
		t.Errorf("validity = %v, want 6 days (profile shortlived)", d)
	}

	cfg.Profile = "nonesuch"
	_, _, err := acme.New(ctxT(t), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), `profile "nonesuch": the CA offers default, shortlived`) {
		t.Errorf("New(profile nonesuch) = %v, want the offered profiles listed", err)
	}
}

func TestIssueRejectsBadRequests(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	iss, _ := newIssuer(t, pebbleConfig(p))

	if _, err := iss.Issue(ctxT(t), pki.IssueRequest{Name: "x"}); err == nil || !strings.Contains(err.Error(), "no CSR") {
		t.Errorf("Issue(no CSR) = %v", err)
	}
	key, err := pki.GenerateKey(pki.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := pki.NewCSR(key, pki.CSRSubject{DNSNames: []string{"ed.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = iss.Issue(ctxT(t), pki.IssueRequest{Name: "ed", CSR: csr})
	if err == nil || !strings.Contains(err.Error(), "ed25519") {
		t.Errorf("Issue(ed25519 CSR) = %v, want a key type error before ordering", err)
	}
}

func TestAccountReuse(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	_, acct := newIssuer(t, cfg)

	iss, again, err := acme.New(ctxT(t), cfg, acct)
	if err != nil {
		t.Fatal(err)
	}
	if again != acct {
		t.Errorf("New(stored account) returned a new account %v, want the stored one", again)
	}
	issue(t, iss, request(t, "reuse.example.com")) // the stored key and URL work

	cfg.Email = "other@example.com"
	_, other, err := acme.New(ctxT(t), cfg, acct)
	if err != nil {
		t.Fatal(err)
	}
	if other == acct || other.URI == acct.URI || other.Email != "other@example.com" {
		t.Errorf("New(changed email) = %v, want a new account", other)
	}

	broken := *acct
	broken.KeyPEM = []byte("garbage")
	cfg.Email = acct.Email
	if _, fresh, err := acme.New(ctxT(t), cfg, &broken); err != nil || fresh == &broken {
		t.Errorf("New(unparsable key) = %v, %v; want a new account", fresh, err)
	}
}

func TestEAB(t *testing.T) {
	const kid, hmac = "kid-1", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true, EABKeys: map[string]string{kid: hmac}})
	cfg := pebbleConfig(p)

	_, _, err := acme.New(ctxT(t), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "external account binding") {
		t.Errorf("New(no eab) against an EAB CA = %v, want a clear error", err)
	}
	cfg.EAB = &acme.EAB{KID: kid, HMACKey: hmac}
	iss, _ := newIssuer(t, cfg)
	issue(t, iss, request(t, "eab.example.com"))

	cfg.EAB = &acme.EAB{KID: "kid-2", HMACKey: hmac}
	if _, _, err := acme.New(ctxT(t), cfg, nil); err == nil {
		t.Errorf("New(wrong eab kid) succeeded")
	}
}

func TestRateLimit(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	cfg.RateLimit = &acme.RateLimit{Orders: 1, Per: time.Hour}
	iss, _ := newIssuer(t, cfg)
	if n := iss.Available(); n != 1 {
		t.Errorf("Available() = %d, want 1", n)
	}
	issue(t, iss, request(t, "one.example.com"))
	_, err := iss.Issue(ctxT(t), request(t, "two.example.com"))
	var rl *acme.RateLimitError
	if !errors.Is(err, acme.ErrRateLimited) || !errors.As(err, &rl) || rl.ByCA || rl.RetryAfter < 59*time.Minute {
		t.Fatalf("second Issue = %v, want a client-side RateLimitError of about 1h", err)
	}
}
