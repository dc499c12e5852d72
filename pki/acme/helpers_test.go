package acme_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/pki/acme/acmetest"
)

func TestMain(m *testing.M) {
	if helperExec() {
		return
	}
	if os.Getenv("CERTCTL_ACME_LOG") == "" {
		acme.SetLogger(nil) // lego is chatty; CERTCTL_ACME_LOG=1 shows it
	}
	os.Exit(m.Run())
}

// testTimeout bounds every call to the CA in a test.
const testTimeout = 60 * time.Second

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pebbleConfig is an issuer config for p with fast polling and the
// built-in http-01 server on p's validation port.
func pebbleConfig(p *acmetest.Pebble) acme.Config {
	return acme.Config{
		Directory:    p.DirectoryURL,
		Email:        "pki@example.com",
		CABundle:     p.RootsPEM,
		Profile:      "default",
		HTTP01:       &acme.HTTP01{Port: p.HTTPPort, Iface: "127.0.0.1"},
		PollInterval: 50 * time.Millisecond,
		Timeout:      5 * time.Second, // lego polls the order every Timeout/60
	}
}

func newIssuer(t testing.TB, cfg acme.Config) (*acme.Issuer, *acme.Account) {
	t.Helper()
	iss, acct, err := acme.New(ctxT(t), cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return iss, acct
}

// request builds an IssueRequest for a fresh ECDSA P-256 key and names.
func request(t testing.TB, names ...string) pki.IssueRequest {
	t.Helper()
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := pki.NewCSR(key, pki.CSRSubject{DNSNames: names})
	if err != nil {
		t.Fatal(err)
	}
	return pki.IssueRequest{Name: names[0], CSR: csr, Usages: []string{"server_auth"}, Validity: 90 * 24 * time.Hour, Now: time.Now()}
}

func issue(t testing.TB, iss *acme.Issuer, req pki.IssueRequest) *pki.Issued {
	t.Helper()
	got, err := iss.Issue(ctxT(t), req)
	if err != nil {
		t.Fatalf("Issue(%s) = %v", req.Name, err)
	}
	return got
}

// checkIssued verifies the leaf against pebble's roots with the chain it
// came with, and its names.
func checkIssued(t testing.TB, p *acmetest.Pebble, got *pki.Issued, names ...string) {
	t.Helper()
	leaves, err := pki.ParseCertificatesPEM(got.CertPEM)
	if err != nil || len(leaves) != 1 || !leaves[0].Equal(got.Leaf) {
		t.Fatalf("CertPEM holds %d certificates (err %v), want just the leaf", len(leaves), err)
	}
	chain, err := pki.ParseCertificatesPEM(got.ChainPEM)
	if err != nil || len(chain) == 0 {
		t.Fatalf("ChainPEM: %d certificates, err %v", len(chain), err)
	}
	roots, _ := p.IssuerRoots(t)
	inter := x509.NewCertPool()
	for _, c := range chain {
		if c.Equal(got.Leaf) {
			t.Fatalf("ChainPEM repeats the leaf")
		}
		inter.AddCert(c)
	}
	if _, err := got.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("leaf does not verify with its chain to pebble's root: %v", err)
	}
	if !strings.HasPrefix(chain[0].Subject.CommonName, "Pebble Intermediate CA") {
		t.Errorf("chain[0] = %q, want pebble's intermediate", chain[0].Subject.CommonName)
	}
	for _, n := range names {
		if err := got.Leaf.VerifyHostname(strings.Replace(n, "*", "wild", 1)); err != nil {
			t.Errorf("leaf does not cover %s: %v", n, err)
		}
	}
}

// serveFiles serves dir on 127.0.0.1:port until t ends.
func serveFiles(t testing.TB, port int, dir string) {
	t.Helper()
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Handler: http.FileServer(http.Dir(dir))}
	ln := listen(t, srv.Addr)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
