package stepcatest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki/acme/acmetest"
	"github.com/go-jose/go-jose/v4"
)

// Version is the step-ca release .ci/tools installs:
// CGO_ENABLED=0 go install github.com/smallstep/certificates/cmd/step-ca@Version
// (without cgo, as upstream builds it: no PC/SC library needed).
const Version = "v0.30.2"

// Options configure a CA. The zero value is a CA whose provisioner
// "certctl" signs leaves of up to 100 days (24 h by default).
type Options struct {
	// Provisioner is the JWK provisioner's name; "certctl" if empty.
	Provisioner string
	// MaxValidity is the longest leaf the provisioner signs; 2400h if 0.
	MaxValidity time.Duration
}

// CA is a running step-ca.
type CA struct {
	// URL is https://127.0.0.1:PORT.
	URL string
	// RootPEM is the root certificate; RootFile holds it on disk (for
	// openssl).
	RootPEM  []byte
	RootFile string
	// Provisioner is the JWK provisioner's name, EncryptedKey its private
	// key as step stores it (a compact JWE under Password).
	Provisioner  string
	EncryptedKey string
	Password     string
	// KeyID is the provisioner key's kid (its JWK thumbprint).
	KeyID string

	proc   *acmetest.Process
	client *http.Client
}

// Start initialises a CA in a temporary directory and starts step-ca on
// it; it returns once /health answers ok.
func Start(t testing.TB, opts Options) *CA {
	t.Helper()
	bin := acmetest.LookBinary("step-ca")
	if bin == "" {
		acmetest.Unavailable(t, "step-ca is not installed (.ci/tools: CGO_ENABLED=0 go install github.com/smallstep/certificates/cmd/step-ca@%s)", Version)
	}
	if opts.Provisioner == "" {
		opts.Provisioner = "certctl"
	}
	if opts.MaxValidity == 0 {
		opts.MaxValidity = 2400 * time.Hour
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	password := randomText(t)
	rootPEM, interPEM, interKeyPEM := makeCAs(t, password)
	prov, err := newProvisioner(opts.Provisioner, password)
	if err != nil {
		t.Fatalf("stepcatest: provisioner: %v", err)
	}
	port := acmetest.FreePort(t)
	cfg := map[string]any{
		"root":     write("root_ca.crt", rootPEM),
		"crt":      write("intermediate_ca.crt", interPEM),
		"key":      write("intermediate_ca_key", interKeyPEM),
		"address":  fmt.Sprintf("127.0.0.1:%d", port),
		"dnsNames": []string{"127.0.0.1", "localhost"},
		"logger":   map[string]string{"format": "text"},
		"db":       map[string]string{"type": "bbolt", "dataSource": filepath.Join(dir, "db")},
		"crl":      map[string]any{"enabled": true, "generateOnRevoke": true},
		"authority": map[string]any{
			"provisioners": []any{map[string]any{
				"type": "JWK", "name": opts.Provisioner, "key": prov.public, "encryptedKey": prov.encrypted,
				"claims": map[string]string{
					"maxTLSCertDuration": opts.MaxValidity.String(), "defaultTLSCertDuration": "24h0m0s",
				},
			}},
		},
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := write("ca.json", raw)
	pwPath := write("password.txt", []byte(password))

	ca := &CA{
		URL: fmt.Sprintf("https://127.0.0.1:%d", port), RootPEM: rootPEM, RootFile: filepath.Join(dir, "root_ca.crt"),
		Provisioner: opts.Provisioner, EncryptedKey: prov.encrypted, Password: password, KeyID: prov.kid,
		client: acmetest.TrustingClient(t, rootPEM),
	}
	env := append(os.Environ(), "STEPPATH="+dir, "HOME="+dir)
	ca.proc = acmetest.StartProcess(t, "step-ca", env, bin, cfgPath, "--password-file", pwPath)
	ca.proc.WaitReady(t, func() error {
		body, err := ca.get("/health")
		if err != nil {
			return err
		}
		if !strings.Contains(string(body), `"ok"`) {
			return fmt.Errorf("health: %s", body)
		}
		return nil
	})
	return ca
}

// Stop stops the CA now (a CA that went down); it is also stopped when
// the test ends.
func (ca *CA) Stop() { ca.proc.Stop() }

// Logs is step-ca's output so far.
func (ca *CA) Logs() string { return ca.proc.Logs() }

// CRL returns the CA's current CRL, DER (GET /1.0/crl).
func (ca *CA) CRL(t testing.TB) []byte {
	t.Helper()
	body, err := ca.get("/1.0/crl")
	if err != nil {
		t.Fatalf("stepcatest: %v", err)
	}
	return body
}

// Revoked reports whether the CA's CRL lists serial.
func (ca *CA) Revoked(t testing.TB, serial *big.Int) bool {
	t.Helper()
	crl, err := x509.ParseRevocationList(ca.CRL(t))
	if err != nil {
		t.Fatalf("stepcatest: CRL: %v", err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

func (ca *CA) get(path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ca.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := ca.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s %s", path, resp.Status, body)
	}
	return body, nil
}

func randomText(t testing.TB) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// makeCAs makes a root and an intermediate (ECDSA P-256, as `step ca
// init` does) and returns them in PEM with the intermediate's key,
// encrypted with password as step-ca reads it through --password-file.
func makeCAs(t testing.TB, password string) (rootPEM, interPEM, interKeyPEM []byte) {
	t.Helper()
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stepcatest Root CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	interTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "stepcatest Intermediate CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(interKey)
	if err != nil {
		t.Fatal(err)
	}
	// Legacy PEM encryption (deprecated in Go for its weak KDF) is the
	// one step-ca reads that Go can write; the key is a test's.
	blk, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", keyDER, []byte(password), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: interDER}),
		pem.EncodeToMemory(blk)
}

// provisioner is a JWK provisioner's key: public JWK, kid, and the
// private JWK encrypted as step encrypts it.
type provisioner struct {
	public    jose.JSONWebKey
	kid       string
	encrypted string
}

// PBES2Count is the PBKDF2 iteration count of the encrypted provisioner
// keys made here; step uses 600000, fewer keeps tests quick.
const PBES2Count = 10000

func newProvisioner(name, password string) (*provisioner, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: key, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	enc, err := EncryptJWK(jwk, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &provisioner{public: jwk.Public(), kid: jwk.KeyID, encrypted: enc}, nil
}

// EncryptJWK encrypts a private JWK under password as step does
// (PBES2-HS256+A128KW, A256GCM, content type jwk+json), in compact
// serialization.
func EncryptJWK(jwk jose.JSONWebKey, password string) (string, error) {
	plain, err := jwk.MarshalJSON()
	if err != nil {
		return "", err
	}
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.PBES2_HS256_A128KW, Key: []byte(password), PBES2Count: PBES2Count},
		(&jose.EncrypterOptions{}).WithContentType("jwk+json"))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(plain)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}
