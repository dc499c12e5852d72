package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"

	"github.com/certctl/certctl/pki"
)

// Issuer orders certificates from one ACME CA with one account. Its
// methods are safe for concurrent use; at most Config.MaxConcurrency
// orders are in flight at once, further Issue calls wait for a slot.
type Issuer struct {
	cfg       Config
	core      *api.Core
	certifier *certificate.Certifier
	ari       bool // the CA has a renewalInfo endpoint

	sem chan struct{}

	mu     sync.Mutex // guards bucket
	bucket *Bucket    // nil without a rate limit
	now    func() time.Time
}

// New connects to cfg.Directory and returns an issuer for it.
//
// acct is the stored account, or nil. It is reused when its directory and
// email match cfg and its key parses; otherwise a new ECDSA P-256 key is
// made and registered (with cfg.EAB if set). The returned account is acct
// itself when reused, else the new one, which the caller must store (its
// KeyPEM sealed). New fails if the CA cannot be reached; the error says
// whether it was the connection or TLS trust (ca_bundle).
func New(ctx context.Context, cfg Config, acct *Account) (*Issuer, *Account, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("acme issuer: %w", err)
	}
	cfg = cfg.withDefaults()
	client, err := newHTTPClient(&cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("acme issuer: %w", err)
	}
	if err := probeDirectory(ctx, client, cfg.Directory); err != nil {
		return nil, nil, fmt.Errorf("acme issuer: %w", err)
	}

	key, reuse := reusable(acct, &cfg)
	kid := ""
	if reuse {
		kid = acct.URI
	} else if key, err = newAccountKey(); err != nil {
		return nil, nil, fmt.Errorf("acme issuer: account key: %w", err)
	}
	core, err := api.New(client, userAgent, cfg.Directory, kid, key)
	if err != nil {
		return nil, nil, fmt.Errorf("acme issuer: %w", explainTransportError(cfg.Directory, err))
	}
	if err := checkProfile(core, cfg.Profile); err != nil {
		return nil, nil, fmt.Errorf("acme issuer: %w", err)
	}
	if !reuse {
		if acct, err = register(ctx, core, &cfg, key); err != nil {
			return nil, nil, fmt.Errorf("acme issuer %s: %w", cfg.Directory, err)
		}
	}

	i := &Issuer{
		cfg:  cfg,
		core: core,
		ari:  core.GetDirectory().RenewalInfo != "",
		sem:  make(chan struct{}, cfg.MaxConcurrency),
		now:  time.Now,
	}
	if cfg.RateLimit != nil {
		i.bucket = NewBucket(*cfg.RateLimit, i.now())
	}
	s := &solver{poll: cfg.PollInterval, timeout: cfg.Timeout}
	if cfg.HTTP01 != nil {
		s.http = http01.NewChallenge(core, s.validate, newHTTP01Provider(cfg.HTTP01))
	} else if s.dns, err = newDNS01(core, &cfg, s); err != nil {
		return nil, nil, fmt.Errorf("acme issuer: %w", err)
	}
	i.certifier = certificate.NewCertifier(core, s, certificate.CertifierOptions{Timeout: cfg.Timeout})
	return i, acct, nil
}

// checkProfile fails when a profile is asked for that the CA does not list.
func checkProfile(core *api.Core, profile string) error {
	if profile == "" {
		return nil
	}
	offered := core.GetDirectory().Meta.Profiles
	if _, ok := offered[profile]; ok {
		return nil
	}
	if len(offered) == 0 {
		return fmt.Errorf("profile %q: the CA offers no profiles", profile)
	}
	names := make([]string, 0, len(offered))
	for n := range offered {
		names = append(names, n)
	}
	slices.Sort(names)
	return fmt.Errorf("profile %q: the CA offers %s", profile, strings.Join(names, ", "))
}

// ARI reports whether the CA offers renewal information (RFC 9773).
func (i *Issuer) ARI() bool { return i.ari }

// Issue orders a certificate for req.CSR, solving the configured
// challenge for each name. When req.Replaces is set and the CA offers ARI,
// the order names the replaced certificate; if the CA refuses that (e.g.
// already replaced, or not its certificate) the order is placed once more
// without it. It blocks while MaxConcurrency orders are in flight, and
// fails at once with a *RateLimitError when the client-side budget is
// spent. Validity and Usages are the CA's to decide and are not sent.
func (i *Issuer) Issue(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error) {
	issued, err := i.issue(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("acme: issuing %s: %w", req.Name, err)
	}
	return issued, nil
}

func (i *Issuer) issue(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error) {
	if req.CSR == nil {
		return nil, errors.New("no CSR")
	}
	if err := req.CSR.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR: %w", err)
	}
	// lego derives a key type from the CSR after issuance and fails on
	// types it does not know (Ed25519), which would discard the issued
	// certificate: refuse before ordering.
	if _, err := certcrypto.GetCSRKeyType(req.CSR); err != nil {
		return nil, fmt.Errorf("CSR key %s: ACME issuance supports ecdsa-p256, ecdsa-p384 and RSA keys", pki.KeyAlgorithmOf(req.CSR.PublicKey))
	}

	select {
	case i.sem <- struct{}{}:
		defer func() { <-i.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := i.take(); err != nil {
		return nil, err
	}

	obtain := certificate.ObtainForCSRRequest{
		CSR:            req.CSR,
		Profile:        i.cfg.Profile,
		ReplacesCertID: i.replacesID(ctx, req.Replaces),
	}
	res, err := i.certifier.ObtainForCSR(ctx, obtain)
	if err != nil && obtain.ReplacesCertID != "" && replacesRefused(err) {
		obtain.ReplacesCertID = ""
		res, err = i.certifier.ObtainForCSR(ctx, obtain)
	}
	if err != nil {
		return nil, i.explainOrderError(err)
	}
	return splitChain(res.Certificate, res.IssuerCertificate, req.CSR.PublicKey)
}

// replacesID is the ARI certificate ID of old for the order's "replaces"
// field, or "" when there is nothing to name: no old certificate, no ARI,
// or a certificate the CA does not know (e.g. from another issuer), which
// a renewal-info request tells before an order is refused for it.
func (i *Issuer) replacesID(ctx context.Context, old *x509.Certificate) string {
	if old == nil || !i.ari || len(old.AuthorityKeyId) == 0 {
		return ""
	}
	if _, _, ok, err := i.RenewalInfo(ctx, old); !ok || err != nil {
		return ""
	}
	id, err := api.MakeARICertID(old)
	if err != nil {
		return ""
	}
	return id
}

// take spends a token of the client-side budget.
func (i *Issuer) take() error {
	if i.bucket == nil {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if ok, wait := i.bucket.Take(i.now()); !ok {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}

// Available is how many orders the client-side budget allows now; -1
// without a rate limit.
func (i *Issuer) Available() int {
	if i.bucket == nil {
		return -1
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.bucket.Available(i.now())
}

// replacesRefused reports whether the CA refused the order because of its
// "replaces" field: alreadyReplaced (RFC 9773), or another problem whose
// detail is about the replaced certificate (pebble, for instance, refuses
// a replacement that shares no name with the old certificate).
func replacesRefused(err error) bool {
	if _, ok := errors.AsType[*legoacme.AlreadyReplacedError](err); ok {
		return true
	}
	p, ok := errors.AsType[*legoacme.ProblemDetails](err)
	if !ok {
		return false
	}
	d := strings.ToLower(p.Detail)
	return strings.Contains(d, "replace") || strings.Contains(d, "certid") || strings.Contains(d, "existing order")
}

// explainOrderError turns the CA's rate-limit problem into a
// *RateLimitError and says so when a request to the CA itself failed
// (CA down, TLS trust); other errors pass unchanged.
func (i *Issuer) explainOrderError(err error) error {
	if rl, ok := errors.AsType[*legoacme.RateLimitedError](err); ok {
		return &RateLimitError{RetryAfter: rl.RetryAfter, ByCA: true, Err: err}
	}
	if ue, ok := errors.AsType[*url.Error](err); ok && !errors.Is(err, context.Canceled) && sameHost(ue.URL, i.cfg.Directory) {
		return explainTransportError(i.cfg.Directory, err)
	}
	return err
}

func sameHost(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil && ua.Host == ub.Host
}

// splitChain parses what the CA sent (leaf, then issuers; lego may repeat
// them across its two fields) into the leaf and its chain, and checks that
// the leaf certifies the CSR's key.
func splitChain(certPEM, issuerPEM []byte, csrKey crypto.PublicKey) (*pki.Issued, error) {
	all, err := pki.ParseCertificatesPEM(append(slices.Clip(certPEM), issuerPEM...))
	if err != nil {
		return nil, fmt.Errorf("certificate from the CA: %w", err)
	}
	if len(all) == 0 {
		return nil, errors.New("the CA returned no certificate")
	}
	leaf := all[0]
	if k, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(csrKey) {
		return nil, errors.New("the CA returned a certificate for another key than the CSR's")
	}
	out := &pki.Issued{Leaf: leaf, CertPEM: pki.EncodeCertificatePEM(leaf.Raw)}
	var chain bytes.Buffer
	seen := [][]byte{leaf.Raw}
	for _, c := range all[1:] {
		if slices.ContainsFunc(seen, func(raw []byte) bool { return bytes.Equal(raw, c.Raw) }) {
			continue
		}
		seen = append(seen, c.Raw)
		chain.Write(pki.EncodeCertificatePEM(c.Raw))
	}
	out.ChainPEM = chain.Bytes()
	return out, nil
}

// RenewalInfo asks the CA when leaf should be renewed (ARI, RFC 9773).
// ok is false, with no error, when the CA has no ARI or does not know the
// certificate (HTTP 404); then the policy's window applies.
func (i *Issuer) RenewalInfo(ctx context.Context, leaf *x509.Certificate) (start, end time.Time, ok bool, err error) {
	if !i.ari || leaf == nil {
		return time.Time{}, time.Time{}, false, nil
	}
	ri, err := i.certifier.GetRenewalInfo(ctx, leaf)
	if errors.Is(err, api.ErrNoARI) {
		return time.Time{}, time.Time{}, false, nil
	}
	if p, isProblem := errors.AsType[*legoacme.ProblemDetails](err); isProblem && p.HTTPStatus == http.StatusNotFound {
		return time.Time{}, time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("acme: renewal info for serial %s: %w", pki.SerialHex(leaf), err)
	}
	return ri.SuggestedWindow.Start, ri.SuggestedWindow.End, true, nil
}

// Revoke revokes leaf at the CA with an RFC 5280 reason code (0
// unspecified, 1 keyCompromise, 4 superseded, 5 cessationOfOperation, …).
// A certificate that is already revoked is not an error, so that a
// revocation can be retried after a crash.
func (i *Issuer) Revoke(ctx context.Context, leaf *x509.Certificate, reason uint) error {
	if leaf == nil {
		return errors.New("acme: revoke: no certificate")
	}
	if reason > 10 || reason == 7 {
		return fmt.Errorf("acme: revoke serial %s: %d is not a revocation reason code", pki.SerialHex(leaf), reason)
	}
	err := i.certifier.RevokeWithReason(ctx, pki.EncodeCertificatePEM(leaf.Raw), &reason)
	if p, ok := errors.AsType[*legoacme.ProblemDetails](err); ok && p.Type == legoacme.AlreadyRevokedErrorType {
		return nil
	}
	if err != nil {
		return fmt.Errorf("acme: revoke serial %s: %w", pki.SerialHex(leaf), err)
	}
	return nil
}
