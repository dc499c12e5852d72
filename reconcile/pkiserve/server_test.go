package pkiserve

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

var bg = context.Background()

// fixture is a real state with a local CA "internal" and two issued
// certificates, "good" and "bad"; "bad" is revoked (keyCompromise).
type fixture struct {
	db        *state.DB
	cfg       *spec.Config
	ca        *pki.LocalCA
	good, bad *pki.Issued
	now       time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second) // openssl checks against the real clock
	t.Setenv(state.KeyEnv, "")
	db, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ca, err := pki.NewLocalCA(pki.CAConfig{Name: "internal", KeyAlgorithm: pki.ECDSAP256}, now)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := db.Seal(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutIssuer(bg, &state.Issuer{Name: "internal", Type: spec.IssuerTypeLocalCA, CertPEM: ca.CertPEM(), KeySealed: sealed, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, ca: ca, now: now, cfg: &spec.Config{Issuers: map[string]*spec.Issuer{
		"internal": {Type: spec.IssuerTypeLocalCA, Name: "internal"},
		"le":       {Type: spec.IssuerTypeACME, Name: "le"},
	}}}
	f.good = f.issue(t, "good")
	f.bad = f.issue(t, "bad")
	f.revoke(t, "bad", f.bad, pki.ReasonKeyCompromise)
	return f
}

func (f *fixture) issue(t *testing.T, name string) *pki.Issued {
	t.Helper()
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := pki.NewCSR(key, pki.CSRSubject{CommonName: name + ".example.com", DNSNames: []string{name + ".example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := f.ca.Issue(bg, pki.IssueRequest{Name: name, CSR: csr, Usages: []string{pki.UsageServerAuth}, Validity: 30 * 24 * time.Hour, Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	rec := &state.Certificate{Name: name, Issuer: "internal", Serial: pki.SerialHex(iss.Leaf), NotBefore: iss.Leaf.NotBefore, NotAfter: iss.Leaf.NotAfter, Fingerprint: pki.Fingerprint(iss.Leaf), CertPEM: iss.CertPEM, Status: state.StatusIssued}
	if err := f.db.PutCertificate(bg, rec); err != nil {
		t.Fatal(err)
	}
	return iss
}

func (f *fixture) revoke(t *testing.T, name string, iss *pki.Issued, reason int) {
	t.Helper()
	rev := &state.Revocation{Issuer: "internal", Serial: pki.SerialHex(iss.Leaf), Name: name, RevokedAt: f.now, Reason: reason, NotAfter: iss.Leaf.NotAfter}
	if err := f.db.Revoke(bg, rev, nil); err != nil {
		t.Fatal(err)
	}
}

// update feeds the server a fresh snapshot of the fixture's state.
func (f *fixture) update(t *testing.T, s *Server, now time.Time) {
	t.Helper()
	snap, err := f.db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(f.cfg, snap, f.db.Unseal, now); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not on PATH (.ci/tools installs it)")
	}
}

// The served CRL and OCSP answers as openssl reads them, over a real
// loopback HTTP server.
func TestServeOpenSSL(t *testing.T) {
	needOpenSSL(t)
	f := newFixture(t)
	s := New()
	f.update(t, s, f.now)
	srv := httptest.NewServer(s)
	defer srv.Close()
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", f.ca.CertPEM())
	goodFile := writeFile(t, dir, "good.pem", f.good.CertPEM)
	badFile := writeFile(t, dir, "bad.pem", f.bad.CertPEM)

	// The CRL: DER, signed, listing the revoked serial with its reason.
	resp, der := get(t, srv.URL+"/.well-known/pki/crl/internal")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET crl = %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	crlFile := writeFile(t, dir, "internal.crl", der)
	out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", crlFile, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Serial Number: " + strings.ToUpper(pki.SerialHex(f.bad.Leaf)),
		"Key Compromise",
		"X509v3 CRL Number",
		crl.Number.String(),
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("openssl crl -text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), strings.ToUpper(pki.SerialHex(f.good.Leaf))) {
		t.Errorf("the CRL lists the good certificate:\n%s", out)
	}
	pemCRL := filepath.Join(dir, "crl.pem")
	if out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", crlFile, "-out", pemCRL).CombinedOutput(); err != nil {
		t.Fatalf("openssl crl -out: %v\n%s", err, out)
	}
	if out, err := exec.Command("openssl", "verify", "-crl_check", "-CAfile", caFile, "-CRLfile", pemCRL, goodFile).CombinedOutput(); err != nil {
		t.Errorf("openssl verify -crl_check good: %v\n%s", err, out)
	}
	if out, err := exec.Command("openssl", "verify", "-crl_check", "-CAfile", caFile, "-CRLfile", pemCRL, badFile).CombinedOutput(); err == nil || !strings.Contains(string(out), "revoked") {
		t.Errorf("openssl verify -crl_check of the revoked certificate: %v\n%s", err, out)
	}

	// OCSP, POST form, as openssl sends it: with a nonce, which the
	// responder does not echo (openssl warns and goes on), and without.
	// One certificate per request: the responder answers the first
	// CertID of a request only.
	ocspURL := srv.URL + "/.well-known/pki/ocsp/internal"
	reqFile := filepath.Join(dir, "req.der")
	for _, tc := range []struct {
		file, want string
		args       []string
	}{
		{goodFile, "good", nil},
		{badFile, "revoked", []string{"-reqout", reqFile}},
		{goodFile, "good", []string{"-no_nonce"}},
		{badFile, "revoked", []string{"-no_nonce"}},
	} {
		args := append([]string{"ocsp", "-issuer", caFile, "-CAfile", caFile, "-cert", tc.file, "-url", ocspURL}, tc.args...)
		out, err := exec.Command("openssl", args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.file+": "+tc.want) || !strings.Contains(string(out), "Response verify OK") {
			t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if tc.want == "revoked" && !strings.Contains(string(out), "Reason: keyCompromise") {
			t.Errorf("openssl ocsp for the revoked certificate names no reason:\n%s", out)
		}
	}

	// GET form of the request openssl wrote: base64 in the path.
	reqDER, err := os.ReadFile(reqFile)
	if err != nil || len(reqDER) == 0 {
		t.Fatalf("openssl -reqout: %v", err)
	}
	resp, body := get(t, ocspURL+"/"+url.PathEscape(base64.StdEncoding.EncodeToString(reqDER)))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("GET ocsp = %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	r, err := ocsp.ParseResponseForCert(body, f.bad.Leaf, f.ca.Certificate())
	if err != nil || r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
		t.Errorf("GET ocsp for the revoked certificate = %+v, %v", r, err)
	}
	cc := resp.Header.Get("Cache-Control")
	maxAge, _ := strconv.Atoi(cc[strings.LastIndex(cc, "=")+1:])
	if !strings.Contains(cc, "max-age=") || maxAge <= 0 || time.Duration(maxAge)*time.Second > time.Until(r.NextUpdate)+time.Second {
		t.Errorf("GET ocsp Cache-Control = %q, want a max-age within nextUpdate %v", cc, r.NextUpdate)
	}
	// The CA certificate.
	resp, body = get(t, srv.URL+"/.well-known/pki/ca/internal")
	if resp.StatusCode != 200 || !bytes.Equal(body, f.ca.Certificate().Raw) || resp.Header.Get("Content-Type") != "application/pkix-cert" {
		t.Errorf("GET ca = %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
}

func TestServeErrors(t *testing.T) {
	f := newFixture(t)
	s := New()
	f.update(t, s, f.now)
	srv := httptest.NewServer(s)
	defer srv.Close()

	for _, path := range []string{"/.well-known/pki/crl/nope", "/.well-known/pki/crl/le", "/.well-known/pki/ca/", "/.well-known/pki/x/internal", "/other", "/.well-known/pki/crl/internal/extra"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != 404 {
			t.Errorf("GET %s = %s, want 404", path, resp.Status)
		}
	}
	resp, err := http.Post(srv.URL+"/.well-known/pki/crl/internal", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST crl = %s, want 405", resp.Status)
	}

	post := func(body []byte) []byte {
		t.Helper()
		resp, err := http.Post(srv.URL+"/.well-known/pki/ocsp/internal", "application/ocsp-request", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
			t.Errorf("POST ocsp = %s %q", resp.Status, resp.Header.Get("Content-Type"))
		}
		return b
	}
	for _, bad := range [][]byte{[]byte("not DER"), bytes.Repeat([]byte{0x30}, pki.MaxOCSPRequest+100)} {
		if got := post(bad); !bytes.Equal(got, ocsp.MalformedRequestErrorResponse) {
			t.Errorf("POST ocsp %.10q = %x, want malformedRequest", bad, got)
		}
	}
	if resp, body := get(t, srv.URL+"/.well-known/pki/ocsp/internal/!!!"); resp.StatusCode != 200 || !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
		t.Errorf("GET ocsp with bad base64 = %s %x", resp.Status, body)
	}
	// A serial this CA never issued: unknown.
	stranger := *f.good.Leaf
	stranger.SerialNumber = big.NewInt(424242)
	req, _ := ocsp.CreateRequest(&stranger, f.ca.Certificate(), nil)
	r, err := ocsp.ParseResponse(post(req), f.ca.Certificate())
	if err != nil || r.Status != ocsp.Unknown {
		t.Errorf("OCSP for a serial never issued = %+v, %v, want unknown", r, err)
	}
	req, _ = ocsp.CreateRequest(f.good.Leaf, f.ca.Certificate(), nil)
	if r, err := ocsp.ParseResponse(post(req), f.ca.Certificate()); err != nil || r.Status != ocsp.Good {
		t.Errorf("OCSP for the good certificate = %+v, %v", r, err)
	}

	// An issuer that leaves the configuration is no longer served.
	delete(f.cfg.Issuers, "internal")
	f.update(t, s, f.now)
	if resp, _ := get(t, srv.URL+"/.well-known/pki/crl/internal"); resp.StatusCode != 404 {
		t.Errorf("GET crl of a removed issuer = %s, want 404", resp.Status)
	}
}

// A revocation gives a new CRL (and number) at the next Update; the clock
// reaching the refresh time gives a new one too; neither happens
// otherwise.
func TestCRLRegeneration(t *testing.T) {
	f := newFixture(t)
	s := New()
	clock := f.now
	s.Clock = func() time.Time { return clock }
	f.update(t, s, f.now)
	srv := httptest.NewServer(s)
	defer srv.Close()
	fetch := func() *x509.RevocationList {
		t.Helper()
		_, der := get(t, srv.URL+"/.well-known/pki/crl/internal")
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(f.ca.Certificate()); err != nil {
			t.Fatal(err)
		}
		return crl
	}
	first := fetch()
	if len(first.RevokedCertificateEntries) != 1 {
		t.Fatalf("first CRL has %d entries, want 1", len(first.RevokedCertificateEntries))
	}

	// Same state, a minute later: the same CRL, even after an Update.
	clock = f.now.Add(time.Minute)
	f.update(t, s, clock)
	if again := fetch(); again.Number.Cmp(first.Number) != 0 || !bytes.Equal(again.Raw, first.Raw) {
		t.Errorf("CRL changed without a revocation: number %v → %v", first.Number, again.Number)
	}

	// A revocation: a new CRL with a higher number at once.
	f.revoke(t, "good", f.good, pki.ReasonSuperseded)
	f.update(t, s, clock)
	second := fetch()
	if second.Number.Cmp(first.Number) <= 0 || len(second.RevokedCertificateEntries) != 2 {
		t.Errorf("after a revocation: number %v (was %v), %d entries, want a higher number and 2", second.Number, first.Number, len(second.RevokedCertificateEntries))
	}
	// And OCSP says so (what an unchanged Update kept is rebuilt).
	req, _ := ocsp.CreateRequest(f.good.Leaf, f.ca.Certificate(), nil)
	resp, err := http.Post(srv.URL+"/.well-known/pki/ocsp/internal", "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if r, err := ocsp.ParseResponse(body, f.ca.Certificate()); err != nil || r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
		t.Errorf("OCSP after the revocation of good = %+v, %v, want revoked (superseded)", r, err)
	}

	// Halfway to nextUpdate: signed again, with a higher number.
	clock = f.now.Add(pki.DefaultCRLValidity/2 + time.Minute)
	third := fetch()
	if third.Number.Cmp(second.Number) <= 0 || !third.ThisUpdate.After(second.ThisUpdate) || !third.NextUpdate.After(second.NextUpdate) {
		t.Errorf("after the refresh time: number %v (was %v), thisUpdate %v (was %v)", third.Number, second.Number, third.ThisUpdate, second.ThisUpdate)
	}

	// A clock set back never gives a lower number.
	clock = f.now.Add(-time.Hour)
	s2 := New()
	s2.Clock = s.Clock
	s2.lastNumber = s.lastNumber
	f.update(t, s2, clock)
	s2.mu.RLock()
	p := s2.issuers["internal"]
	s2.mu.RUnlock()
	crl, err := x509.ParseRevocationList(p.crl)
	if err != nil {
		t.Fatal(err)
	}
	if crl.Number.Cmp(third.Number) <= 0 {
		t.Errorf("CRL number with the clock set back = %v, want above %v", crl.Number, third.Number)
	}
}

func TestDecodeGETRequest(t *testing.T) {
	raw := []byte{0xfb, 0xff, 0x30, 0x01}
	std := base64.StdEncoding.EncodeToString(raw) // "+/8wAQ=="
	for _, seg := range []string{url.PathEscape(std), strings.ReplaceAll(std, "+", " "), base64.RawURLEncoding.EncodeToString(raw), "%2B%2F8wAQ%3D%3D"} {
		if got := decodeGETRequest(seg); !bytes.Equal(got, raw) {
			t.Errorf("decodeGETRequest(%q) = %x, want %x", seg, got, raw)
		}
	}
	if got := decodeGETRequest("%zz"); got != nil {
		t.Errorf("decodeGETRequest(bad escape) = %x", got)
	}
}
