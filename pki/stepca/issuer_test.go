package stepca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/stepca"
	"github.com/certctl/certctl/pki/stepca/stepcatest"
	"github.com/go-jose/go-jose/v4"
)

func newIssuer(t *testing.T, ca *stepcatest.CA) *stepca.Issuer {
	t.Helper()
	iss, err := stepca.New(stepca.Config{
		URL: ca.URL, RootPEM: ca.RootPEM, Provisioner: ca.Provisioner,
		ProvisionerKey: []byte(ca.EncryptedKey), Password: []byte(ca.Password), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("stepca.New: %v", err)
	}
	return iss
}

func csrFor(t *testing.T, alg string, subj pki.CSRSubject) (*x509.CertificateRequest, crypto.Signer) {
	t.Helper()
	key, err := pki.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := pki.NewCSR(key, subj)
	if err != nil {
		t.Fatal(err)
	}
	return csr, key
}

// openssl runs openssl with args in dir and returns its output and
// whether it succeeded.
func openssl(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err == nil
}

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A certificate from the real step-ca: it holds the CSR's key and names,
// openssl verifies it against the root through the returned chain, and
// after Revoke the CA's CRL lists it, so openssl's CRL check refuses it.
func TestIssueVerifyRevoke(t *testing.T) {
	ca := stepcatest.Start(t, stepcatest.Options{})
	iss := newIssuer(t, ca)
	ctx := context.Background()

	for _, alg := range []string{pki.ECDSAP256, pki.RSA2048, pki.Ed25519} {
		t.Run(alg, func(t *testing.T) {
			subj := pki.CSRSubject{CommonName: "www.example.test", DNSNames: []string{"example.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
			csr, key := csrFor(t, alg, subj)
			got, err := iss.Issue(ctx, pki.IssueRequest{Name: "www", CSR: csr, Usages: []string{"server_auth"}, Validity: 30 * 24 * time.Hour, Now: time.Now()})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			leaf := got.Leaf
			if leaf.Subject.CommonName != "www.example.test" || strings.Join(leaf.DNSNames, ",") != "www.example.test,example.test" ||
				len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
				t.Errorf("leaf names: CN %q DNS %v IP %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
			}
			if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Error("the leaf does not hold the CSR's key")
			}
			if life := leaf.NotAfter.Sub(leaf.NotBefore); life < 30*24*time.Hour-2*time.Minute || life > 30*24*time.Hour+2*time.Minute {
				t.Errorf("lifetime %v, want the requested 30 days", life)
			}

			dir := t.TempDir()
			writeFile(t, dir, "root.pem", ca.RootPEM)
			writeFile(t, dir, "chain.pem", got.ChainPEM)
			writeFile(t, dir, "leaf.pem", got.CertPEM)
			if out, ok := openssl(t, dir, "verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", "example.test",
				"-CAfile", "root.pem", "-untrusted", "chain.pem", "leaf.pem"); !ok {
				t.Fatalf("openssl verify: %s", out)
			}
			// The check can fail: without the chain the leaf does not reach the root.
			if out, ok := openssl(t, dir, "verify", "-CAfile", "root.pem", "leaf.pem"); ok {
				t.Fatalf("openssl verify without the intermediate passed: %s", out)
			}

			if ca.Revoked(t, leaf.SerialNumber) {
				t.Fatal("the CRL lists the certificate before it was revoked")
			}
			if err := iss.Revoke(ctx, leaf, 5); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if !ca.Revoked(t, leaf.SerialNumber) {
				t.Fatal("the CRL does not list the revoked certificate")
			}
			if err := iss.Revoke(ctx, leaf, 5); err != nil {
				t.Errorf("Revoke of a revoked certificate: %v, want nil", err)
			}
			// openssl reads the CRL, checks its signature by the
			// intermediate and lists the serial. (step-ca's CRL carries an
			// issuing distribution point its leaves do not name, so
			// `openssl verify -crl_check` calls it out of scope.)
			writeFile(t, dir, "crl.der", ca.CRL(t))
			out, ok := openssl(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "chain.pem", "-noout", "-text")
			if !ok || !strings.Contains(out, "verify OK") {
				t.Fatalf("openssl crl: %s", out)
			}
			serial := strings.ToUpper(leaf.SerialNumber.Text(16))
			if len(serial)%2 == 1 {
				serial = "0" + serial
			}
			if !strings.Contains(out, "Serial Number: "+serial) {
				t.Errorf("openssl crl does not list serial %s:\n%s", serial, out)
			}
		})
	}
}

// The CA refuses what the provisioner does not allow, and says why.
func TestRefusals(t *testing.T) {
	ca := stepcatest.Start(t, stepcatest.Options{MaxValidity: 48 * time.Hour})
	iss := newIssuer(t, ca)
	ctx := context.Background()
	csr, _ := csrFor(t, pki.ECDSAP256, pki.CSRSubject{CommonName: "a.example.test"})

	_, err := iss.Issue(ctx, pki.IssueRequest{Name: "a", CSR: csr, Validity: 90 * 24 * time.Hour})
	re, ok := errors.AsType[*stepca.ResponseError](err)
	if !ok || re.Status != 403 || !strings.Contains(err.Error(), "duration") {
		t.Errorf("Issue beyond the provisioner's maximum: %v, want a 403 that speaks of the duration", err)
	}
	if got, err := iss.Issue(ctx, pki.IssueRequest{Name: "a", CSR: csr}); err != nil || got.Leaf.NotAfter.Sub(got.Leaf.NotBefore) > 25*time.Hour {
		t.Errorf("Issue without a validity: %v (want the provisioner's default of 24h)", err)
	}

	// A usage the provisioner's template does not give.
	_, err = iss.Issue(ctx, pki.IssueRequest{Name: "a", CSR: csr, Usages: []string{"email_protection"}})
	if err == nil || !strings.Contains(err.Error(), "lacks the email_protection usage") {
		t.Errorf("Issue for email_protection: %v", err)
	}

	// Another key under the provisioner's name: the CA does not know it.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := stepcatest.EncryptJWK(jose.JSONWebKey{Key: other, Algorithm: "ES256"}, "other-pass")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := stepca.New(stepca.Config{URL: ca.URL, RootPEM: ca.RootPEM, Provisioner: ca.Provisioner, ProvisionerKey: []byte(enc), Password: []byte("other-pass")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stranger.Issue(ctx, pki.IssueRequest{Name: "a", CSR: csr})
	if re, ok := errors.AsType[*stepca.ResponseError](err); !ok || re.Status != 401 || !strings.Contains(err.Error(), `is "certctl" a JWK provisioner of this CA`) {
		t.Errorf("Issue with an unknown provisioner key: %v, want HTTP 401 and a hint", err)
	}

	// Another root: the CA's HTTPS is not trusted.
	otherRoot := selfSigned(t)
	wrongRoot, err := stepca.New(stepca.Config{URL: ca.URL, RootPEM: otherRoot, Provisioner: ca.Provisioner, ProvisionerKey: []byte(ca.EncryptedKey), Password: []byte(ca.Password)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrongRoot.Issue(ctx, pki.IssueRequest{Name: "a", CSR: csr}); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("Issue trusting another root: %v", err)
	}

	// The CA went down: a prompt error that names it.
	ca.Stop()
	start := time.Now()
	_, err = iss.Issue(ctx, pki.IssueRequest{Name: "a", CSR: csr})
	if err == nil || !strings.Contains(err.Error(), ca.URL) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Issue with the CA down: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Issue with the CA down took %v", d)
	}
}

// A wrong password, a key that is not a JWE, a public key: New says
// which, and never quotes the key or the password.
func TestNewBadKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key, Algorithm: "ES256"}
	const pass = "correct-horse-battery"
	enc, err := stepcatest.EncryptJWK(jwk, pass)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := jwk.MarshalJSON()
	public, _ := jwk.Public().MarshalJSON()
	root := selfSigned(t)
	cfg := func(key, password string) stepca.Config {
		c := stepca.Config{URL: "https://127.0.0.1:9", RootPEM: root, Provisioner: "p", ProvisionerKey: []byte(key)}
		if password != "" {
			c.Password = []byte(password)
		}
		return c
	}
	if _, err := stepca.New(cfg(enc, pass)); err != nil {
		t.Fatalf("New with the right password: %v", err)
	}
	if _, err := stepca.New(cfg(string(plain), "")); err != nil {
		t.Fatalf("New with a plain private JWK: %v", err)
	}
	for _, tc := range []struct {
		name, key, password, want string
	}{
		{"wrong password", enc, "Tr0ub4dor&3", "wrong provisioner_password"},
		{"not a JWE", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----", pass, "not a JWE"},
		{"public JWK", string(public), "", "not a private JWK"},
		{"encrypted, no password", enc, "", "no password was given"},
	} {
		_, err := stepca.New(cfg(tc.key, tc.password))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v, want an error with %q", tc.name, err, tc.want)
			continue
		}
		for _, secret := range []string{pass, "Tr0ub4dor&3", enc[:20], "MHcCAQEE"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("New(%s) error quotes a secret: %v", tc.name, err)
			}
		}
	}
	if _, err := stepca.New(stepca.Config{URL: "https://ca.example.com", RootPEM: []byte("not PEM"), Provisioner: "p", ProvisionerKey: plain}); err == nil {
		t.Error("New accepted a root that is not PEM")
	}
}

func selfSigned(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
