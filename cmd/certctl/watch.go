package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/certctl/certctl/agent"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/watch"
	"github.com/certctl/certctl/spec"
)

// DefaultListen is where watch serves health, metrics, CRLs and OCSP.
const DefaultListen = "127.0.0.1:9180"

// shutdownTimeout bounds how long the HTTP server waits for requests in
// flight once the reconciler has stopped.
const shutdownTimeout = 5 * time.Second

type watchFlags struct {
	gitURL, ref, path, cacheDir string
	interval, resync, debounce  time.Duration
	drain                       time.Duration
	listen, tlsCert, tlsKey     string
	logFormat                   string
	parallelism                 int
}

// watchFlagSet defines watch's flags into f.
func watchFlagSet(e *env, f *watchFlags) *flag.FlagSet {
	fs := newFlags(e, "watch", " [-git URL [-ref REF] [-path DIR] [-interval D]] [-listen ADDR] [-log-format text|json]")
	fs.StringVar(&f.gitURL, "git", "", "follow the git repository at `URL` (https://, ssh://, file:// or a path) instead of the configuration directory")
	fs.StringVar(&f.ref, "ref", "main", "the branch, tag or commit to follow (with -git)")
	fs.StringVar(&f.path, "path", "", "the configuration directory inside the repository (with -git)")
	fs.DurationVar(&f.interval, "interval", watch.DefaultPoll, "how often to fetch the repository (with -git)")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "where to keep the clone (with -git; default: the user cache directory, certctl/git)")
	fs.DurationVar(&f.resync, "resync", watch.DefaultResync, "the longest time between two reconcile passes")
	fs.DurationVar(&f.debounce, "debounce", watch.DefaultDebounce, "how long the directory must be quiet before a change is loaded")
	fs.DurationVar(&f.drain, "drain-timeout", watch.DefaultDrainTimeout, "on SIGTERM, how long to let issuance in flight finish")
	fs.StringVar(&f.listen, "listen", DefaultListen, "serve /healthz, /readyz, /metrics, /.well-known/pki/ and the agents' /api/v1/ on `ADDR` (\"off\" to serve nothing)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with the certificate chain in `FILE` (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the private key of -tls-cert, in `FILE` (PEM)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log as `text` or json, on stderr")
	fs.IntVar(&f.parallelism, "parallelism", 10, "how many certificates to sign at once")
	return fs
}

func cmdWatch(e *env, args []string) int {
	var f watchFlags
	fs := watchFlagSet(e, &f)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.errorf("watch takes no arguments, got %q", fs.Arg(0))
	}
	if err := f.check(); err != nil {
		return e.errorf("%v", err)
	}
	log, err := newLogger(e.stderr, f.logFormat)
	if err != nil {
		return e.errorf("%v", err)
	}
	src, err := f.source(e)
	if err != nil {
		return e.errorf("%v", err)
	}

	srv := newServer(log)
	w, err := watch.New(watch.Options{
		Source:       src,
		StatePath:    e.statePath,
		Poll:         f.interval,
		Resync:       f.resync,
		DrainTimeout: f.drain,
		Parallelism:  f.parallelism,
		Exec:         reconcile.ShellExec(0),
		Logger:       log,
		OnPass:       srv.observe,
		AfterPass:    srv.afterPass,
		Observe:      srv.metrics.ObserveIssuance,
	})
	if err != nil {
		return e.errorf("%v", err)
	}
	srv.watcher = w
	if srv.agents, err = agent.NewServer(agent.ServerOptions{StatePath: e.statePath, Trigger: w.Trigger, Logger: log}); err != nil {
		return e.errorf("%v", err)
	}
	defer srv.agents.Close()

	var ln net.Listener
	if f.listen != "off" {
		if ln, err = net.Listen("tcp", f.listen); err != nil {
			return e.errorf("-listen %s: %v", f.listen, err)
		}
		log.Info("serving", "address", "http"+map[bool]string{true: "s"}[f.tlsCert != ""]+"://"+ln.Addr().String())
	}
	// Request bodies (OCSP, agents' CSRs and reports) are small: reading
	// one may take 30 s at most, so slow clients cannot pin connections.
	// No write timeout: agents' long polls answer minutes later.
	httpSrv := &http.Server{
		Handler:           srv.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	httpSrv.RegisterOnShutdown(srv.agents.Close) // agents' long polls end at once
	if f.tlsCert != "" {
		// Reloaded when the files change: certctl may well be what renews
		// watch's own certificate.
		kp := &keyPair{cert: f.tlsCert, key: f.tlsKey}
		httpSrv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}
	}
	serveErr := make(chan error, 1)
	if ln != nil {
		go func() {
			var err error
			if f.tlsCert != "" {
				err = httpSrv.ServeTLS(ln, "", "")
			} else {
				err = httpSrv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	code := exitOK
	select {
	case err := <-runErr:
		if err != nil {
			log.Error("watch failed", "error", err)
			code = exitError
		}
	case err := <-serveErr:
		log.Error("the HTTP server failed", "error", err)
		cancel()
		<-runErr
		code = exitError
	}
	sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer scancel()
	_ = httpSrv.Shutdown(sctx)
	return code
}

func (f *watchFlags) check() error {
	switch {
	case f.gitURL == "" && (f.path != "" || f.cacheDir != ""):
		return errors.New("-path and -cache-dir need -git")
	case f.interval <= 0:
		return fmt.Errorf("-interval must be positive, got %s", f.interval)
	case f.resync <= 0:
		return fmt.Errorf("-resync must be positive, got %s", f.resync)
	case f.debounce < 0:
		return fmt.Errorf("-debounce must not be negative, got %s", f.debounce)
	case f.drain <= 0:
		return fmt.Errorf("-drain-timeout must be positive, got %s", f.drain)
	case f.parallelism < 1:
		return fmt.Errorf("-parallelism must be at least 1, got %d", f.parallelism)
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	}
	if f.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey); err != nil {
			return fmt.Errorf("-tls-cert %s, -tls-key %s: %v", f.tlsCert, f.tlsKey, err)
		}
		for _, p := range []string{f.tlsCert, f.tlsKey} {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("-tls: %v", err)
			}
		}
	}
	return nil
}

// newLogger logs to w as text or JSON.
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("-log-format must be text or json, got %q", format)
}

// source is the directory, or the git repository of -git.
func (f *watchFlags) source(e *env) (watch.Source, error) {
	if f.gitURL == "" {
		if _, err := spec.ConfigFiles(e.dir); err != nil {
			return nil, err
		}
		return &watch.DirSource{Dir: e.dir, Debounce: f.debounce}, nil
	}
	cache := f.cacheDir
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory for the clone (set -cache-dir): %v", err)
		}
		cache = filepath.Join(dir, "certctl", "git")
	}
	return watch.NewGitSource(watch.GitOptions{URL: f.gitURL, Ref: f.ref, Path: f.path, CacheDir: cache, Dir: e.dir})
}

// keyPair serves a certificate and key from files, loaded again when
// either file's modification time changes; a pair that does not load (a
// renewal half-written) keeps the last good one.
type keyPair struct {
	cert, key string

	mu       sync.Mutex
	loaded   *tls.Certificate
	certTime time.Time
	keyTime  time.Time
}

func (kp *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	ci, cerr := os.Stat(kp.cert)
	ki, kerr := os.Stat(kp.key)
	if cerr == nil && kerr == nil && (kp.loaded == nil || !ci.ModTime().Equal(kp.certTime) || !ki.ModTime().Equal(kp.keyTime)) {
		if c, err := tls.LoadX509KeyPair(kp.cert, kp.key); err == nil {
			kp.loaded, kp.certTime, kp.keyTime = &c, ci.ModTime(), ki.ModTime()
		} else if kp.loaded == nil {
			return nil, fmt.Errorf("-tls-cert %s, -tls-key %s: %w", kp.cert, kp.key, err)
		}
	}
	if kp.loaded == nil {
		return nil, fmt.Errorf("-tls-cert %s, -tls-key %s: %w", kp.cert, kp.key, errors.Join(cerr, kerr))
	}
	return kp.loaded, nil
}
