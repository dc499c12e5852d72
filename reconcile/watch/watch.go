// Package watch is certctl's long-running reconciler. The entry point is
// New, then Watcher.Run: it loads the configuration from a Source (a
// directory or a git remote), and plans and applies it whenever the source
// changes, whenever something falls due (a renewal, an expiry notice, a
// retry; see reconcile.NextWake), whenever another certctl process wrote
// the state, and at least every Resync.
//
// A pass is level-based: it does not act on what woke it, but plans the
// whole configuration against the state as it is, exactly as
// `certctl apply` would (reconcile.Plan, reconcile.Apply, reconcile.Deliver).
// Passes run one at a time, on Run's goroutine. The state is opened for
// each pass and closed after it, so plan, status and requeue work while
// watch runs.
//
// A revision that does not load (a syntax error, a half-written file) is
// logged with its diagnostics and skipped: the last good configuration
// keeps being reconciled. A source that fails (git remote unreachable) is
// logged and retried; the last good revision keeps serving.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Revision is one version of the configuration that a Source offers.
type Revision struct {
	// ID is the commit SHA (git), or "sha256:" and a digest of the
	// configuration files (a directory).
	ID string
	// Author ("Name <email>") and Subject describe a commit; empty for a
	// directory.
	Author, Subject string
	// Time is the commit time; for a directory, when it was read.
	Time time.Time
	// Dir is the configuration directory as the configuration names it
	// (state and target paths are relative to it). When FS is nil the
	// files are read from Dir on disk.
	Dir string
	// FS, if set, holds the configuration files at its root (a git
	// revision).
	FS fs.FS
}

// Source offers revisions of the configuration.
type Source interface {
	// Load returns the source's current revision. A failing source
	// returns an error, and the watcher keeps the revision it has.
	Load(ctx context.Context) (*Revision, error)
	// Watch starts the source's change notifications for the life of ctx.
	// A nil channel means the source has none: the watcher polls it every
	// Options.Poll.
	Watch(ctx context.Context) (<-chan struct{}, error)
	// String names the source for logs, without credentials.
	String() string
}

// Defaults for Options.
const (
	DefaultPoll         = time.Minute
	DefaultResync       = 10 * time.Minute
	DefaultStateCheck   = 5 * time.Second
	DefaultDrainTimeout = 30 * time.Second
)

// minRetry is the first wait before a pass that failed as a whole (the
// state locked or unreadable), or a source that gave nothing to load yet,
// is tried again; it doubles up to Resync. A variable for tests.
var minRetry = 5 * time.Second

// Options configure a Watcher. Source and StatePath are required.
type Options struct {
	Source Source
	// StatePath resolves the state file of a configuration.
	StatePath func(cfg *spec.Config) string
	// Load is passed to spec.LoadWith for every revision (its FS is set
	// from the revision).
	Load spec.Options
	// Poll is how often a source without change notifications (git) is
	// asked for its revision; DefaultPoll if zero.
	Poll time.Duration
	// Resync is the longest time between two passes; DefaultResync if
	// zero.
	Resync time.Duration
	// StateCheck is how often the state file is looked at for writes by
	// another certctl process (revoke, requeue, apply), which then start
	// a pass; DefaultStateCheck if zero, never if negative.
	StateCheck time.Duration
	// StateTimeout bounds the wait for the state's lock in each pass;
	// state.DefaultTimeout if zero.
	StateTimeout time.Duration
	// DrainTimeout bounds how long Run lets the changes in flight finish
	// once its context is done; DefaultDrainTimeout if zero.
	DrainTimeout time.Duration
	// Parallelism and Exec are passed to reconcile.Apply.
	Parallelism int
	Exec        reconcile.ExecFunc
	// Logger receives one line per pass and one per problem; the default
	// discards.
	Logger *slog.Logger
	// Now reads the clock; time.Now if nil.
	Now func() time.Time
	// OnPass, if set, is called at the end of every pass that read the
	// state, on Run's goroutine, while the state is still open (Pass.Unseal
	// works only during the call).
	OnPass func(*Pass)
	// AfterPass, if set, is called after every pass, also one that failed
	// before reading the state (Snapshot nil), once its Duration and Err
	// are known, on Run's goroutine; the state is closed by then (metrics).
	AfterPass func(*Pass)
	// Observe is passed to reconcile.Apply as Deps.Observe: it is told
	// how each issuing change went (metrics).
	Observe func(reconcile.Outcome)
}

// Pass is what one reconcile pass saw and did.
type Pass struct {
	Revision *Revision
	Config   *spec.Config
	// Snapshot is the state after the pass (a Summary: no certificate
	// PEMs or keys; issuers whole).
	Snapshot *state.Snapshot
	Plan     *reconcile.ActionPlan
	// Result is nil when the plan had no changes.
	Result   *reconcile.Result
	Delivery *reconcile.DeliveryResult
	Start    time.Time
	Duration time.Duration
	// Wake is when the next pass is due for a scheduled reason.
	Wake reconcile.Wake
	// Err joins the pass's failures: the state, the apply's failed
	// changes, the delivery sweep. Nil when everything succeeded.
	Err error
	// Unseal opens a sealed key of the state (CA keys for CRL and OCSP
	// signing); valid only during OnPass.
	Unseal func([]byte) ([]byte, error)
	// Certificate reads one certificate record whole (with its PEMs and
	// sealed key; nil if absent); valid only during OnPass.
	Certificate func(ctx context.Context, name string) (*state.Certificate, error)
}

// Status is what the watcher reports about itself (readyz, logs).
type Status struct {
	// Ready is true once a pass completed (the state was read and the
	// plan applied, whatever became of each change).
	Ready bool
	// Revision is the revision being reconciled: the last one that
	// loaded.
	Revision *Revision
	// LastPass and LastSuccess are when the last pass ended, and the last
	// one without any error.
	LastPass, LastSuccess time.Time
	LastError             string
	// SourceError is the last failure to read the source, cleared by the
	// next success; BadRevision the newest revision that did not load.
	SourceError string
	BadRevision string
}

// Watcher runs passes; see the package comment.
type Watcher struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	status Status
	ready  atomic.Bool

	// kick asks Run for a pass (Trigger); buffered, so a burst of
	// requests makes one pass.
	kick chan struct{}

	// Owned by Run's goroutine.
	rev       *Revision
	cfg       *spec.Config
	digest    string // reconcile.ConfigDigest(cfg)
	stateSeen stateStamp
}

// New checks opts and returns a Watcher.
func New(opts Options) (*Watcher, error) {
	if opts.Source == nil {
		return nil, errors.New("watch: no source")
	}
	if opts.StatePath == nil {
		return nil, errors.New("watch: no state path")
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Resync <= 0 {
		opts.Resync = DefaultResync
	}
	if opts.StateCheck == 0 {
		opts.StateCheck = DefaultStateCheck
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{opts: opts, log: log, kick: make(chan struct{}, 1)}, nil
}

// Trigger asks for a pass as soon as the one in flight, if any, ends: an
// agent's CSR or report was written to the state. It never blocks; any
// number of calls before that pass starts make one pass.
func (w *Watcher) Trigger() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Ready reports whether a pass has completed.
func (w *Watcher) Ready() bool { return w.ready.Load() }

// Status returns a copy of the watcher's status; safe to call from any
// goroutine.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Watcher) setStatus(f func(*Status)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.status)
}

// Run reconciles until ctx is done, then lets the pass in flight drain
// (changes started finish and commit; none is started) for at most
// Options.DrainTimeout, and returns nil. It returns an error only when the
// source's change notifications cannot start.
func (w *Watcher) Run(ctx context.Context) error {
	changes, err := w.opts.Source.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watching %s: %w", w.opts.Source, err)
	}
	w.log.Info("watch started", "source", w.opts.Source.String())

	var (
		loadDue = true // ask the source now
		passDue = true // run a pass now
		// nextLoad is when the source is asked again by itself: every
		// Poll for a source without notifications, and with a backoff
		// while nothing has loaded yet. Zero: only on a notification.
		nextLoad time.Time
		// nextPass is when a pass is due by itself: the earliest wake,
		// the resync, or the retry after a failed pass. reload says the
		// configuration is loaded again then, even if the source's
		// revision did not change (what file() reads may have).
		nextPass     time.Time
		reload       bool
		passFailures int
		loadFailures int
		stateTick    <-chan time.Time
	)
	if w.opts.StateCheck > 0 {
		t := time.NewTicker(w.opts.StateCheck)
		defer t.Stop()
		stateTick = t.C
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if loadDue {
			// The deadlines are set only here, after a real attempt:
			// wake-ups for other reasons must not push them back.
			loadDue = false
			if w.load(ctx, reload) {
				passDue = true
			}
			reload = false
			switch {
			case w.cfg == nil:
				loadFailures++
				nextLoad = w.opts.Now().Add(retryAfter(loadFailures, w.opts.Resync))
			case changes == nil:
				loadFailures = 0
				nextLoad = w.opts.Now().Add(w.opts.Poll)
			default:
				loadFailures = 0
				nextLoad = time.Time{}
			}
		}
		if w.cfg != nil && (passDue || !nextPass.IsZero() && !w.opts.Now().Before(nextPass)) {
			passDue = false
			p := w.pass(ctx)
			if p.failed() {
				passFailures++
				nextPass = w.opts.Now().Add(retryAfter(passFailures, w.opts.Resync))
			} else {
				passFailures = 0
				nextPass = w.opts.Now().Add(w.opts.Resync)
				reload = true // at the resync, unless a wake comes first
				if p.Wake.Before(reconcile.Wake{At: nextPass}) {
					nextPass, reload = p.Wake.At, false
				}
			}
		}
		if ctx.Err() != nil {
			w.log.Info("watch stopped")
			return nil
		}
		var wakeAt time.Time
		for _, t := range []time.Time{nextPass, nextLoad} {
			if !t.IsZero() && (wakeAt.IsZero() || t.Before(wakeAt)) {
				wakeAt = t
			}
		}
		var timerC <-chan time.Time
		if !wakeAt.IsZero() {
			timer.Reset(max(wakeAt.Sub(w.opts.Now()), 0))
			timerC = timer.C
		}
		select {
		case <-ctx.Done():
			w.log.Info("watch stopped")
			return nil
		case <-changes:
			loadDue = true
		case <-w.kick:
			passDue = w.cfg != nil
		case <-stateTick:
			if w.cfg != nil && w.stateChanged() {
				passDue = true
			}
		case <-timerC:
			now := w.opts.Now()
			if !nextLoad.IsZero() && !now.Before(nextLoad) {
				loadDue = true
			}
			if reload && !nextPass.IsZero() && !now.Before(nextPass) {
				loadDue = true // the resync reloads the configuration too
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// retryAfter is the wait before retrying after n consecutive failures:
// minRetry doubling, capped at limit.
func retryAfter(n int, limit time.Duration) time.Duration {
	d := minRetry
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// load asks the source for its revision and loads it if it is new, or,
// with reload, even if it is not: values read through file() and env()
// may have changed (a rotated secret), and a revision that did not load
// may load now. It reports whether the configuration changed.
func (w *Watcher) load(ctx context.Context, reload bool) bool {
	rev, err := w.opts.Source.Load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		attrs := []any{"source", w.opts.Source.String(), "error", err}
		if w.rev != nil {
			attrs = append(attrs, "keeping", w.rev.ID)
		}
		w.log.Error("reading the source failed", attrs...)
		w.setStatus(func(s *Status) { s.SourceError = err.Error() })
		return false
	}
	w.setStatus(func(s *Status) { s.SourceError = "" })
	same := w.rev != nil && rev.ID == w.rev.ID && w.cfg != nil
	if same && !reload {
		return false
	}
	if bad := w.Status().BadRevision; !reload && bad != "" && strings.HasPrefix(bad, rev.ID+":") {
		return false // already reported
	}
	opts := w.opts.Load
	opts.FS = rev.FS
	cfg, _, diags := spec.LoadWith(rev.Dir, opts)
	if !diags.HasErrors() && cfg != nil {
		diags = append(diags, reconcile.CheckNotifiers(cfg)...)
	}
	for _, d := range diags {
		w.logDiagnostic(rev, d)
	}
	if diags.HasErrors() || cfg == nil {
		attrs := []any{"revision", rev.ID, "errors", countErrors(diags)}
		if w.rev != nil {
			attrs = append(attrs, "keeping", w.rev.ID)
		}
		w.log.Error("the configuration does not load; not applied", attrs...)
		w.setStatus(func(s *Status) { s.BadRevision = rev.ID + ": " + firstError(diags) })
		return false
	}
	digest := reconcile.ConfigDigest(cfg)
	if same {
		// Reloaded: take it (a secret may have been rotated, which the
		// digest leaves out), and say so only if the plan would differ.
		changed := digest != w.digest
		w.cfg, w.digest = cfg, digest
		w.setStatus(func(s *Status) { s.BadRevision = "" })
		if changed {
			w.log.Info("configuration reloaded", "revision", rev.ID, "certificates", len(cfg.Certificates))
		}
		return changed
	}
	attrs := []any{"revision", rev.ID}
	if rev.Author != "" {
		attrs = append(attrs, "author", rev.Author, "subject", rev.Subject)
	}
	w.log.Info("configuration loaded", append(attrs, "certificates", len(cfg.Certificates))...)
	w.rev, w.cfg, w.digest = rev, cfg, digest
	w.setStatus(func(s *Status) { s.Revision, s.BadRevision = rev, "" })
	return true
}

func (w *Watcher) logDiagnostic(rev *Revision, d *hcl.Diagnostic) {
	level := slog.LevelWarn
	if d.Severity == hcl.DiagError {
		level = slog.LevelError
	}
	attrs := []any{"revision", rev.ID, "summary", d.Summary}
	if d.Subject != nil {
		attrs = append(attrs, "at", fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column))
	}
	if d.Detail != "" {
		attrs = append(attrs, "detail", d.Detail)
	}
	w.log.Log(context.Background(), level, "configuration diagnostic", attrs...)
}

func countErrors(diags hcl.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return n
}

func firstError(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if d.Subject != nil {
			return fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
		}
		return d.Summary
	}
	return "the configuration did not load"
}

// failed reports whether the pass failed as a whole (it did not get to
// plan), as opposed to some of its changes failing.
func (p *Pass) failed() bool { return p.Plan == nil }

// pass runs one reconcile pass over w.cfg; see the package comment.
func (w *Watcher) pass(ctx context.Context) *Pass {
	p := &Pass{Revision: w.rev, Config: w.cfg, Start: w.opts.Now()}
	err := w.runPass(ctx, p)
	p.Duration = w.opts.Now().Sub(p.Start)
	p.Err = err
	w.logPass(p)
	end := p.Start.Add(p.Duration)
	w.setStatus(func(s *Status) {
		s.LastPass = end
		if err == nil {
			s.LastSuccess, s.LastError = end, ""
		} else {
			s.LastError = err.Error()
		}
		if !p.failed() {
			s.Ready = true
		}
	})
	if !p.failed() {
		w.ready.Store(true)
	}
	if w.opts.AfterPass != nil {
		w.opts.AfterPass(p)
	}
	return p
}

func (w *Watcher) runPass(ctx context.Context, p *Pass) error {
	path := w.opts.StatePath(w.cfg)
	// What this pass leaves the state as is not a change to react to;
	// neither is a file another process still holds (the retry backs off).
	defer func() { w.stateSeen = stampOf(path) }()
	db, err := state.Open(path, state.Options{Timeout: w.opts.StateTimeout})
	if err != nil {
		return err
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()

	// The pass runs on a context that outlives ctx by at most the drain
	// timeout, and Apply starts no new change once ctx is done.
	passCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	finished := make(chan struct{})
	defer close(finished)
	stopping := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			close(stopping)
			select {
			case <-time.After(w.opts.DrainTimeout):
				cancel()
			case <-finished:
			}
		case <-finished:
		}
	}()

	cfg := w.cfg
	snap, err := db.Summary(passCtx)
	if err != nil {
		return err
	}
	pool := reconcile.NewACMEPool(cfg, db)
	var errs []error
	deps := reconcile.Deps{Store: db, ACME: pool, Now: w.opts.Now}
	if n, err := reconcile.RefreshRenewalInfo(passCtx, cfg, snap, deps); err != nil {
		w.log.Warn("renewal info", "error", err)
	} else if n > 0 {
		if snap, err = db.Summary(passCtx); err != nil {
			return err
		}
	}
	obs, err := reconcile.Refresh(passCtx, cfg, snap)
	if err != nil {
		w.log.Warn("reading targets", "error", err) // left out of the drift check
	}
	p.Plan = reconcile.Plan(cfg, snap, obs, w.opts.Now())
	rev := w.stateRevision()
	if p.Plan.HasChanges() {
		p.Result, err = reconcile.Apply(passCtx, p.Plan, cfg, reconcile.Deps{
			Store:         db,
			Now:           w.opts.Now,
			Parallelism:   w.opts.Parallelism,
			Exec:          w.opts.Exec,
			ACME:          pool,
			Notifications: db,
			Revision:      rev,
			Stopping:      stopping,
			Observe:       w.opts.Observe,
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if snap.Revision == nil || snap.Revision.ID != rev.ID {
		if err := db.PutRevision(passCtx, rev); err != nil {
			errs = append(errs, err)
		}
	}
	if ctx.Err() == nil {
		// The sweep waits on notifiers: the state is closed meanwhile,
		// and opened only to read the due rows and record each outcome
		// (queue). A shutdown interrupts it: the rows stay due and are
		// delivered by the next start.
		db.Close()
		db = nil
		p.Delivery, err = reconcile.Deliver(ctx, cfg, &queue{path: path, timeout: w.opts.StateTimeout}, reconcile.DeliverOptions{Now: w.opts.Now})
		if err != nil && ctx.Err() == nil {
			errs = append(errs, fmt.Errorf("delivering notifications: %w", err))
		}
		// A notifier that fails is not a failed pass: its rows are
		// retried on their own schedule, or dead-lettered, and each dead
		// one is logged with the command that revives it.
		w.logDead(p.Delivery)
		if db, err = state.Open(path, state.Options{Timeout: w.opts.StateTimeout}); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if p.Snapshot, err = db.Summary(passCtx); err != nil {
		return errors.Join(append(errs, err)...)
	}
	p.Wake = reconcile.NextWake(cfg, p.Snapshot, w.opts.Now())
	if at, ok, err := db.NextNotificationDue(passCtx); err != nil {
		errs = append(errs, err)
	} else if ok {
		if nw := (reconcile.Wake{At: at, Reason: "notification retry"}); nw.Before(p.Wake) {
			p.Wake = nw
		}
	}
	if w.opts.OnPass != nil {
		p.Unseal, p.Certificate = db.Unseal, db.Certificate
		w.opts.OnPass(p)
		p.Unseal, p.Certificate = nil, nil
	}
	return errors.Join(errs...)
}

// stateRevision is the revision as the state records it.
func (w *Watcher) stateRevision() *state.Revision {
	r := &state.Revision{ID: w.rev.ID, Source: w.opts.Source.String(), AppliedAt: w.opts.Now().UTC()}
	r.Author = w.rev.Author
	return r
}

func (w *Watcher) logPass(p *Pass) {
	attrs := []any{"revision", p.Revision.ID, "duration", p.Duration.Round(time.Millisecond).String()}
	if p.Plan != nil {
		s := p.Plan.Summary
		attrs = append(attrs, "create", s.Create, "renew", s.Renew, "replace", s.Replace, "update", s.Update,
			"deploy", s.Deploy, "forget", s.Forget, "revoke", s.Revoke, "notify", s.Notify)
	}
	if p.Result != nil {
		attrs = append(attrs, "failed", p.Result.Failed)
		if len(p.Result.Deferred) > 0 {
			attrs = append(attrs, "deferred", len(p.Result.Deferred))
		}
	}
	if d := p.Delivery; !d.Empty() {
		attrs = append(attrs, "sent", d.Sent, "notify_failed", d.Failed, "dead", d.Dead)
	}
	if !p.Wake.At.IsZero() {
		attrs = append(attrs, "next", p.Wake.At.UTC().Format(time.RFC3339), "next_reason", p.Wake.Reason)
	}
	switch {
	case p.Err != nil:
		w.log.Error("reconcile", append(attrs, "error", p.Err)...)
	case p.Delivery.Failures() > 0:
		w.log.Warn("reconcile", attrs...)
	default:
		w.log.Info("reconcile", attrs...)
	}
}

// logDead logs each notification row the sweep left dead.
func (w *Watcher) logDead(d *reconcile.DeliveryResult) {
	if d == nil {
		return
	}
	for _, n := range d.Rows {
		if n.Status == state.NotifyDead {
			w.log.Warn("notification dead", "id", n.ID, "event", n.Event, "certificate", n.Certificate,
				"notifier", n.Notifier, "attempts", n.RetryCount, "error", n.LastError, "requeue", "certctl requeue "+n.ID)
		}
	}
}

// stateStamp is what a cheap stat tells of the state file: another
// process's write changes it.
type stateStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

func stampOf(path string) stateStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stateStamp{}
	}
	return stateStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

// stateChanged reports whether the state file changed since this watcher
// last closed it.
func (w *Watcher) stateChanged() bool {
	if w.cfg == nil {
		return false
	}
	return stampOf(w.opts.StatePath(w.cfg)) != w.stateSeen
}
