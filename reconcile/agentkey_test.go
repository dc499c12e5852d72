package reconcile

import (
	"context"
	"crypto"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

func testCSR(t *testing.T, alg string, subj pki.CSRSubject) (crypto.Signer, []byte) {
	t.Helper()
	key, err := pki.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	_, der, err := pki.NewCSR(key, subj)
	if err != nil {
		t.Fatal(err)
	}
	return key, pki.CSRPEM(der)
}

func TestCheckCSR(t *testing.T) {
	c := &spec.Certificate{Name: "www", CommonName: "www.example.com", DNSNames: []string{"www.example.com", "example.com"},
		IPAddresses: []net.IP{net.ParseIP("192.0.2.1")}, KeyAlgorithm: "ecdsa-p256"}
	ipCert := &spec.Certificate{Name: "ip", CommonName: "192.0.2.9", KeyAlgorithm: "ed25519"}
	mail := &spec.Certificate{Name: "mail", CommonName: "Postmaster", EmailAddresses: []string{"pm@example.com"}, KeyAlgorithm: "ecdsa-p256"}
	cfg := testConfig(t.TempDir())
	cfg.Policies["nocn"] = &spec.Policy{Name: "nocn", KeyAlgorithm: "ecdsa-p256", OmitSubjectCommonName: true}
	noCN := &spec.Certificate{Name: "nocn", CommonName: "www.example.com", DNSNames: []string{"example.com"}, Policy: "nocn", KeyAlgorithm: "ecdsa-p256"}
	tests := []struct {
		name string
		c    *spec.Certificate
		alg  string
		subj pki.CSRSubject
		want string // "" for accepted
	}{
		{"exact", c, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com", "WWW.example.com"}, IPAddresses: c.IPAddresses}, ""},
		{"common name as IP", ipCert, "ed25519", pki.CSRSubject{CommonName: "192.0.2.9"}, ""},
		{"extra DNS name", c, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com", "evil.com"}, IPAddresses: c.IPAddresses}, "CSR DNS names are [evil.com, example.com, www.example.com], the certificate specifies [example.com, www.example.com]"},
		{"missing DNS name", c, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", IPAddresses: c.IPAddresses}, "CSR DNS names are [www.example.com]"},
		{"missing IP", c, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}}, "CSR IP addresses are []"},
		{"other common name", c, "ecdsa-p256", pki.CSRSubject{CommonName: "example.com", DNSNames: []string{"www.example.com"}, IPAddresses: c.IPAddresses}, `CSR common name is "example.com"`},
		{"e-mail added", c, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}, IPAddresses: c.IPAddresses, EmailAddresses: []string{"a@b.c"}}, "CSR e-mail addresses are [a@b.c]"},
		{"other key", c, "rsa-2048", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}, IPAddresses: c.IPAddresses}, "CSR key is rsa-2048, the certificate specifies ecdsa-p256"},
		{"common name not a name", mail, "ecdsa-p256", pki.CSRSubject{CommonName: "Postmaster", EmailAddresses: []string{"pm@example.com"}}, ""},
		{"no subject common name", noCN, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}}.WithoutCommonName(), ""},
		{"subject common name against the policy", noCN, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}}, `CSR common name is "www.example.com", the certificate specifies ""`},
		{"other curve", c, "ecdsa-p384", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}, IPAddresses: c.IPAddresses}, "CSR key is ecdsa-p384"},
	}
	for _, tt := range tests {
		_, pemBytes := testCSR(t, tt.alg, tt.subj)
		_, err := CheckCSR(cfg, tt.c, pemBytes)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckCSR(%s) = %v, want accepted", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckCSR(%s) = %v, want %q", tt.name, err, tt.want)
		}
	}
	for _, bad := range []string{"", "junk", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		if _, err := CheckCSR(cfg, c, []byte(bad)); err == nil {
			t.Errorf("CheckCSR(%q) accepted", bad)
		}
	}
	// A CSR whose signature does not verify is refused.
	_, good := testCSR(t, "ecdsa-p256", pki.CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}, IPAddresses: c.IPAddresses})
	tampered := []byte(strings.Replace(string(good), "A", "B", 1))
	if _, err := CheckCSR(cfg, c, tampered); err == nil {
		t.Errorf("CheckCSR(tampered CSR) accepted")
	}
}

func TestKeyAgent(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Agents["web2"] = &spec.Agent{Name: "web2"}
	cfg.Targets["web1b"] = &spec.Target{Type: "file", Name: "web1b", Agent: "web1", Dir: "/b"}
	cfg.Targets["web2"] = &spec.Target{Type: "file", Name: "web2", Agent: "web2", Dir: "/x"}
	for _, tt := range []struct {
		targets []string
		want    string
	}{
		{nil, ""}, {[]string{"local"}, ""}, {[]string{"web1"}, "web1"}, {[]string{"web1", "web1b"}, "web1"},
		{[]string{"web1", "local"}, ""}, {[]string{"web1", "web2"}, ""},
	} {
		if got := KeyAgent(cfg, &spec.Certificate{Targets: tt.targets}); got != tt.want {
			t.Errorf("KeyAgent(targets %v) = %q, want %q", tt.targets, got, tt.want)
		}
	}
}

// A certificate deployed only by an agent: the plan awaits its CSR, then
// Apply signs that CSR and keeps no key; moving its target back to the
// certctl host is a replacement with a key made here.
func TestPlanAndApplyAgentCSR(t *testing.T) {
	e := newApplyEnv(t)
	e.cfg.Certificates["www"].Targets = []string{"web1"}
	www := e.cfg.Certificates["www"]

	p := e.plan()
	if got := describe(p); !slices.ContainsFunc(got, func(s string) bool {
		return strings.HasPrefix(s, "note awaiting_csr certificate.www: awaiting CSR from agent web1 (create: not in the state)")
	}) || slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "+ certificate.www") }) {
		t.Fatalf("Plan without a CSR = %q, want an awaiting_csr note and no create", got)
	}
	e.mustApply()
	if rec := e.snapshot().Certificates["www"]; rec != nil {
		t.Fatalf("www was recorded without a CSR: %+v", rec)
	}

	// The agent's CSR arrives.
	key, csr := testCSR(t, "ecdsa-p256", pki.CSRSubject{CommonName: www.CommonName, DNSNames: www.DNSNames})
	pending := &state.Certificate{Name: "www", Status: state.StatusPending, CSR: &state.PendingCSR{PEM: csr, Agent: "web1", RequestID: "r1", SubmittedAt: t0}}
	if err := e.store.PutCertificate(context.Background(), pending); err != nil {
		t.Fatal(err)
	}
	p = e.plan()
	if got := describe(p); !slices.Contains(got, "+ certificate.www: no certificate has been issued yet") {
		t.Fatalf("Plan with the CSR = %q, want www created", got)
	}
	e.mustApply()
	rec := e.store.record(t, "www")
	if len(rec.KeySealed) != 0 || rec.KeyAgent != "web1" || rec.CSR != nil || rec.Fingerprint == "" {
		t.Fatalf("www after apply: key %d bytes, key agent %q, csr %v, fingerprint %q", len(rec.KeySealed), rec.KeyAgent, rec.CSR, rec.Fingerprint)
	}
	cert, err := pki.ParseCertificatePEM(rec.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Errorf("the certificate does not certify the agent's key")
	}
	if got := describe(e.plan()); slices.ContainsFunc(got, func(s string) bool {
		return strings.Contains(s, "certificate.www") && !strings.Contains(s, "awaiting_agent")
	}) {
		t.Errorf("Plan after signing = %q, want only the agent's pending deployment for www", got)
	}

	// A CSR the agent sends unasked (it lost its key) is signed.
	_, rekey := testCSR(t, "ecdsa-p256", pki.CSRSubject{CommonName: www.CommonName, DNSNames: www.DNSNames})
	rec.CSR = &state.PendingCSR{PEM: rekey, Agent: "web1", RequestID: "rekey-1", SubmittedAt: t0}
	if err := e.store.PutCertificate(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if got := describe(e.plan()); !slices.Contains(got, "R certificate.www: agent web1 sent a new CSR (rekey-1)") {
		t.Fatalf("Plan with an unasked CSR = %q, want a renewal", got)
	}
	e.mustApply()
	rec = e.store.record(t, "www")
	if rec.CSR != nil || len(rec.History) != 1 {
		t.Fatalf("www after re-keying: csr %v, history %d; want none pending and one earlier version", rec.CSR, len(rec.History))
	}

	// certctl renew records a request (RequestRenewal): the plan asks the
	// agent for a CSR, signs the one that comes, and the request ends.
	if _, err := RequestRenewal(context.Background(), e.store, e.cfg, e.snapshot(), "local_only", e.now); err == nil {
		t.Error("RequestRenewal of an unknown certificate succeeded")
	}
	agent, err := RequestRenewal(context.Background(), e.store, e.cfg, e.snapshot(), "www", e.now)
	if err != nil || agent != "web1" {
		t.Fatalf("RequestRenewal(www) = %q, %v; want web1", agent, err)
	}
	if got := describe(e.plan()); !slices.ContainsFunc(got, func(s string) bool {
		return strings.HasPrefix(s, "note awaiting_csr certificate.www: awaiting CSR from agent web1 (renew: renewal requested by certctl renew at ")
	}) {
		t.Fatalf("Plan after a renewal request = %q, want an awaiting_csr note", got)
	}
	_, renewCSR := testCSR(t, "ecdsa-p256", pki.CSRSubject{CommonName: www.CommonName, DNSNames: www.DNSNames})
	rec = e.store.record(t, "www")
	rec.CSR = &state.PendingCSR{PEM: renewCSR, Agent: "web1", RequestID: "renew-1", SubmittedAt: e.now}
	if err := e.store.PutCertificate(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute)
	e.mustApply()
	if rec = e.store.record(t, "www"); !rec.RenewRequestedAt.IsZero() || len(rec.History) != 2 {
		t.Fatalf("www after the requested renewal: request %s, history %d; want none and two earlier versions", rec.RenewRequestedAt, len(rec.History))
	}
	// A third version within the hour for a CSR sent unasked waits: an
	// agent sending CSRs in a loop does not get a certificate each time.
	_, loopCSR := testCSR(t, "ecdsa-p256", pki.CSRSubject{CommonName: www.CommonName, DNSNames: www.DNSNames})
	rec.CSR = &state.PendingCSR{PEM: loopCSR, Agent: "web1", RequestID: "rekey-2", SubmittedAt: e.now}
	if err := e.store.PutCertificate(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if got := describe(e.plan()); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "R certificate.www") }) ||
		!slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "sent unasked (rekey-2) waits until") }) {
		t.Fatalf("Plan with a third unasked CSR within the hour = %q, want it held", got)
	}
	e.now = e.now.Add(2 * time.Hour)
	if got := describe(e.plan()); !slices.Contains(got, "R certificate.www: agent web1 sent a new CSR (rekey-2)") {
		t.Fatalf("Plan an hour later = %q, want the CSR signed", got)
	}
	e.mustApply()
	rec = e.store.record(t, "www")

	// A CSR that no longer matches the spec (a name was added) is not
	// signed: the plan awaits a new one.
	names := www.DNSNames
	www.DNSNames = append(slices.Clone(names), "new.example.com")
	rec.CSR = &state.PendingCSR{PEM: csr, Agent: "web1", RequestID: "r2", SubmittedAt: t0}
	if err := e.store.PutCertificate(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if got := describe(e.plan()); !slices.ContainsFunc(got, func(s string) bool {
		return strings.HasPrefix(s, "note awaiting_csr certificate.www: awaiting CSR from agent web1 (replace: dns_names changed)")
	}) {
		t.Errorf("Plan with a stale CSR = %q, want an awaiting_csr note", got)
	}
	www.DNSNames = names

	// Back to a local target: the key moves to the state.
	e.cfg.Certificates["www"].Targets = []string{"local"}
	if got := describe(e.plan()); !slices.Contains(got, "-/+ certificate.www: the private key moves from agent web1 to the state [key_holder]") {
		t.Fatalf("Plan after moving the target = %q, want a key_holder replacement", got)
	}
	e.now = e.now.Add(time.Minute)
	e.mustApply()
	if rec := e.store.record(t, "www"); len(rec.KeySealed) == 0 || rec.KeyAgent != "" {
		t.Errorf("www after moving to a local target: key %d bytes, key agent %q; want a sealed key", len(rec.KeySealed), rec.KeyAgent)
	}
}

func TestUnaskedCSRHeldUntil(t *testing.T) {
	now := t0
	rec := func(issued time.Time, history ...time.Time) *state.Certificate {
		r := &state.Certificate{IssuedAt: issued}
		for _, h := range history {
			r.History = append(r.History, state.Version{IssuedAt: h})
		}
		return r
	}
	for _, tc := range []struct {
		name string
		rec  *state.Certificate
		want time.Time
	}{
		{"first version", rec(now.Add(-time.Minute)), time.Time{}},
		{"one earlier, long ago", rec(now.Add(-time.Minute), now.Add(-48*time.Hour)), time.Time{}},
		{"two within the hour", rec(now.Add(-10*time.Minute), now.Add(-30*time.Minute)), now.Add(30 * time.Minute)},
		{"three within the hour", rec(now.Add(-5*time.Minute), now.Add(-10*time.Minute), now.Add(-50*time.Minute)), now.Add(50 * time.Minute)},
		{"older records without issuance times", rec(now.Add(-time.Minute), time.Time{}, time.Time{}), time.Time{}},
	} {
		if got := UnaskedCSRHeldUntil(tc.rec, now); !got.Equal(tc.want) {
			t.Errorf("UnaskedCSRHeldUntil(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
