package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/watch"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// MaxWait bounds a long poll's ?wait=. Without ?wait= a matching
// If-None-Match is answered 304 at once.
const MaxWait = 5 * time.Minute

// ServerOptions configure NewServer. StatePath is required.
type ServerOptions struct {
	// StatePath resolves the state file of a configuration (the same
	// function the watcher uses).
	StatePath func(cfg *spec.Config) string
	// StateTimeout bounds the wait for the state's lock when writing a
	// CSR or reports; state.DefaultTimeout if zero.
	StateTimeout time.Duration
	// Trigger asks the watcher for a pass after agent data was written
	// (watch.Watcher.Trigger); nil for none.
	Trigger func()
	// Logger receives refused requests and write failures; the default
	// discards.
	Logger *slog.Logger
	// Now reads the clock; time.Now if nil.
	Now func() time.Time
}

// Server serves the agents' API. Its methods are safe for concurrent use.
type Server struct {
	opts ServerOptions
	log  *slog.Logger

	view atomic.Pointer[view]
	// changed is closed, and replaced, each time a new view is published:
	// long polls wait on it.
	mu      sync.Mutex
	changed chan struct{}
	// pems caches certificate PEMs by fingerprint across passes, so an
	// idle pass reads nothing. Only build touches it, and build runs on
	// one goroutine (the watcher's, in Observe).
	pems map[string]certPEMs

	writer *writer
	// closing is closed by Close: long polls answer at once.
	closing   chan struct{}
	closeOnce sync.Once
}

type certPEMs struct{ cert, chain string }

// view is what the handlers answer from, rebuilt after every pass.
type view struct {
	cfg       *spec.Config
	revision  string
	statePath string
	// tokens are the agents' token hashes.
	tokens map[string][sha256.Size]byte
	agents map[string]*agentView
}

// agentView is one agent's share of a view.
type agentView struct {
	body []byte
	etag string
	// certs are the certificates the agent may send a CSR for (it keeps
	// their keys), targets the certificate/target pairs it may report on.
	certs   map[string]*spec.Certificate
	targets map[[2]string]bool
}

// NewServer returns a Server that serves nothing (503) until Observe has
// seen a pass.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.StatePath == nil {
		return nil, errors.New("agent server: no state path")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log, changed: make(chan struct{}), pems: map[string]certPEMs{}, closing: make(chan struct{})}
	s.writer = newWriter(s)
	return s, nil
}

// Close ends the long polls in progress (they answer 304 at once, so an
// HTTP server's Shutdown need not wait for them: register it with
// http.Server.RegisterOnShutdown) and stops the state writer; requests
// still waiting on it get 503. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.writer.close()
}

// Observe rebuilds the view from a pass (watch.Options.OnPass): it runs
// on the watcher's goroutine while the state is open, and reads the PEMs
// of certificates whose fingerprint it has not seen.
func (s *Server) Observe(p *watch.Pass) {
	if p.Config == nil || p.Snapshot == nil {
		return
	}
	rev := ""
	if p.Revision != nil {
		rev = p.Revision.ID
	}
	read := func(name string) (*state.Certificate, error) {
		if p.Certificate == nil {
			return nil, errors.New("no state reader")
		}
		return p.Certificate(context.Background(), name)
	}
	v := s.build(p.Config, p.Snapshot, p.Plan, rev, read)
	s.publish(v)
}

// observeState builds the view without a watcher (benchmarks).
func (s *Server) observeState(cfg *spec.Config, snap *state.Snapshot, plan *reconcile.ActionPlan, read func(string) (*state.Certificate, error)) {
	s.publish(s.build(cfg, snap, plan, "", read))
}

func (s *Server) publish(v *view) {
	s.view.Store(v)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) waitChange() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// build makes the view. A certificate needs a CSR when the plan says it
// awaits one (NoteAwaitingCSR).
func (s *Server) build(cfg *spec.Config, snap *state.Snapshot, plan *reconcile.ActionPlan, rev string, read func(string) (*state.Certificate, error)) *view {
	v := &view{cfg: cfg, revision: rev, statePath: s.opts.StatePath(cfg), tokens: map[string][sha256.Size]byte{}, agents: map[string]*agentView{}}
	for name, ag := range cfg.Agents {
		var h [sha256.Size]byte
		if b, err := hex.DecodeString(ag.TokenSHA256); err == nil && len(b) == sha256.Size {
			copy(h[:], b)
			v.tokens[name] = h
		}
	}
	wantCSR := map[string]bool{}
	if plan != nil {
		for _, n := range plan.Notes {
			if n.Kind == reconcile.NoteAwaitingCSR {
				wantCSR[strings.TrimPrefix(n.Address, "certificate.")] = true
			}
		}
	}
	docs := map[string]*Deployments{}
	for name := range cfg.Agents {
		docs[name] = &Deployments{FormatVersion: FormatVersion, Agent: name, Revision: rev, Deployments: []Deployment{}}
		v.agents[name] = &agentView{certs: map[string]*spec.Certificate{}, targets: map[[2]string]bool{}}
	}
	seen := map[string]bool{}
	for _, cname := range slices.Sorted(maps.Keys(cfg.Certificates)) {
		c := cfg.Certificates[cname]
		keyAgent := reconcile.KeyAgent(cfg, c)
		rec := snap.Certificates[cname]
		for _, tname := range c.Targets {
			tg := cfg.Targets[tname]
			if tg == nil || tg.Agent == "" || docs[tg.Agent] == nil {
				continue
			}
			av := v.agents[tg.Agent]
			av.targets[[2]string{cname, tname}] = true
			d := Deployment{
				Certificate: cname, Target: tname, Dir: tg.Dir, Stem: c.FileStem(),
				FileMode: octal(tg.FileMode, reconcile.DefaultFileMode), KeyMode: octal(tg.KeyMode, reconcile.DefaultKeyMode),
				Validate: tg.Validate, Reload: tg.Reload,
			}
			if keyAgent != tg.Agent {
				d.Error = "the key of " + reconcile.CertAddress(cname) + " cannot be generated on this agent: its targets are on several hosts (give it targets on this agent only)"
				docs[tg.Agent].Deployments = append(docs[tg.Agent].Deployments, d)
				continue
			}
			av.certs[cname] = c
			if wantCSR[cname] {
				cur := ""
				if rec != nil {
					cur = rec.Fingerprint
				}
				d.CSR = csrRequest(cfg, c, cur)
			}
			if rec != nil {
				if dep, ok := rec.Deployments[tname]; ok {
					d.Reported = &Reported{Fingerprint: dep.Fingerprint, FilesDigest: dep.FilesDigest, Error: dep.LastError}
				}
			}
			if rec != nil && rec.Fingerprint != "" && rec.KeyAgent == tg.Agent {
				pems, ok := s.pems[rec.Fingerprint]
				if !ok {
					full, err := read(cname)
					if err != nil || full == nil || full.Fingerprint != rec.Fingerprint {
						s.log.Warn("reading a certificate for agents", "certificate", cname, "error", err)
					} else {
						pems = certPEMs{string(full.CertPEM), string(full.ChainPEM)}
						s.pems[rec.Fingerprint], ok = pems, true
					}
				}
				if ok {
					seen[rec.Fingerprint] = true
					d.Fingerprint, d.Serial, d.NotAfter = rec.Fingerprint, rec.Serial, rec.NotAfter.UTC()
					d.CertPEM, d.ChainPEM = pems.cert, pems.chain
				}
			}
			docs[tg.Agent].Deployments = append(docs[tg.Agent].Deployments, d)
		}
	}
	for fp := range s.pems {
		if !seen[fp] {
			delete(s.pems, fp)
		}
	}
	for name, doc := range docs {
		body, _ := json.Marshal(doc)
		body = append(body, '\n')
		sum := sha256.Sum256(body)
		v.agents[name].body = body
		v.agents[name].etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	}
	return v
}

// csrRequest is what c's CSR must ask for. Its ID digests that and the
// fingerprint of the version to be replaced, so that a change of names
// or algorithm, and each renewal, is a new request.
func csrRequest(cfg *spec.Config, c *spec.Certificate, current string) *CSRRequest {
	subj, alg := reconcile.CSRSubjectOf(cfg, c)
	r := &CSRRequest{CommonName: subj.CommonName, DNSNames: subj.DNSNames, EmailAddresses: subj.EmailAddresses, KeyAlgorithm: alg}
	for _, ip := range subj.IPAddresses {
		r.IPAddresses = append(r.IPAddresses, ip.String())
	}
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(append(b, current...))
	r.ID = hex.EncodeToString(sum[:12])
	return r
}

func octal(m uint32, def fs.FileMode) string {
	if m == 0 {
		return fmt.Sprintf("%04o", uint32(def.Perm()))
	}
	return fmt.Sprintf("%04o", m&0o777)
}

// Handler serves the API under /api/v1/agents/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/agents/{name}/deployments", s.getDeployments)
	mux.HandleFunc("POST /api/v1/agents/{name}/csr", s.postCSR)
	mux.HandleFunc("POST /api/v1/agents/{name}/reports", s.postReports)
	for path, allow := range map[string]string{"deployments": "GET, HEAD", "csr": "POST", "reports": "POST"} {
		mux.HandleFunc("/api/v1/agents/{name}/"+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here; use "+allow)
		})
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(ErrorBody{Error: msg})
}

// auth checks the request's bearer token against the agent named in the
// path, comparing SHA-256 digests in constant time. It answers the
// request itself (503, 401, 403) and returns nil when it is refused.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) (*view, *agentView, string) {
	v := s.view.Load()
	if v == nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the server has not completed a reconcile pass yet")
		return nil, nil, ""
	}
	name := r.PathValue("name")
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="certctl"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer TOKEN)")
		s.log.Warn("agent request refused", "agent", name, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "no token")
		return nil, nil, ""
	}
	// The hash in the configuration may be of the token with its
	// newline (`openssl rand -hex 32 | tee token | sha256sum`) or
	// without: both are accepted.
	sum, sumNL := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(token+"\n"))
	matches := func(want [sha256.Size]byte) bool {
		return subtle.ConstantTimeCompare(sum[:], want[:])|subtle.ConstantTimeCompare(sumNL[:], want[:]) == 1
	}
	if want, ok := v.tokens[name]; ok && matches(want) {
		return v, v.agents[name], name
	}
	// Whose token is it? Only the holder of a valid token learns that
	// it addressed another agent.
	owner := ""
	for other, want := range v.tokens {
		if matches(want) {
			owner = other
		}
	}
	if owner != "" {
		writeError(w, http.StatusForbidden, fmt.Sprintf("this token is agent %q's; it cannot act as agent %q", owner, name))
		s.log.Warn("agent request refused", "agent", name, "token_of", owner, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "another agent's name")
		return nil, nil, ""
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="certctl", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "invalid token for agent "+strconv.Quote(name))
	s.log.Warn("agent request refused", "agent", name, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "invalid token")
	return nil, nil, ""
}

// getDeployments answers the agent's view; with If-None-Match equal to
// its ETag it waits (up to ?wait=) for a change, then answers 304.
func (s *Server) getDeployments(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if q := r.URL.Query().Get("wait"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < 0 || d > MaxWait {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("wait=%q: want a duration from 0s to %s", q, MaxWait))
			return
		}
		wait = d
	}
	_, av, name := s.auth(w, r)
	if av == nil {
		return
	}
	inm := r.Header.Get("If-None-Match")
	if inm != "" && inm == av.etag && wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for inm == av.etag {
			ch := s.waitChange()
			// A view published between the Load and waitChange is
			// seen here.
			if v := s.view.Load(); v.agents[name] != nil && v.agents[name].etag != inm {
				av = v.agents[name]
				break
			}
			select {
			case <-ch:
				v := s.view.Load()
				if v.agents[name] == nil {
					writeError(w, http.StatusNotFound, "agent "+strconv.Quote(name)+" is no longer in the configuration")
					return
				}
				av = v.agents[name]
			case <-timer.C:
				w.Header().Set("ETag", av.etag)
				w.WriteHeader(http.StatusNotModified)
				return
			case <-s.closing:
				w.Header().Set("ETag", av.etag)
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusNotModified)
				return
			case <-r.Context().Done():
				return
			}
		}
	}
	w.Header().Set("ETag", av.etag)
	w.Header().Set("Cache-Control", "no-store")
	if inm == av.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(av.body)))
	w.Write(av.body)
}

// readBody reads at most limit bytes; it answers 413 or 400 itself.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json, got "+strconv.Quote(ct))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	return body, true
}

// postCSR checks a CSR against the certificate's spec and stores it.
func (s *Server) postCSR(w http.ResponseWriter, r *http.Request) {
	v, av, name := s.auth(w, r)
	if av == nil {
		return
	}
	body, ok := readBody(w, r, MaxCSRBody)
	if !ok {
		return
	}
	sub, err := DecodeCSRSubmission(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c := av.certs[sub.Certificate]
	if c == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("agent %q keeps the key of no certificate %q", name, sub.Certificate))
		s.log.Warn("CSR refused", "agent", name, "certificate", sub.Certificate, "reason", "not the agent's certificate")
		return
	}
	if _, err := reconcile.CheckCSR(v.cfg, c, []byte(sub.CSRPEM)); err != nil {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("%s: %v", reconcile.CertAddress(c.Name), err))
		s.log.Warn("CSR refused", "agent", name, "certificate", c.Name, "reason", err.Error())
		return
	}
	now := s.opts.Now().UTC()
	csr := &state.PendingCSR{PEM: []byte(sub.CSRPEM), Agent: name, RequestID: sub.RequestID, SubmittedAt: now}
	err = s.writer.do(r.Context(), v.statePath, c.Name, func(rec *state.Certificate) (*state.Certificate, bool) {
		if rec == nil {
			rec = &state.Certificate{Name: c.Name, Issuer: c.Issuer, Owner: c.Owner, Team: c.Team, Status: state.StatusPending, UpdatedAt: now}
		}
		rec.CSR = csr
		return rec, true
	})
	if err != nil {
		s.log.Error("storing a CSR", "agent", name, "certificate", c.Name, "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the CSR could not be stored: "+err.Error())
		return
	}
	s.log.Info("CSR accepted", "agent", name, "certificate", c.Name, "request_id", sub.RequestID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"status":"accepted"}` + "\n"))
}

// postReports records deployment outcomes. Every report must be about a
// target of the agent; otherwise none is recorded.
func (s *Server) postReports(w http.ResponseWriter, r *http.Request) {
	v, av, name := s.auth(w, r)
	if av == nil {
		return
	}
	body, ok := readBody(w, r, MaxReportBody)
	if !ok {
		return
	}
	batch, err := DecodeReportBatch(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for i, rep := range batch.Reports {
		if !av.targets[[2]string{rep.Certificate, rep.Target}] {
			writeError(w, http.StatusNotFound, fmt.Sprintf("reports[%d]: agent %q has no target %q for certificate %q; nothing was recorded", i, name, rep.Target, rep.Certificate))
			s.log.Warn("report refused", "agent", name, "certificate", rep.Certificate, "target", rep.Target, "reason", "not the agent's target")
			return
		}
	}
	now := s.opts.Now().UTC()
	byCert := map[string][]Report{}
	for _, rep := range batch.Reports {
		byCert[rep.Certificate] = append(byCert[rep.Certificate], rep)
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for cname, reps := range byCert {
		wg.Go(func() {
			err := s.writer.do(r.Context(), v.statePath, cname, func(rec *state.Certificate) (*state.Certificate, bool) {
				if rec == nil {
					return nil, false // not issued yet: nothing to record against
				}
				changed := false
				for _, rep := range reps {
					if applyReport(rec, rep, name, now) {
						changed = true
					}
				}
				return rec, changed
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.log.Error("storing agent reports", "agent", name, "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the reports could not be stored: "+err.Error())
		return
	}
	for _, rep := range batch.Reports {
		lvl := slog.LevelInfo
		if rep.Error != "" {
			lvl = slog.LevelWarn
		}
		s.log.Log(r.Context(), lvl, "agent deployment", "agent", name, "certificate", rep.Certificate, "target", rep.Target,
			"fingerprint", rep.Fingerprint, "error", rep.Error)
	}
	w.WriteHeader(http.StatusNoContent)
}

// applyReport records rep in rec.Deployments and reports whether that
// changed anything. A failure keeps what the target had (it was rolled
// back) and records the error.
func applyReport(rec *state.Certificate, rep Report, agent string, now time.Time) bool {
	if rec.Deployments == nil {
		rec.Deployments = map[string]state.Deployment{}
	}
	old, had := rec.Deployments[rep.Target]
	dep := old
	dep.Agent, dep.ReportedAt = agent, now
	if rep.Error == "" {
		dep.Fingerprint, dep.FilesDigest, dep.LastError = rep.Fingerprint, rep.FilesDigest, ""
		if !had || old.Fingerprint != rep.Fingerprint || old.FilesDigest != rep.FilesDigest || old.DeployedAt.IsZero() {
			dep.DeployedAt = now
		}
	} else {
		dep.LastError = rep.Error
	}
	if had && old.Fingerprint == dep.Fingerprint && old.FilesDigest == dep.FilesDigest && old.LastError == dep.LastError && old.Agent == agent {
		return false
	}
	rec.Deployments[rep.Target] = dep
	return true
}
