package acme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/http01"
)

// newHTTP01Provider returns the http-01 provider for h.
func newHTTP01Provider(h *HTTP01) challenge.Provider {
	if h.Webroot != "" {
		return &webroot{dir: h.Webroot}
	}
	port := h.Port
	if port == 0 {
		port = 80
	}
	return &tokenServer{addr: net.JoinHostPort(h.Iface, strconv.Itoa(port)), tokens: map[string]token{}}
}

// tokenServer is an http-01 responder shared by all orders of an issuer.
// lego's ProviderServer opens one listener per challenge and so cannot
// serve two orders at once on the same port; this one listens while at
// least one token is presented and answers for all of them.
type tokenServer struct {
	addr string

	mu     sync.Mutex // guards everything below
	tokens map[string]token
	srv    *http.Server
	done   chan struct{}
}

type token struct{ domain, keyAuth string }

// Present starts the server if it is not running and publishes the token.
func (s *tokenServer) Present(ctx context.Context, domain, tok, keyAuth string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", s.addr)
		if err != nil {
			return fmt.Errorf("http-01 server: %w", err)
		}
		s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
		s.srv.SetKeepAlivesEnabled(false)
		s.done = make(chan struct{})
		go func(srv *http.Server, done chan struct{}) {
			_ = srv.Serve(ln) // returns when closed
			close(done)
		}(s.srv, s.done)
	}
	s.tokens[tok] = token{domain, keyAuth}
	return nil
}

// CleanUp withdraws the token and stops the server after the last one.
func (s *tokenServer) CleanUp(_ context.Context, _, tok, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tok)
	if len(s.tokens) > 0 || s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.done
	s.srv, s.done = nil, nil
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ServeHTTP answers GET /.well-known/acme-challenge/TOKEN with the key
// authorization when the Host is the token's domain, 404 otherwise.
func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.URL.Path, http01.PathPrefix)
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	t, found := s.tokens[tok]
	s.mu.Unlock()
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !found || !strings.EqualFold(host, t.domain) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(t.keyAuth))
}

// webroot writes tokens as files for a web server that serves dir.
type webroot struct{ dir string }

func (w *webroot) path(tok string) string {
	return filepath.Join(w.dir, filepath.FromSlash(http01.ChallengePath(tok)))
}

func (w *webroot) Present(_ context.Context, _, tok, keyAuth string) error {
	p := w.path(tok)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("http-01 webroot: %w", err)
	}
	// Write then rename, so the web server never serves a partial file.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(keyAuth), 0o644); err != nil {
		return fmt.Errorf("http-01 webroot: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("http-01 webroot: %w", err)
	}
	return nil
}

func (w *webroot) CleanUp(_ context.Context, _, tok, _ string) error {
	if err := os.Remove(w.path(tok)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("http-01 webroot: %w", err)
	}
	return nil
}
