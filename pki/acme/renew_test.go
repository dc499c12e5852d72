package acme_test

import (
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki/acme/acmetest"
)

func TestRenewWithARI(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	iss, _ := newIssuer(t, pebbleConfig(p))
	first := issue(t, iss, request(t, "renew.example.com"))

	start, end, ok, err := iss.RenewalInfo(ctxT(t), first.Leaf)
	if err != nil || !ok {
		t.Fatalf("RenewalInfo = %v, %v, %v, %v; want a window", start, end, ok, err)
	}
	if !start.Before(end) || start.Before(first.Leaf.NotBefore) || end.After(first.Leaf.NotAfter) {
		t.Errorf("window [%v, %v] is not inside the validity [%v, %v]", start, end, first.Leaf.NotBefore, first.Leaf.NotAfter)
	}

	// The CA can move the window; RenewalInfo shows what it says.
	wantStart := time.Now().Add(time.Hour).Truncate(time.Second)
	p.SetRenewalInfo(t, first.Leaf, wantStart, wantStart.Add(2*time.Hour))
	start, end, ok, err = iss.RenewalInfo(ctxT(t), first.Leaf)
	if err != nil || !ok || !start.Equal(wantStart) || !end.Equal(wantStart.Add(2*time.Hour)) {
		t.Errorf("RenewalInfo after the CA moved it = %v, %v, %v, %v; want [%v, +2h]", start, end, ok, err, wantStart)
	}

	// The renewal order names the certificate it replaces.
	req := request(t, "renew.example.com", "www.renew.example.com")
	req.Replaces = first.Leaf
	second := issue(t, iss, req)
	checkIssued(t, p, second, "renew.example.com", "www.renew.example.com")
	if n := strings.Count(p.Logs(), "is a replacement of"); n != 1 {
		t.Fatalf("pebble logged %d replacement orders, want 1:\n%s", n, p.Logs())
	}

	// Replacing it again is refused by the CA (alreadyReplaced); Issue
	// orders without "replaces" rather than fail.
	req.CSR = request(t, "renew.example.com").CSR
	waitReplaced(t, p)
	third := issue(t, iss, req)
	if third.Leaf.SerialNumber.Cmp(second.Leaf.SerialNumber) == 0 {
		t.Errorf("third issuance returned the second certificate")
	}
	if n := strings.Count(p.Logs(), "is a replacement of"); n != 1 {
		t.Errorf("pebble logged %d replacement orders, want still 1", n)
	}
}

// waitReplaced waits for pebble to record the replacement, which it does
// after finalizing, asynchronously.
func waitReplaced(t *testing.T, p *acmetest.Pebble) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.Logs(), "has been marked as replaced") {
			return
		}
	}
	t.Fatalf("pebble did not mark the certificate replaced")
}

// A certificate the CA does not know (another issuer's) is replaced
// without naming it.
func TestReplaceForeignCertificate(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	other := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	iss, _ := newIssuer(t, pebbleConfig(p))
	otherIss, _ := newIssuer(t, pebbleConfig(other))
	foreign := issue(t, otherIss, request(t, "moved.example.com"))

	if _, _, ok, err := iss.RenewalInfo(ctxT(t), foreign.Leaf); ok {
		t.Errorf("RenewalInfo(foreign certificate) ok, err %v; want not ok", err)
	}
	req := request(t, "moved.example.com")
	req.Replaces = foreign.Leaf
	checkIssued(t, p, issue(t, iss, req), "moved.example.com")
}

func TestRevoke(t *testing.T) {
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	iss, _ := newIssuer(t, pebbleConfig(p))
	got := issue(t, iss, request(t, "revoke.example.com"))
	if st, _ := p.CertStatus(t, got.Leaf.SerialNumber); st != "Valid" {
		t.Fatalf("status before Revoke = %q", st)
	}

	const superseded = 4
	if err := iss.Revoke(ctxT(t), got.Leaf, superseded); err != nil {
		t.Fatalf("Revoke = %v", err)
	}
	st, reason := p.CertStatus(t, got.Leaf.SerialNumber)
	if st != "Revoked" || reason == nil || *reason != superseded {
		t.Errorf("pebble says %q reason %v, want Revoked reason 4", st, reason)
	}
	if err := iss.Revoke(ctxT(t), got.Leaf, superseded); err != nil {
		t.Errorf("second Revoke = %v, want nil (already revoked)", err)
	}
	// ARI says "renew now" for a revoked certificate.
	start, _, ok, err := iss.RenewalInfo(ctxT(t), got.Leaf)
	if err != nil || !ok || start.After(time.Now()) {
		t.Errorf("RenewalInfo(revoked) = %v, %v, %v; want a window that has started", start, ok, err)
	}
	if err := iss.Revoke(ctxT(t), got.Leaf, 7); err == nil {
		t.Errorf("Revoke(reason 7) succeeded; 7 is unused in RFC 5280")
	}
}
