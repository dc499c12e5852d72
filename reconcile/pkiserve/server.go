// Package pkiserve publishes what the local CAs of a configuration say
// about their certificates, over plain HTTP as RFC 8615 well-known URIs:
//
//	GET  /.well-known/pki/crl/{issuer}          the CRL, DER (application/pkix-crl)
//	POST /.well-known/pki/ocsp/{issuer}         an OCSP request in the body (RFC 6960)
//	GET  /.well-known/pki/ocsp/{issuer}/{req}   the same, base64 in the path
//	GET  /.well-known/pki/ca/{issuer}           the CA certificate, DER
//
// The entry point is New; the watch loop calls Server.Update after every
// pass and mounts the Server at "/.well-known/pki/". Nothing here needs
// authentication: relying parties fetch these anonymously.
package pkiserve

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Prefix is the path under which a Server answers.
const Prefix = "/.well-known/pki/"

// crlMaxAge is the Cache-Control max-age of a CRL. A CRL is replaced at
// once when a certificate is revoked, so caches should come back soon,
// whatever its nextUpdate says.
const crlMaxAge = 5 * time.Minute

// Server answers CRL, OCSP and CA-certificate requests for the local CAs.
// It is safe for concurrent use: Update swaps what it publishes while
// requests are answered.
type Server struct {
	// Clock is the time of CRLs and OCSP responses; New sets time.Now.
	// Set it before the first Update.
	Clock func() time.Time
	// CRLValidity and OCSPValidity are nextUpdate - thisUpdate of what
	// the Server signs; zero means pki.DefaultCRLValidity and
	// pki.DefaultOCSPValidity.
	CRLValidity, OCSPValidity time.Duration

	mu      sync.RWMutex
	issuers map[string]*published
	// lastNumber is the last CRL number signed per issuer; it outlives
	// a published value that Update replaces, so numbers never repeat.
	lastNumber map[string]uint64
}

// published is what the Server publishes for one local CA.
type published struct {
	ca      *pki.LocalCA
	certPEM string // to tell whether Update must load the CA again
	revoked map[string]*state.Revocation
	issued  map[string]string // serial hex → certificate name
	entries []pki.Revoked
	// revision is the state's CRL counter: it changes with every
	// revocation, and then so does the CRL.
	revision uint64
	// lineage and serial are those of the snapshot this was built from:
	// a snapshot with the same ones holds the same certificates and
	// revocations (every write of them bumps the serial), so the next
	// Update reuses issued, revoked and entries.
	lineage string
	serial  uint64

	crlMu      sync.Mutex // guards the CRL below, regenerated on demand
	crl        []byte
	crlThis    time.Time
	crlRefresh time.Time
	crlNext    time.Time
}

// New returns a Server that publishes nothing until Update.
func New() *Server {
	return &Server{Clock: time.Now, issuers: map[string]*published{}, lastNumber: map[string]uint64{}}
}

// Update replaces what the server publishes, from a snapshot read by a
// reconcile pass; unseal opens the CA keys (state.DB.Unseal). Called after
// every watch pass and whenever the state changed.
//
// Every local_ca issuer of cfg with a root in snap is published; the
// others are no longer (404). A CA whose revocations changed gets a new
// CRL at once. The error joins those of issuers that could not be
// published; the rest are published all the same. snap must hold the
// issuers' records whole (Snapshot or Summary both do).
func (s *Server) Update(cfg *spec.Config, snap *state.Snapshot, unseal func([]byte) ([]byte, error), now time.Time) error {
	s.mu.RLock()
	old := s.issuers
	s.mu.RUnlock()

	next := map[string]*published{}
	var errs []error
	names := make([]string, 0, len(cfg.Issuers))
	for name, is := range cfg.Issuers {
		if is.Type == spec.IssuerTypeLocalCA {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		rec := snap.Issuers[name]
		if rec == nil || rec.Type != spec.IssuerTypeLocalCA || len(rec.CertPEM) == 0 {
			continue // not created yet: apply creates it
		}
		p, err := s.publish(name, rec, old[name], snap, unseal, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("publishing revocations of issuer.%s: %w", name, err))
			continue
		}
		next[name] = p
	}
	s.mu.Lock()
	s.issuers = next
	s.mu.Unlock()
	return errors.Join(errs...)
}

// publish builds what is published for one CA, reusing the loaded CA and
// the signed CRL of prev when neither the root nor the revocations
// changed.
func (s *Server) publish(name string, rec *state.Issuer, prev *published, snap *state.Snapshot, unseal func([]byte) ([]byte, error), now time.Time) (*published, error) {
	p := &published{certPEM: string(rec.CertPEM), revision: snap.CRLNumbers[name], lineage: snap.Lineage, serial: snap.Serial}
	if prev != nil && prev.certPEM == p.certPEM {
		p.ca = prev.ca
	} else {
		keyPEM, err := unseal(rec.KeySealed)
		if err != nil {
			return nil, fmt.Errorf("opening the CA key: %w", err)
		}
		if p.ca, err = pki.LoadLocalCA(rec.CertPEM, keyPEM); err != nil {
			return nil, err
		}
	}
	if prev != nil && prev.lineage == p.lineage && prev.serial == p.serial && p.lineage != "" {
		p.issued, p.revoked, p.entries = prev.issued, prev.revoked, prev.entries // read-only from here on
	} else {
		p.issued, p.revoked = snap.IssuedSerials(name), map[string]*state.Revocation{}
		for _, r := range snap.Revocations[name] {
			serial, err := pki.ParseSerialHex(r.Serial)
			if err != nil {
				return nil, fmt.Errorf("revocation of %s: %w", r.Name, err)
			}
			key := pki.SerialHexOf(serial) // the records' form, whatever the case
			p.revoked[key] = r
			p.entries = append(p.entries, pki.Revoked{Serial: serial, RevokedAt: r.RevokedAt, Reason: r.Reason, NotAfter: r.NotAfter})
		}
	}
	if prev != nil && prev.ca == p.ca && prev.revision == p.revision && len(prev.entries) == len(p.entries) {
		prev.crlMu.Lock()
		p.crl, p.crlThis, p.crlRefresh, p.crlNext = prev.crl, prev.crlThis, prev.crlRefresh, prev.crlNext
		prev.crlMu.Unlock()
	}
	if _, err := s.currentCRL(name, p, now); err != nil {
		return nil, err
	}
	return p, nil
}

// currentCRL returns p's CRL, signing a new one when there is none yet or
// the one there is reached its refresh time.
func (s *Server) currentCRL(name string, p *published, now time.Time) ([]byte, error) {
	p.crlMu.Lock()
	defer p.crlMu.Unlock()
	if p.crl != nil && now.Before(p.crlRefresh) {
		return p.crl, nil
	}
	number := s.crlNumber(name, p.revision, now)
	der, err := p.ca.CRL(p.entries, number, now, s.CRLValidity)
	if err != nil {
		return nil, err
	}
	this := pki.CRLThisUpdate(p.entries, now)
	validity := s.CRLValidity
	if validity == 0 {
		validity = pki.DefaultCRLValidity
	}
	p.crl, p.crlThis, p.crlNext = der, this, this.Add(validity)
	p.crlRefresh = pki.RefreshCRLAt(p.crlThis, p.crlNext)
	return der, nil
}

// crlNumber is the number of a CRL signed at now: the state's revocation
// counter in the high 32 bits and the Unix second in the low 32, so that
// it grows with every revocation and every refresh, across restarts of
// watch and without a write to the state per CRL; and never less than
// one more than the last number this Server signed (a clock set back).
func (s *Server) crlNumber(name string, revision uint64, now time.Time) uint64 {
	n := revision<<32 | uint64(uint32(now.Unix()))
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := s.lastNumber[name]; n <= last {
		n = last + 1
	}
	s.lastNumber[name] = n
	return n
}

// lookup is the OCSP status of serial at p's CA.
func (p *published) lookup(serial *big.Int) pki.OCSPStatus {
	key := pki.SerialHexOf(serial)
	if r := p.revoked[key]; r != nil {
		return pki.OCSPStatus{Status: pki.OCSPRevoked, RevokedAt: r.RevokedAt, Reason: r.Reason}
	}
	if _, ok := p.issued[key]; ok {
		return pki.OCSPStatus{Status: pki.OCSPGood}
	}
	return pki.OCSPStatus{Status: pki.OCSPUnknown}
}

// ServeHTTP routes /.well-known/pki/{crl,ocsp,ca}/{issuer}. The path is
// the request's whole path: mount the Server at Prefix without
// http.StripPrefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	kind, rest, _ := strings.Cut(rest, "/")
	issuer, tail, hasTail := strings.Cut(rest, "/")
	issuer, err := url.PathUnescape(issuer)
	if err != nil || issuer == "" {
		http.NotFound(w, r)
		return
	}
	s.mu.RLock()
	p := s.issuers[issuer]
	s.mu.RUnlock()
	if p == nil || (hasTail && kind != "ocsp") {
		http.NotFound(w, r)
		return
	}
	switch kind {
	case "crl":
		s.serveCRL(w, r, issuer, p)
	case "ca":
		if !allow(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(p.ca.Certificate().Raw)
	case "ocsp":
		s.serveOCSP(w, r, p, tail, hasTail)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveCRL(w http.ResponseWriter, r *http.Request, issuer string, p *published) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	now := s.Clock()
	der, err := s.currentCRL(issuer, p, now)
	if err != nil {
		http.Error(w, "the CRL could not be signed", http.StatusInternalServerError)
		return
	}
	p.crlMu.Lock()
	this, next := p.crlThis, p.crlNext
	p.crlMu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/pkix-crl")
	h.Set("Last-Modified", this.Format(http.TimeFormat))
	h.Set("Expires", next.Format(http.TimeFormat))
	h.Set("Cache-Control", "public, no-transform, must-revalidate, max-age="+strconv.Itoa(int(crlMaxAge.Seconds())))
	_, _ = w.Write(der)
}

// serveOCSP answers the POST form (the DER request as the body) and the
// GET form (its base64 in the last path segment, RFC 6960 appendix A.1).
func (s *Server) serveOCSP(w http.ResponseWriter, r *http.Request, p *published, tail string, hasTail bool) {
	var req []byte
	switch {
	case r.Method == http.MethodPost && !hasTail:
		body, err := io.ReadAll(io.LimitReader(r.Body, pki.MaxOCSPRequest+1))
		if err != nil {
			http.Error(w, "reading the request", http.StatusBadRequest)
			return
		}
		req = body // AnswerOCSP refuses one over the limit
	case r.Method == http.MethodGet && hasTail:
		req = decodeGETRequest(tail)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "OCSP takes POST /ocsp/ISSUER or GET /ocsp/ISSUER/BASE64", http.StatusMethodNotAllowed)
		return
	}
	now := s.Clock()
	ans, _ := p.ca.AnswerOCSP(req, p.lookup, now, s.OCSPValidity) // the DER says what went wrong
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	if ans.Status >= 0 {
		// RFC 5019 section 6.2: cacheable until nextUpdate.
		maxAge := max(int(ans.NextUpdate.Sub(now).Seconds()), 0)
		h.Set("Cache-Control", "public, no-transform, must-revalidate, max-age="+strconv.Itoa(maxAge))
		h.Set("Expires", ans.NextUpdate.Format(http.TimeFormat))
	} else {
		h.Set("Cache-Control", "no-store")
	}
	_, _ = w.Write(ans.DER)
}

// decodeGETRequest decodes the path segment of an OCSP GET: the URL
// encoding of standard base64 (RFC 6960), but clients also send '+' as a
// space, or URL-safe base64. nil when none of them decodes, which
// AnswerOCSP answers as malformed.
func decodeGETRequest(seg string) []byte {
	s, err := url.PathUnescape(seg)
	if err != nil {
		return nil
	}
	s = strings.ReplaceAll(s, " ", "+")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// allow answers 405 unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}
