package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/certctl/certctl/agent"
	"github.com/certctl/certctl/reconcile/metrics"
	"github.com/certctl/certctl/reconcile/pkiserve"
	"github.com/certctl/certctl/reconcile/watch"
)

// server is watch's HTTP side: health and readiness of the reconciler,
// and what each pass publishes (metrics, CRLs, OCSP).
type server struct {
	watcher *watch.Watcher
	metrics *metrics.Metrics
	pki     *pkiserve.Server
	log     *slog.Logger
	agents  *agent.Server // the agents' API, nil when none is served
}

func newServer(log *slog.Logger) *server {
	return &server{metrics: metrics.New(version), pki: pkiserve.New(), log: log}
}

// observe is the watcher's OnPass: it runs at the end of every pass that
// read the state, with the state still open, so that the local CAs' keys
// can be unsealed to sign CRLs and OCSP responses.
func (s *server) observe(p *watch.Pass) {
	if err := s.pki.Update(p.Config, p.Snapshot, p.Unseal, p.Start.Add(p.Duration)); err != nil {
		s.log.Error("publishing CRLs and OCSP", "error", err)
	}
	if s.agents != nil {
		s.agents.Observe(p)
	}
}

// afterPass is the watcher's AfterPass: it runs after every pass, also
// one that failed before reading the state.
func (s *server) afterPass(p *watch.Pass) {
	if p.Snapshot != nil {
		s.metrics.ObserveState(p.Config, p.Snapshot, p.Start.Add(p.Duration))
	}
	s.metrics.ObserveReconcile(metrics.Pass{Start: p.Start, Duration: p.Duration,
		Revision: p.Revision.ID, Author: p.Revision.Author, Err: p.Err})
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	if s.agents != nil {
		mux.Handle("/api/v1/", s.agents.Handler())
	}
	// CRL, OCSP (GET and POST) and CA certificates go around the mux: it
	// cleans paths, and the base64 of an OCSP GET may hold "//".
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, pkiserve.Prefix) {
			s.pki.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// readyz answers 200 once a pass has completed, 503 before; the body is
// the watcher's status as JSON (no secret is in it: revisions, times and
// error messages, which never carry keys or env()/file() values).
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	st := s.watcher.Status()
	doc := struct {
		Ready       bool      `json:"ready"`
		Revision    string    `json:"revision,omitempty"`
		Author      string    `json:"author,omitempty"`
		LastPass    time.Time `json:"last_pass,omitzero"`
		LastSuccess time.Time `json:"last_success,omitzero"`
		LastError   string    `json:"last_error,omitempty"`
		SourceError string    `json:"source_error,omitempty"`
		BadRevision string    `json:"bad_revision,omitempty"`
	}{Ready: st.Ready, LastPass: st.LastPass, LastSuccess: st.LastSuccess, LastError: st.LastError,
		SourceError: st.SourceError, BadRevision: st.BadRevision}
	if st.Revision != nil {
		doc.Revision, doc.Author = st.Revision.ID, st.Revision.Author
	}
	w.Header().Set("Content-Type", "application/json")
	if !st.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(doc)
}
