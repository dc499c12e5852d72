package acmetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Options configure a pebble instance. The zero value is a pebble that
// really validates challenges through the system resolver.
type Options struct {
	// AlwaysValid skips challenge validation (PEBBLE_VA_ALWAYS_VALID): the
	// fast path for issuance tests.
	AlwaysValid bool
	// NonceReject is the percentage of good nonces pebble rejects as bad
	// (PEBBLE_WFE_NONCEREJECT), a fault injector.
	NonceReject int
	// DNSServer is the "host:port" pebble's validation resolves names with,
	// usually ChallTestSrv.DNSAddr. Empty means the system resolver.
	DNSServer string
	// HTTPPort is where pebble connects for http-01; 0 picks a free port.
	HTTPPort int
	// AuthzReuse is the percentage of valid authorizations pebble reuses
	// (PEBBLE_AUTHZREUSE). Pebble's own default is 50; here 0 means none,
	// so every order solves its challenges.
	AuthzReuse int
	// EABKeys, when non-empty, makes pebble require external account
	// binding with these key IDs and base64url HMAC keys.
	EABKeys map[string]string
	// ChainLength is PEBBLE_CHAIN_LENGTH (0: pebble's default, one
	// intermediate).
	ChainLength int
}

// Pebble is a running pebble ACME server.
type Pebble struct {
	// DirectoryURL is the ACME directory, https://127.0.0.1:PORT/dir.
	DirectoryURL string
	// RootsPEM is the root that signs pebble's HTTPS certificate
	// (pebble.minica.pem): the ca_bundle for DirectoryURL.
	RootsPEM []byte
	// HTTPPort is where pebble validates http-01 challenges.
	HTTPPort int
	// ManagementURL serves pebble's issuing roots and test controls.
	ManagementURL string

	proc   *proc
	client *http.Client
}

// StartPebble starts pebble on loopback and returns once its directory
// answers. It is stopped when t ends (or by Stop).
func StartPebble(t testing.TB, opts Options) *Pebble {
	t.Helper()
	bin := Binary(t, "pebble")
	mod := pebbleDir(t)
	roots, err := os.ReadFile(filepath.Join(mod, "test", "certs", "pebble.minica.pem"))
	if err != nil {
		t.Fatalf("acmetest: %v", err)
	}
	if opts.HTTPPort == 0 {
		opts.HTTPPort = freePort(t, false)
	}
	acmePort, mgmtPort, tlsPort := freePort(t, false), freePort(t, false), freePort(t, false)

	cfg := map[string]any{
		"listenAddress":           loopback(acmePort),
		"managementListenAddress": loopback(mgmtPort),
		"certificate":             filepath.Join(mod, "test", "certs", "localhost", "cert.pem"),
		"privateKey":              filepath.Join(mod, "test", "certs", "localhost", "key.pem"),
		"httpPort":                opts.HTTPPort,
		"tlsPort":                 tlsPort,
		"ocspResponderURL":        "",
		// No Retry-After: the client's own poll interval decides.
		"retryAfter":   map[string]int{"authz": 0, "order": 0},
		"keyAlgorithm": "ecdsa",
		"profiles": map[string]any{
			"default":    map[string]any{"description": "90 days", "validityPeriod": 90 * 24 * 3600},
			"shortlived": map[string]any{"description": "6 days", "validityPeriod": 6 * 24 * 3600},
		},
	}
	if len(opts.EABKeys) > 0 {
		cfg["externalAccountBindingRequired"] = true
		cfg["externalAccountMACKeys"] = opts.EABKeys
	}
	raw, err := json.MarshalIndent(map[string]any{"pebble": cfg}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "pebble-config.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	env := append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",
		"PEBBLE_AUTHZREUSE="+strconv.Itoa(opts.AuthzReuse),
		"PEBBLE_WFE_NONCEREJECT="+strconv.Itoa(opts.NonceReject),
	)
	if opts.AlwaysValid {
		env = append(env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	if opts.ChainLength > 0 {
		env = append(env, "PEBBLE_CHAIN_LENGTH="+strconv.Itoa(opts.ChainLength))
	}
	args := []string{"-config", cfgPath}
	if opts.DNSServer != "" {
		args = append(args, "-dnsserver", opts.DNSServer)
	}

	p := &Pebble{
		DirectoryURL:  fmt.Sprintf("https://%s/dir", loopback(acmePort)),
		RootsPEM:      roots,
		HTTPPort:      opts.HTTPPort,
		ManagementURL: fmt.Sprintf("https://%s", loopback(mgmtPort)),
		client:        trustingClient(t, roots),
	}
	p.proc = startProc(t, "pebble", env, bin, args...)
	p.proc.waitReady(t, func() error {
		resp, err := p.client.Get(p.DirectoryURL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("directory: %s", resp.Status)
		}
		return dialTCP(loopback(mgmtPort))
	})
	return p
}

// Stop stops pebble now; it is also stopped when the test ends.
func (p *Pebble) Stop() { p.proc.stop() }

// Logs is pebble's output so far; it logs, e.g., "is a replacement of"
// for an order that names the certificate it replaces.
func (p *Pebble) Logs() string { return p.proc.log.String() }

// HTTPClient trusts RootsPEM, for the directory and management URLs.
func (p *Pebble) HTTPClient() *http.Client { return p.client }

// IssuerRoots returns pebble's current root and intermediate certificates
// (management /roots/0 and /intermediates/0), to verify issued leaves:
// leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}).
// The intermediate pool also holds the chain pebble sends with leaves.
func (p *Pebble) IssuerRoots(t testing.TB) (roots, intermediates *x509.CertPool) {
	t.Helper()
	roots, intermediates = x509.NewCertPool(), x509.NewCertPool()
	for path, pool := range map[string]*x509.CertPool{"/roots/0": roots, "/intermediates/0": intermediates} {
		body := p.get(t, path)
		if !pool.AppendCertsFromPEM(body) {
			t.Fatalf("acmetest: %s: no certificate in %q", path, body)
		}
	}
	return roots, intermediates
}

// CertStatus is pebble's view of a certificate: "Valid" or "Revoked" and,
// when revoked with one, the reason code.
func (p *Pebble) CertStatus(t testing.TB, serial *big.Int) (status string, reason *uint) {
	t.Helper()
	var st struct {
		Status string
		Reason *uint
	}
	if err := json.Unmarshal(p.get(t, "/cert-status-by-serial/"+serial.Text(16)), &st); err != nil {
		t.Fatalf("acmetest: cert status: %v", err)
	}
	return st.Status, st.Reason
}

// SetRenewalInfo makes pebble answer ARI requests for leaf with the given
// suggested window.
func (p *Pebble) SetRenewalInfo(t testing.TB, leaf *x509.Certificate, start, end time.Time) {
	t.Helper()
	ari, err := json.Marshal(map[string]any{"suggestedWindow": map[string]string{
		"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339),
	}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]string{
		"Certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})),
		"ARIResponse": string(ari),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client.Post(p.ManagementURL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("acmetest: set renewal info: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("acmetest: set renewal info: %s %s", resp.Status, msg)
	}
}

func (p *Pebble) get(t testing.TB, path string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.ManagementURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("acmetest: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("acmetest: GET %s: %s %v %s", path, resp.Status, err, strings.TrimSpace(string(body)))
	}
	return body
}

func trustingClient(t testing.TB, rootsPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootsPEM) {
		t.Fatalf("acmetest: no certificate in the root PEM")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
