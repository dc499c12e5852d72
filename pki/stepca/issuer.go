package stepca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Config says which CA to use and how to sign its tokens.
type Config struct {
	// URL is the CA's address, https://HOST[:PORT].
	URL string
	// RootPEM holds the CA's root certificate(s): the CA's HTTPS and every
	// certificate it issues must chain to them. The first one's
	// fingerprint goes into tokens.
	RootPEM []byte
	// Provisioner is the JWK provisioner's name.
	Provisioner string
	// ProvisionerKey is the provisioner's private JWK, encrypted as a JWE
	// (compact or JSON serialization) when Password is set, else plain
	// JSON.
	ProvisionerKey []byte
	// Password decrypts ProvisionerKey; nil when it is not encrypted.
	Password []byte
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds a request to the CA when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// tokenLifetime is how long a token is valid: step-ca allows a minute of
// clock skew on top.
const tokenLifetime = 5 * time.Minute

// Issuer signs CSRs and revokes certificates at one step-ca. Safe for
// concurrent use.
type Issuer struct {
	url         string
	provisioner string
	key         jose.JSONWebKey // private, KeyID set
	alg         jose.SignatureAlgorithm
	rootSHA     string // hex SHA-256 of the first root's DER
	roots       *x509.CertPool
	client      *http.Client
}

// New checks cfg, decrypts the provisioner key and returns an Issuer. It
// makes no request: an unreachable CA shows at the first Issue. Errors
// never contain the key or the password.
func New(cfg Config) (*Issuer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("step-ca: %q is not an https:// URL with a host", cfg.URL)
	}
	if cfg.Provisioner == "" {
		return nil, errors.New("step-ca: no provisioner name")
	}
	roots, err := pki.ParseCertificatesPEM(cfg.RootPEM)
	if err == nil && len(roots) == 0 {
		err = errors.New("no certificate in it")
	}
	if err != nil {
		return nil, fmt.Errorf("step-ca: the root is not a PEM certificate: %w", err)
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	key, err := decryptKey(cfg.ProvisionerKey, cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("step-ca: provisioner %q: %w", cfg.Provisioner, err)
	}
	alg, err := signatureAlgorithm(key)
	if err != nil {
		return nil, fmt.Errorf("step-ca: provisioner %q: %w", cfg.Provisioner, err)
	}
	sum := sha256.Sum256(roots[0].Raw)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Issuer{
		url:         strings.TrimSuffix(cfg.URL, "/"),
		provisioner: cfg.Provisioner,
		key:         *key,
		alg:         alg,
		rootSHA:     hex.EncodeToString(sum[:]),
		roots:       pool,
		client:      &http.Client{Transport: tr, Timeout: timeout},
	}, nil
}

// keyAlgorithms and contentEncryptions are what step writes encrypted
// keys with (PBES2 and AES-GCM), and their stronger siblings.
var (
	keyAlgorithms      = []jose.KeyAlgorithm{jose.PBES2_HS256_A128KW, jose.PBES2_HS384_A192KW, jose.PBES2_HS512_A256KW}
	contentEncryptions = []jose.ContentEncryption{jose.A128GCM, jose.A192GCM, jose.A256GCM, jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512}
)

// errBadKey hides what was wrong with a key beyond its kind: the
// underlying errors may quote it.
var errBadKey = errors.New("the provisioner key is not a private JWK")

// decryptKey opens a provisioner key: a JWE under password, or a plain
// JWK when password is nil. Its KeyID is the JWK thumbprint (as step
// sets it) when the key has none.
func decryptKey(data, password []byte) (*jose.JSONWebKey, error) {
	plain := bytes.TrimSpace(data)
	if len(password) > 0 {
		enc, err := jose.ParseEncrypted(string(plain), keyAlgorithms, contentEncryptions)
		if err != nil {
			return nil, errors.New("the provisioner key is not a JWE encrypted with a password (PBES2)")
		}
		if plain, err = enc.Decrypt(password); err != nil {
			return nil, errors.New("cannot decrypt the provisioner key: wrong provisioner_password, or a damaged key")
		}
		defer clear(plain)
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(plain); err != nil {
		if _, jweErr := jose.ParseEncrypted(string(plain), keyAlgorithms, contentEncryptions); jweErr == nil {
			return nil, errors.New("the provisioner key is encrypted (a JWE), and no password was given")
		}
		return nil, errBadKey
	}
	if key.IsPublic() || !key.Valid() {
		return nil, errBadKey
	}
	if key.KeyID == "" {
		tp, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, errBadKey
		}
		key.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	return &key, nil
}

// signatureAlgorithm is the key's "alg", else the usual one for its type.
func signatureAlgorithm(key *jose.JSONWebKey) (jose.SignatureAlgorithm, error) {
	if key.Algorithm != "" {
		return jose.SignatureAlgorithm(key.Algorithm), nil
	}
	switch k := key.Key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	case *rsa.PrivateKey:
		return jose.RS256, nil
	}
	return "", fmt.Errorf("unsupported provisioner key type %T", key.Key)
}

// claims are those of a step-ca provisioner token.
type claims struct {
	jwt.Claims
	SHA  string   `json:"sha,omitempty"`
	SANs []string `json:"sans,omitempty"`
	CNF  *cnf     `json:"cnf,omitempty"`
}

type cnf struct {
	Fingerprint string `json:"x5rt#S256"` // base64url SHA-256 of the CSR's DER
}

// token signs a one-time token for endpoint (a path under /1.0/).
func (i *Issuer) token(endpoint, subject string, sans []string, csrDER []byte) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: i.alg, Key: i.key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("token signer: %w", err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	// The CA checks tokens against its own clock: this is real time, not
	// the issuance time of the request.
	now := time.Now()
	c := claims{
		Claims: jwt.Claims{
			Issuer: i.provisioner, Subject: subject, Audience: jwt.Audience{i.url + "/1.0/" + endpoint},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(now.Add(tokenLifetime)), ID: hex.EncodeToString(jti),
		},
		SHA: i.rootSHA, SANs: sans,
	}
	if csrDER != nil {
		sum := sha256.Sum256(csrDER)
		c.CNF = &cnf{Fingerprint: base64.RawURLEncoding.EncodeToString(sum[:])}
	}
	return jwt.Signed(signer).Claims(c).Serialize()
}

// Issue has the CA sign req.CSR. The token names every SAN of the CSR and
// its common name (or first SAN) as the subject; req.Validity, when set,
// is asked for as the lifetime, which the provisioner must allow. The
// certificate must hold the CSR's key, chain to the root and carry the
// requested usages. Validity is the CA's business beyond that: its
// provisioner's claims bound it.
func (i *Issuer) Issue(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error) {
	csr := req.CSR
	if csr == nil {
		return nil, errors.New("step-ca: issue: no CSR")
	}
	sans := csrSANs(csr)
	subject := csr.Subject.CommonName
	if subject == "" && len(sans) > 0 {
		subject = sans[0]
	}
	ott, err := i.token("sign", subject, sans, csr.Raw)
	if err != nil {
		return nil, fmt.Errorf("step-ca: %w", err)
	}
	body := map[string]any{
		"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})),
		"ott": ott,
	}
	if req.Validity > 0 {
		body["notAfter"] = req.Validity.String()
	}
	var resp struct {
		Crt       string   `json:"crt"`
		CA        string   `json:"ca"`
		CertChain []string `json:"certChain"`
	}
	if err := i.post(ctx, "sign", body, &resp); err != nil {
		return nil, i.hint(err)
	}
	pems := resp.CertChain
	if len(pems) == 0 {
		pems = []string{resp.Crt, resp.CA}
	}
	var certs []*x509.Certificate
	for _, p := range pems {
		cs, err := pki.ParseCertificatesPEM([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("step-ca %s: the signed certificate does not parse: %w", i.url, err)
		}
		certs = append(certs, cs...)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("step-ca %s: no certificate in the answer", i.url)
	}
	leaf := certs[0]
	if err := i.check(leaf, certs[1:], csr, req.Usages); err != nil {
		return nil, fmt.Errorf("step-ca %s: %w", i.url, err)
	}
	var chain []byte
	for _, c := range certs[1:] {
		chain = append(chain, pki.EncodeCertificatePEM(c.Raw)...)
	}
	return &pki.Issued{Leaf: leaf, CertPEM: pki.EncodeCertificatePEM(leaf.Raw), ChainPEM: chain}, nil
}

// usageEKUs maps the policy's usages to extended key usages.
var usageEKUs = map[string]x509.ExtKeyUsage{
	"server_auth": x509.ExtKeyUsageServerAuth, "client_auth": x509.ExtKeyUsageClientAuth, "email_protection": x509.ExtKeyUsageEmailProtection,
}

// check refuses a certificate certctl did not ask for: another key, a
// chain that does not reach the configured root, a missing usage (the
// provisioner's template decides them).
func (i *Issuer) check(leaf *x509.Certificate, chain []*x509.Certificate, csr *x509.CertificateRequest, usages []string) error {
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(csr.PublicKey) {
		return errors.New("the signed certificate does not hold the requested key")
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: i.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("the signed certificate does not chain to the configured root: %w", err)
	}
	for _, u := range usages {
		eku, known := usageEKUs[u]
		if known && !hasEKU(leaf, eku) {
			return fmt.Errorf("the signed certificate lacks the %s usage, which the provisioner's template decides: add it there, or remove it from the policy", u)
		}
	}
	return nil
}

func hasEKU(c *x509.Certificate, eku x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == eku || e == x509.ExtKeyUsageAny {
			return true
		}
	}
	return len(c.ExtKeyUsage) == 0 // no EKU: any usage
}

// csrSANs lists the CSR's names as step-ca compares them with a token's
// sans: DNS names, IP addresses, emails, URIs.
func csrSANs(csr *x509.CertificateRequest) []string {
	var out []string
	out = append(out, csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, csr.EmailAddresses...)
	for _, u := range csr.URIs {
		out = append(out, u.String())
	}
	return out
}

// Revoke revokes leaf at the CA, passively (step-ca does not support
// active revocation): it stops the certificate from renewing and lists
// it in the CRL. reason is an RFC 5280 code. A certificate the CA already
// revoked is not an error.
func (i *Issuer) Revoke(ctx context.Context, leaf *x509.Certificate, reason uint) error {
	if leaf == nil {
		return errors.New("step-ca: revoke: no certificate")
	}
	if reason > 10 || reason == 7 {
		return fmt.Errorf("step-ca: revoke serial %s: %d is not a revocation reason code", pki.SerialHex(leaf), reason)
	}
	serial := leaf.SerialNumber.String()
	ott, err := i.token("revoke", serial, nil, nil)
	if err != nil {
		return fmt.Errorf("step-ca: %w", err)
	}
	body := map[string]any{"serial": serial, "ott": ott, "reasonCode": reason, "reason": pki.RevocationReasonName(int(reason)), "passive": true}
	err = i.post(ctx, "revoke", body, nil)
	if re, ok := errors.AsType[*ResponseError](err); ok && re.Status == http.StatusBadRequest && strings.Contains(re.Message, "already revoked") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("step-ca: revoke serial %s: %w", pki.SerialHex(leaf), i.hint(err))
	}
	return nil
}

// hint adds what to check to a refused token: step-ca says only that
// authorization failed, and logs why.
func (i *Issuer) hint(err error) error {
	if re, ok := errors.AsType[*ResponseError](err); ok && re.Status == http.StatusUnauthorized {
		return fmt.Errorf("%w; is %q a JWK provisioner of this CA, with this key (kid %s)? The CA's log says why it refused", err, i.provisioner, i.key.KeyID)
	}
	return err
}

// ResponseError is a refusal by the CA: its HTTP status and message.
type ResponseError struct {
	URL     string // the endpoint
	Status  int
	Message string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("step-ca %s: %s (HTTP %d)", e.URL, e.Message, e.Status)
}

// maxResponse bounds what is read from the CA: a certificate chain.
const maxResponse = 1 << 20

// post sends body as JSON to /1.0/endpoint and decodes a 2xx answer into
// out (when not nil).
func (i *Issuer) post(ctx context.Context, endpoint string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := i.url + "/1.0/" + endpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certctl")
	resp, err := i.client.Do(req)
	if err != nil {
		return fmt.Errorf("step-ca: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("step-ca %s: reading the answer: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &ResponseError{URL: u, Status: resp.StatusCode, Message: msg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("step-ca %s: the answer is not the expected JSON: %w", u, err)
	}
	return nil
}
