package reconcile

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

var _ Issuer = (*pki.LocalCA)(nil)

// DefaultParallelism is how many certificates Apply works on at once when
// Deps.Parallelism is not set.
const DefaultParallelism = 10

// ProgressFunc is told, after each change, how many of total are done and
// how many of those failed. Apply serialises the calls.
type ProgressFunc func(done, total, failed int)

// Deps is what Apply works with.
type Deps struct {
	// Store is required. Apply reads one snapshot from it at the start and
	// writes each result as soon as it is known.
	Store state.Store
	// Issuers maps an issuer's name in the config to the Issuer that
	// signs for it, overriding the configured one (a fake in tests).
	// Other acme issuers are built from their stored accounts (ACME);
	// local CAs are created, or loaded from the state.
	Issuers map[string]Issuer
	// Now defaults to time.Now.
	Now func() time.Time
	// Parallelism bounds how many certificates are worked on at once;
	// DefaultParallelism if < 1.
	Parallelism int
	// Progress, if set, is called after each change.
	Progress ProgressFunc
	// Exec runs validate and reload commands; ShellExec(DefaultExecTimeout)
	// if nil.
	Exec ExecFunc
	// Notifications, if set, receives the rows of every event Apply
	// raises (see events.go), written before Apply returns; Deliver sends
	// them. Without it no event is recorded and notify changes fail.
	Notifications state.Notifications
	// ACME builds and caches the ACME issuers (see ACMEPool); Apply makes
	// its own when nil. Passing the pool RefreshRenewalInfo used saves
	// connecting twice.
	ACME *ACMEPool
	// Revision, if set, is the configuration revision being applied (a
	// git commit, from watch): every record Apply writes and every event
	// it raises names it.
	Revision *state.Revision
	// Stopping, when closed, stops Apply from starting further changes:
	// those in flight finish and commit, the rest fail as not started
	// (nothing is recorded for them). watch closes it on SIGTERM, so that
	// a shutdown drains instead of abandoning an order half-way.
	Stopping <-chan struct{}
	// Observe, if set, is told the Outcome of every issuing change
	// (create, renew, replace) that Apply attempted, once it is known. A
	// change found stale, deferred by a rate limit or not started because
	// of Stopping is not attempted. Calls come from several goroutines at
	// once and hold up the certificate's worker, so Observe must be safe
	// for concurrent use and quick (metrics).
	Observe func(Outcome)
}

// Outcome is how one issuing change went, for Deps.Observe.
type Outcome struct {
	Name   string // the certificate's name
	Issuer string // its issuer in the configuration; "" if it left it
	Action Action // ActionCreate, ActionRenew or ActionReplace
	// Duration runs from the start of the change to the commit of the
	// new certificate, or to the failure: key generation, the wait for a
	// signer, the issuer's work and the commit. Deployments that follow
	// the commit are not in it. It is wall time (time.Now, not Deps.Now),
	// so that a test's fixed clock does not make it zero.
	Duration time.Duration
	// Err is the issuing error: nil when the new certificate was
	// committed, even if deploying it failed afterwards. An apply whose
	// context ended also reports its unfinished changes with an error.
	Err error
}

// ErrStopping is the error of a change that Apply did not start because
// Deps.Stopping was closed.
var ErrStopping = errors.New("not started: certctl is stopping")

// Result is what Apply did. A change counts under its action when it
// succeeded and under Failed when it returned an error; an issuing change
// whose certificate was committed but whose deploy failed counts in both.
type Result struct {
	Created, Renewed, Replaced, Updated, Deployed, Forgotten, Failed int
	// Notified counts the expiry notices raised (a notify change whose
	// certificate was renewed first raises none).
	Notified int
	// Revoked counts certificates revoked (on_remove = "revoke") and
	// removed from the state.
	Revoked int
	// Deferred lists, sorted, the addresses of issuing changes left for a
	// later run because their issuer's rate_limit was spent (see
	// ratelimit.go). They are neither done nor failed.
	Deferred []string
	// Errors holds one entry per failed change, sorted by address.
	Errors []*ChangeError
	// Delivery is the delivery sweep that followed, if the caller ran one
	// (see Deliver); the views show it after the changes.
	Delivery *DeliveryResult
}

// ChangeError is the failure of one change.
type ChangeError struct {
	Address string
	Action  Action
	Target  string // for deploy
	Err     error
}

func (e *ChangeError) Error() string { return e.Err.Error() }
func (e *ChangeError) Unwrap() error { return e.Err }

// ErrStale is wrapped by the error of a change whose object changed in the
// state since the plan was made (another certctl did it, or a crash
// happened after the commit): the change is not done twice.
var ErrStale = errors.New("the state changed since the plan was made; run certctl plan again")

// Apply carries out p for cfg: issuer changes first, one by one, then the
// certificate changes, with up to deps.Parallelism certificates at once
// (changes to one certificate run in order, by one worker).
//
// Each issued certificate is committed to the store before it is deployed;
// each deploy is recorded after it. A failing change does not stop the
// others: an issuance failure is recorded on the certificate (status
// failed, last error, next attempt by Backoff) and its current certificate
// is kept. The returned error joins every change's error (nil if none);
// the Result is always non-nil and counts what was done. Errors never
// contain private keys.
func Apply(ctx context.Context, p *ActionPlan, cfg *spec.Config, deps Deps) (*Result, error) {
	res := &Result{}
	if deps.Store == nil {
		return res, errors.New("apply: no state store")
	}
	snap, err := deps.Store.Snapshot(ctx)
	if err != nil {
		return res, fmt.Errorf("reading state: %w", err)
	}
	a := &applier{
		cfg:        cfg,
		deps:       deps,
		snap:       snap,
		res:        res,
		total:      len(p.Changes),
		cas:        make(map[string]*pki.LocalCA),
		issuerErr:  make(map[string]error),
		committing: make(map[string]chan struct{}),
	}
	if a.deps.Now == nil {
		a.deps.Now = time.Now
	}
	if a.deps.Exec == nil {
		a.deps.Exec = ShellExec(DefaultExecTimeout)
	}
	if a.deps.ACME == nil {
		a.deps.ACME = NewACMEPool(cfg, deps.Store)
	}
	workers := cmp.Or(max(deps.Parallelism, 0), DefaultParallelism)

	// Issuers first: the certificates below may need them. A new local
	// CA signs at once while its record commits (see applyIssuer). The
	// changes of one certificate form one unit of work, so that no two
	// workers ever hold the same record.
	var wg sync.WaitGroup
	var units [][]Change
	unitOf := make(map[string]int)
	for _, ch := range p.Changes {
		if ch.Kind == KindIssuer {
			if commit := a.applyIssuer(ctx, ch); commit != nil {
				wg.Go(commit)
			}
			continue
		}
		if i, ok := unitOf[ch.Name]; ok {
			units[i] = append(units[i], ch)
		} else {
			unitOf[ch.Name] = len(units)
			units = append(units, []Change{ch})
		}
	}
	a.mu.Lock()             // a CA's commit may be reporting already
	units = a.spread(units) // rate limits: ratelimit.go
	a.mu.Unlock()

	// Parallelism bounds the signing (key generation, the issuer's work),
	// not the units: it is the number of signer goroutines (see onSigner),
	// and a unit waiting for its commit to be durable holds none, so the
	// CPUs keep signing while the state syncs. Up to Parallelism more
	// signing jobs wait in the channel, so that a signer that finishes
	// starts the next at once. The units in flight are bounded too, to
	// keep memory flat on large applies.
	a.signers = make(chan func(), workers)
	for range workers {
		go func() {
			for f := range a.signers {
				f()
			}
		}()
	}
	defer close(a.signers)
	inflight := make(chan struct{}, workers*unitsPerSlot)
	for _, u := range units {
		inflight <- struct{}{}
		wg.Go(func() {
			defer func() { <-inflight }()
			a.applyCert(ctx, u)
		})
	}
	wg.Wait()

	slices.SortFunc(res.Errors, func(x, y *ChangeError) int {
		return cmp.Or(strings.Compare(x.Address, y.Address), cmp.Compare(x.Action, y.Action), strings.Compare(x.Target, y.Target))
	})
	errs := make([]error, len(res.Errors))
	for i, e := range res.Errors {
		errs[i] = e
	}
	return res, errors.Join(errs...)
}

type applier struct {
	cfg  *spec.Config
	deps Deps
	snap *state.Snapshot

	mu        sync.Mutex // guards everything below
	res       *Result
	total     int
	doneN     int
	cas       map[string]*pki.LocalCA // local CAs created or loaded
	issuerErr map[string]error        // issuers that failed in this apply
	// committing holds, for each local CA created in this apply, a
	// channel closed once its record is committed or has failed to.
	committing map[string]chan struct{}

	signers chan func()   // work for the Deps.Parallelism signer goroutines
	stepCA  stepCAIssuers // step-ca issuers built on first use (own lock): stepca.go
}

// unitsPerSlot is how many certificates may be in flight (signing,
// committing, deploying) per signer. Certificates signed while a commit
// syncs wait for the next one (see state's group commit): with too few in
// flight, a slow fsync leaves the signers without work. At 16, ten
// signers keep two CPUs busy through a commit of some 35 ms (they sign
// about 4.4 ecdsa-p256 certificates a millisecond); a unit in flight
// holds a few KB.
const unitsPerSlot = 16

// done counts one finished change and reports progress.
func (a *applier) done(ch Change, err error, alsoFailed ...error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.doneN++
	if err == nil {
		switch ch.Action {
		case ActionCreate:
			a.res.Created++
		case ActionRenew:
			a.res.Renewed++
		case ActionReplace:
			a.res.Replaced++
		case ActionUpdate:
			a.res.Updated++
		case ActionDeploy:
			a.res.Deployed++
		case ActionForget:
			a.res.Forgotten++
		case ActionRevoke:
			a.res.Revoked++
		}
		err = errors.Join(alsoFailed...)
	}
	if err != nil {
		a.res.Failed++
		a.res.Errors = append(a.res.Errors, &ChangeError{Address: ch.Address, Action: ch.Action, Target: ch.Target, Err: err})
	}
	if a.deps.Progress != nil {
		a.deps.Progress(a.doneN, a.total, a.res.Failed)
	}
}

// applyIssuer creates or replaces a local CA, or sets up an ACME
// account. A new local CA is usable at once: applyIssuer returns the
// commit of its record, which the caller runs while the certificates are
// signed, so that the CA's fsyncs are not waited for before the first
// signature. A certificate the CA signed waits for that commit before its
// own (see caCommitted): none is committed without its CA. Every other
// outcome is reported before applyIssuer returns.
func (a *applier) applyIssuer(ctx context.Context, ch Change) (commit func()) {
	if is := a.cfg.Issuers[ch.Name]; is != nil && is.Type == spec.IssuerTypeACME {
		a.issuerDone(ch, a.applyACMEIssuer(ctx, ch, is)) // acme.go
		return nil
	}
	if is := a.cfg.Issuers[ch.Name]; is != nil && is.Type == spec.IssuerTypeStepCA {
		a.issuerDone(ch, a.applyStepCAIssuer(ctx, ch, is)) // stepca.go
		return nil
	}
	ca, rec, wrap, err := a.newLocalCA(ch)
	if err != nil {
		a.issuerDone(ch, err)
		return nil
	}
	committed := make(chan struct{})
	a.mu.Lock()
	a.cas[ch.Name] = ca
	a.committing[ch.Name] = committed
	a.mu.Unlock()
	return func() {
		defer close(committed)
		err := a.deps.Store.PutIssuer(ctx, rec)
		if err != nil {
			err = wrap(fmt.Errorf("committing: %w", err))
		}
		a.issuerDone(ch, err)
	}
}

// issuerDone reports an issuer change's outcome. An issuer that failed
// fails the certificates that need it in this apply.
func (a *applier) issuerDone(ch Change, err error) {
	if err != nil {
		a.mu.Lock()
		a.issuerErr[ch.Name] = err
		a.mu.Unlock()
	}
	a.done(ch, err)
}

// caCommitted waits for the record of the local CA name, if it was
// created in this apply, to be committed, and fails if it was not.
func (a *applier) caCommitted(ctx context.Context, name string) error {
	a.mu.Lock()
	committed := a.committing[name]
	a.mu.Unlock()
	if committed == nil {
		return nil
	}
	select {
	case <-committed:
	case <-ctx.Done():
		return ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.issuerErr[name] != nil {
		return fmt.Errorf("%s failed in this apply", IssuerAddress(name))
	}
	return nil
}

// newLocalCA makes the local CA ch creates or replaces, and its record
// with the key sealed; wrap names the change in errors.
func (a *applier) newLocalCA(ch Change) (ca *pki.LocalCA, rec *state.Issuer, wrap func(error) error, err error) {
	verb := map[Action]string{ActionCreate: "creating", ActionReplace: "replacing"}[ch.Action]
	if verb == "" {
		return nil, nil, nil, fmt.Errorf("%s: action %s is not supported for issuers", ch.Address, ch.Action)
	}
	wrap = func(err error) error { return fmt.Errorf("%s %s: %w", verb, ch.Address, err) }
	is := a.cfg.Issuers[ch.Name]
	if is == nil || is.Type != IssuerTypeLocalCA {
		return nil, nil, nil, wrap(errors.New("no local_ca issuer of that name in the configuration"))
	}
	// Check again: creating a second root would orphan every certificate
	// the first one signed.
	digest := IssuerDigest(is)
	if rec := a.snap.Issuers[ch.Name]; (rec != nil && ch.Action == ActionCreate) || (rec != nil && rec.Digest == digest) {
		return nil, nil, nil, wrap(ErrStale)
	}
	now := a.deps.Now()
	ca, err = pki.NewLocalCA(pki.CAConfig{Name: is.Name, CommonName: is.CommonName, KeyAlgorithm: is.KeyAlgorithm, Validity: is.Validity}, now)
	if err != nil {
		return nil, nil, nil, wrap(err)
	}
	if ca, err = withCAURLs(ca, is); err != nil {
		return nil, nil, nil, wrap(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return nil, nil, nil, wrap(err)
	}
	sealed, err := a.deps.Store.Seal(keyPEM)
	clear(keyPEM)
	if err != nil {
		return nil, nil, nil, wrap(fmt.Errorf("sealing the CA key: %w", err))
	}
	rec = &state.Issuer{Name: is.Name, Type: is.Type, Digest: digest, CertPEM: ca.CertPEM(), KeySealed: sealed, CreatedAt: now}
	return ca, rec, wrap, nil
}

// issuer returns the Issuer for a config issuer name: deps.Issuers, an
// ACME issuer (see acmeIssuer), a local CA created in this apply, or a
// local CA loaded from the state.
func (a *applier) issuer(ctx context.Context, name string) (Issuer, error) {
	if is, ok := a.deps.Issuers[name]; ok {
		return is, nil
	}
	if is := a.cfg.Issuers[name]; is != nil && is.Type == spec.IssuerTypeACME && is.ACME != nil {
		return a.acmeIssuer(ctx, name)
	}
	if is := a.cfg.Issuers[name]; is != nil && is.Type == spec.IssuerTypeStepCA && is.StepCA != nil {
		return a.stepCAIssuer(is) // stepca.go
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.issuerErr[name]; err != nil {
		return nil, fmt.Errorf("%s failed in this apply", IssuerAddress(name))
	}
	if ca := a.cas[name]; ca != nil {
		return ca, nil
	}
	rec := a.snap.Issuers[name]
	if rec == nil {
		return nil, fmt.Errorf("%s is not in the state (is it a local_ca? run certctl plan again)", IssuerAddress(name))
	}
	ca, err := LoadLocalCA(a.deps.Store, rec)
	if err == nil {
		ca, err = withCAURLs(ca, a.cfg.Issuers[name])
	}
	if err != nil {
		a.issuerErr[name] = err
		return nil, err
	}
	a.cas[name] = ca
	return ca, nil
}

// withCAURLs gives ca the publication URLs of its configuration (they live
// in the config, not in the CA certificate).
func withCAURLs(ca *pki.LocalCA, is *spec.Issuer) (*pki.LocalCA, error) {
	if is == nil || (is.IssuerURL == "" && is.OCSPURL == "" && is.CRLURL == "") {
		return ca, nil
	}
	return ca.WithURLs(pki.CAURLs{IssuerURL: is.IssuerURL, OCSPURL: is.OCSPURL, CRLURL: is.CRLURL})
}

// LoadLocalCA restores the local CA recorded in rec, unsealing its key
// with store. The error never contains key material.
func LoadLocalCA(store state.Store, rec *state.Issuer) (*pki.LocalCA, error) {
	keyPEM, err := store.Unseal(rec.KeySealed)
	if err != nil {
		return nil, fmt.Errorf("unsealing the key of %s: %w", IssuerAddress(rec.Name), err)
	}
	defer clear(keyPEM)
	ca, err := pki.LoadLocalCA(rec.CertPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", IssuerAddress(rec.Name), err)
	}
	return ca, nil
}

// applyCert runs the changes of one certificate, in order.
func (a *applier) applyCert(ctx context.Context, chs []Change) {
	rec := cloneRecord(a.snap.Certificates[chs[0].Name])
	for _, ch := range chs {
		if err := ctx.Err(); err != nil {
			a.done(ch, fmt.Errorf("%s: %w", ch.Address, err))
			continue
		}
		if a.stopping() {
			a.done(ch, fmt.Errorf("%s: %w", ch.Address, ErrStopping))
			continue
		}
		// A notify change checks its own version: after a renewal in
		// this unit it is moot, not stale (see notice).
		if fp := fingerprint(rec); fp != ch.Prior && !(ch.Action == ActionForget && rec == nil) && ch.Action != ActionNotify {
			a.done(ch, fmt.Errorf("%s %s: %w", ch.Action, ch.Address, ErrStale))
			continue
		}
		switch ch.Action {
		case ActionCreate, ActionRenew, ActionReplace:
			var err, deployErr error
			rec, deployErr, err = a.issue(ctx, ch, rec)
			a.done(ch, err, deployErr)
		case ActionUpdate:
			a.done(ch, a.update(ctx, ch, rec))
		case ActionDeploy:
			if err, evErr := a.deploy(ctx, ch, rec); err != nil {
				a.done(ch, errors.Join(err, evErr))
			} else {
				a.done(ch, nil, evErr)
			}
		case ActionNotify:
			a.done(ch, a.notice(ctx, ch, rec))
		case ActionForget:
			a.done(ch, a.forget(ctx, ch, rec))
			rec = nil
		case ActionRevoke:
			var evErr, err error
			rec, evErr, err = a.revoke(ctx, ch, rec) // acme.go
			a.done(ch, err, evErr)
		default:
			a.done(ch, fmt.Errorf("%s: unknown action %s", ch.Address, ch.Action))
		}
	}
}

func fingerprint(rec *state.Certificate) string {
	if rec == nil {
		return ""
	}
	return rec.Fingerprint
}

var issueVerbs = map[Action]string{ActionCreate: "issuing", ActionRenew: "renewing", ActionReplace: "replacing"}

// issue gets a new certificate for ch, commits it, then deploys it to the
// change's local targets. It returns the record as it now is, the deploy
// error (the certificate was committed) and the issuing error (it was not).
// It raises the events of the outcome (see events.go), each in the
// transaction that commits it; an event's error is returned with the
// deploy error when the certificate was committed, else with the issuing
// error.
func (a *applier) issue(ctx context.Context, ch Change, rec *state.Certificate) (next *state.Certificate, deployErr, err error) {
	var committed time.Time // when next was committed; zero until then
	if a.deps.Observe != nil {
		start := time.Now()
		defer func() { a.observe(ch, start, committed, err) }()
	}
	verb := issueVerbs[ch.Action]
	c := a.cfg.Certificates[ch.Name]
	if c == nil {
		err := fmt.Errorf("%s %s: not in the configuration", verb, ch.Address)
		return rec, nil, errors.Join(err, a.announceFailure(ctx, ch, rec, rec, err))
	}
	iss, err := a.issuer(ctx, c.Issuer)
	if err != nil {
		err = fmt.Errorf("%s %s: %w", verb, ch.Address, err)
		if errors.Is(err, errIssuerUnavailable) && ctx.Err() == nil {
			// The CA did not answer: a failed attempt, backed off.
			next, evErr := a.recordFailure(ctx, ch, c, rec, err, a.deps.Now())
			return next, nil, errors.Join(err, evErr)
		}
		// Not this certificate's fault: leave its record alone.
		return rec, nil, errors.Join(err, a.announceFailure(ctx, ch, rec, rec, err))
	}
	now := a.deps.Now()
	next, keyPEM, err := a.sign(ctx, c, rec, iss, now)
	if err != nil {
		err = fmt.Errorf("%s %s: %w", verb, ch.Address, err)
		if ctx.Err() != nil {
			// Interrupted, not failed: no backoff, and nothing to announce.
			return rec, nil, err
		}
		next, evErr := a.recordFailure(ctx, ch, c, rec, err, now)
		return next, nil, errors.Join(err, evErr)
	}
	defer clear(keyPEM)
	if rec != nil && rec.Fingerprint != "" {
		next.History = append(next.History, state.Version{
			Serial: rec.Serial, NotBefore: rec.NotBefore, NotAfter: rec.NotAfter,
			Fingerprint: rec.Fingerprint, Digest: rec.Digest, SupersededAt: now, Reason: ch.Action.String(),
			Issuer: rec.Issuer, IssuedAt: rec.IssuedAt,
		})
		if n := len(next.History); n > state.MaxHistory {
			next.History = slices.Clone(next.History[n-state.MaxHistory:])
		}
	}
	// Its CA first, if this apply created it.
	if err := a.caCommitted(ctx, c.Issuer); err != nil {
		err = fmt.Errorf("%s %s: %w", verb, ch.Address, err)
		if ctx.Err() != nil {
			return rec, nil, err
		}
		return rec, nil, errors.Join(err, a.announceFailure(ctx, ch, rec, rec, err))
	}
	// Committed before deployed: a crash from here on finds the
	// certificate in the state and only deploys it. Its issued (renewed,
	// replaced) event is committed with it.
	rows, evErr := a.issuedRows(ch, rec, next)
	cerr, qErr := a.commit(ctx, next, rows)
	if cerr != nil {
		err := fmt.Errorf("%s %s: committing: %w", verb, ch.Address, cerr)
		return rec, nil, errors.Join(err, a.announceFailure(ctx, ch, rec, rec, err))
	}
	committed = time.Now()
	evErrs := []error{evErr, qErr}
	// The CA's renewal window (ARI) for the new certificate, committed
	// with the deployments below.
	gotARI := a.fetchRenewalInfo(ctx, iss, next) // acme.go
	var derrs []error
	for _, tname := range ch.Targets {
		derrs = append(derrs, a.deployTo(ctx, c, next, tname, keyPEM))
	}
	derr := errors.Join(derrs...)
	if len(ch.Targets) > 0 || gotARI {
		// The deployments' events, committed with them.
		var rows []*state.Notification
		for _, t := range ch.Targets {
			var prev string
			if rec != nil {
				prev = rec.Deployments[t].LastError
			}
			r, err := a.deployRows(ctx, ch.Name, next, t, prev)
			rows, evErrs = append(rows, r...), append(evErrs, err)
		}
		// The blobs were committed above: write the rest only.
		cerr, qErr := a.commit(ctx, next.WithoutBlobs(), rows)
		if cerr != nil {
			derr = errors.Join(derr, fmt.Errorf("recording deployments of %s: %w", ch.Address, cerr))
			qErr = a.enqueueAlone(ctx, rows)
		}
		evErrs = append(evErrs, qErr)
	}
	return next, errors.Join(derr, errors.Join(evErrs...)), nil
}

// observe tells Deps.Observe how the issuing change ch went: it started
// at start and its certificate was committed at committed, or, if zero,
// it failed with err just now.
func (a *applier) observe(ch Change, start, committed time.Time, err error) {
	end := committed
	if end.IsZero() {
		end = time.Now()
	}
	var issuer string
	if c := a.cfg.Certificates[ch.Name]; c != nil {
		issuer = c.Issuer
	}
	a.deps.Observe(Outcome{Name: ch.Name, Issuer: issuer, Action: ch.Action, Duration: end.Sub(start), Err: err})
}

// sign generates a key, has iss sign it (directly if iss is a keyIssuer,
// else through a CSR) and returns the new record (not yet committed) with
// the key PEM, which the caller clears.
func (a *applier) sign(ctx context.Context, c *spec.Certificate, rec *state.Certificate, iss Issuer, now time.Time) (*state.Certificate, []byte, error) {
	pol := a.cfg.Policies[c.Policy]
	var replaces *x509.Certificate
	if rec != nil && len(rec.CertPEM) > 0 {
		replaces, _ = pki.ParseCertificatePEM(rec.CertPEM)
	}
	validity := c.Validity
	if validity == 0 && pol != nil {
		validity = pol.Validity
	}
	want := specAttrs(c, a.cfg)
	var issued *pki.Issued
	var keyPEM []byte
	subj := pki.CSRSubject{CommonName: c.CommonName, DNSNames: c.DNSNames, IPAddresses: c.IPAddresses, EmailAddresses: c.EmailAddresses}
	if want.NoSubjectCN {
		subj = subj.WithoutCommonName()
	}
	req := pki.IssueRequest{Name: c.Name, Subject: subj, Usages: want.Usages, Validity: validity, Now: now, Replaces: replaces}
	// A certificate deployed only by one agent is signed from that
	// agent's CSR: its key never leaves the agent's host.
	keyAgent := KeyAgent(a.cfg, c)
	err := a.onSigner(ctx, func() error {
		if keyAgent != "" {
			if rec == nil || rec.CSR == nil || rec.CSR.Agent != keyAgent {
				return fmt.Errorf("no CSR from agent %s in the state", keyAgent)
			}
			csr, err := CheckCSR(a.cfg, c, rec.CSR.PEM)
			if err != nil {
				return fmt.Errorf("the CSR of agent %s: %w", keyAgent, err)
			}
			req.CSR = csr
			issued, err = iss.Issue(ctx, req)
			return err
		}
		key, err := pki.GenerateKey(c.KeyAlgorithm)
		if err != nil {
			return fmt.Errorf("generating key: %w", err)
		}
		if ki, ok := iss.(keyIssuer); ok {
			// The key was made here: no CSR to build, sign and verify.
			req.PublicKey = key.Public()
			issued, err = ki.IssueForKey(ctx, req)
		} else {
			if req.CSR, _, err = pki.NewCSR(key, subj); err != nil {
				return fmt.Errorf("creating CSR: %w", err)
			}
			issued, err = iss.Issue(ctx, req)
		}
		if err != nil {
			return err
		}
		if keyPEM, err = pki.MarshalPrivateKeyPEM(key); err != nil {
			return fmt.Errorf("encoding key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var sealed []byte
	if keyPEM != nil {
		if sealed, err = a.deps.Store.Seal(keyPEM); err != nil {
			clear(keyPEM)
			return nil, nil, fmt.Errorf("sealing key: %w", err)
		}
	}
	next := cloneRecord(rec)
	if next == nil {
		next = &state.Certificate{Name: c.Name}
	}
	recordIssued(next, c, want, issued, sealed, now)
	next.KeyAgent = keyAgent
	a.setMeta(next, c)
	return next, keyPEM, nil
}

// recordIssued makes next the record of a new current certificate of c:
// issued, with the attributes want asked for, its blobs, and no failure
// or renewal window left from the version before. Apply and ImportedRecord
// both build records with it, so a plan reads them alike.
func recordIssued(next *state.Certificate, c *spec.Certificate, want attrs, issued *pki.Issued, sealed []byte, now time.Time) {
	next.Digest = want.digest()
	sum := issued.Summary()
	next.Serial = sum.Serial
	next.NotBefore = sum.NotBefore
	next.NotAfter = sum.NotAfter
	next.Fingerprint = sum.Fingerprint
	next.Issuer = c.Issuer
	next.CommonName = want.CommonName
	next.DNSNames = slices.Clone(want.DNSNames)
	next.IPAddresses = slices.Clone(want.IPAddresses)
	next.EmailAddresses = slices.Clone(want.EmailAddresses)
	next.KeyAlgorithm = want.KeyAlgorithm
	next.Usages = slices.Clone(want.Usages)
	next.IssuerURL, next.OCSPURL, next.CRLURL = want.IssuerURL, want.OCSPURL, want.CRLURL
	next.NoSubjectCommonName = want.NoSubjectCN
	// The key is the one sealed here (Apply names the agent's instead),
	// and a pending CSR is spent or stale.
	next.KeyAgent, next.CSR = "", nil
	next.CertPEM = issued.CertPEM
	next.ChainPEM = issued.ChainPEM
	next.KeySealed = sealed
	next.Status = state.StatusIssued
	next.LastError = ""
	next.FailedAt = time.Time{}
	next.Failures = 0
	next.NextAttemptAt = time.Time{}
	next.IssuedAt = now
	next.UpdatedAt = now
	// A renewal window belongs to the certificate it was asked for.
	next.RenewalWindowStart, next.RenewalWindowEnd, next.ARICheckedAt = time.Time{}, time.Time{}, time.Time{}
	// So does a revocation, and a renewal request.
	next.RevokedAt, next.RevokedReason = time.Time{}, 0
	next.RenewRequestedAt = time.Time{}
}

// onSigner runs f on one of the signer goroutines and returns its error.
// The signers are long-lived, so that only they grow the deep stacks the
// crypto and issuers need; a unit's goroutine only waits.
func (a *applier) onSigner(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	select {
	case a.signers <- func() { done <- f() }:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-done
}

// setMeta copies c's metadata into rec, and names the revision being
// applied, if any.
func (a *applier) setMeta(rec *state.Certificate, c *spec.Certificate) {
	setMeta(rec, c, a.deps.Revision)
}

// setMeta copies c's metadata into rec, and names rev if it is not nil.
func setMeta(rec *state.Certificate, c *spec.Certificate, rev *state.Revision) {
	rec.Owner = c.Owner
	rec.Team = c.Team
	rec.Labels = maps.Clone(c.Labels)
	rec.OnRemove = c.OnRemove
	if rev != nil {
		rec.Revision, rec.RevisionAuthor = rev.ID, rev.Author
	}
}

// stopping reports whether Deps.Stopping is closed.
func (a *applier) stopping() bool {
	select {
	case <-a.deps.Stopping:
		return true
	default:
		return false
	}
}

// recordFailure marks the certificate failed, keeping its current
// certificate, and schedules the next attempt; the failed event of ch (see
// failedRows) is committed with it. It returns the record as stored (or as
// it was, if storing failed; that error is dropped because the issuing
// error is already reported and a store that cannot write will fail the
// next plan loudly) and the event's error.
func (a *applier) recordFailure(ctx context.Context, ch Change, c *spec.Certificate, rec *state.Certificate, cause error, now time.Time) (*state.Certificate, error) {
	next := cloneRecord(rec)
	if next == nil {
		next = &state.Certificate{Name: c.Name, Issuer: c.Issuer}
		a.setMeta(next, c)
	}
	next.Status = state.StatusFailed
	next.LastError = cause.Error()
	next.FailedAt = now
	next.Failures++
	next.NextAttemptAt = now.Add(a.failureBackoff(c, next.Failures, cause)) // acme.go
	next.UpdatedAt = now
	rows, evErr := a.failedRows(ctx, ch, rec, next, cause)
	err, qErr := a.commit(ctx, next, rows)
	if err != nil {
		// Neither the record nor the event was written: the failure is
		// still announced, about the record as it was.
		return rec, a.announceFailure(ctx, ch, rec, rec, cause)
	}
	return next, errors.Join(evErr, qErr)
}

func (a *applier) update(ctx context.Context, ch Change, rec *state.Certificate) error {
	c := a.cfg.Certificates[ch.Name]
	if c == nil || rec == nil {
		return fmt.Errorf("updating %s: %w", ch.Address, ErrStale)
	}
	a.setMeta(rec, c)
	rec.UpdatedAt = a.deps.Now()
	if err := a.deps.Store.PutCertificate(ctx, rec); err != nil {
		return fmt.Errorf("updating %s: %w", ch.Address, err)
	}
	return nil
}

// deploy runs a deploy change and commits its outcome with its event (see
// deployRows). It returns the change's error and the event's.
func (a *applier) deploy(ctx context.Context, ch Change, rec *state.Certificate) (err, evErr error) {
	var prevErr string
	if rec != nil {
		prevErr = rec.Deployments[ch.Target].LastError
	}
	c := a.cfg.Certificates[ch.Name]
	if c == nil || rec == nil || rec.Fingerprint == "" {
		return fmt.Errorf("deploying %s: %w", ch.Address, ErrStale), a.deployEvent(ctx, ch.Name, rec, ch.Target, prevErr)
	}
	keyPEM, err := a.deps.Store.Unseal(rec.KeySealed)
	if err != nil {
		return fmt.Errorf("deploying %s: unsealing its key: %w", ch.Address, err), a.deployEvent(ctx, ch.Name, rec, ch.Target, prevErr)
	}
	defer clear(keyPEM)
	derr := a.deployTo(ctx, c, rec, ch.Target, keyPEM)
	rows, evErr := a.deployRows(ctx, ch.Name, rec, ch.Target, prevErr)
	// Only the deployment changed: the stored blobs stay.
	err, qErr := a.commit(ctx, rec.WithoutBlobs(), rows)
	if err != nil {
		return errors.Join(derr, fmt.Errorf("recording deployment of %s: %w", ch.Address, err)), errors.Join(evErr, a.enqueueAlone(ctx, rows))
	}
	return derr, errors.Join(evErr, qErr)
}

// deployTo writes rec's certificate and keyPEM to one local target and
// records the outcome in rec.Deployments (the caller commits rec). A failed
// deployment keeps the fingerprint of what the target had, so the next plan
// deploys again.
func (a *applier) deployTo(ctx context.Context, c *spec.Certificate, rec *state.Certificate, tname string, keyPEM []byte) error {
	tg := a.cfg.Targets[tname]
	if tg == nil {
		return fmt.Errorf("deploying %s to target.%s: target not in the configuration", CertAddress(c.Name), tname)
	}
	if tg.Agent != "" {
		return fmt.Errorf("deploying %s to target.%s: the target belongs to agent %s", CertAddress(c.Name), tname, tg.Agent)
	}
	f := files{rec.CertPEM, rec.ChainPEM, append(slices.Clip(rec.CertPEM), rec.ChainPEM...), keyPEM}
	ft := fileTarget{
		dir: targetDir(a.cfg, tg), stem: c.FileStem(),
		fileMode: modeOr(tg.FileMode, DefaultFileMode), keyMode: modeOr(tg.KeyMode, DefaultKeyMode),
		validate: tg.Validate, reload: tg.Reload, exec: a.deps.Exec,
	}
	err := ft.write(ctx, &f)
	if rec.Deployments == nil {
		rec.Deployments = make(map[string]state.Deployment)
	}
	dep := rec.Deployments[tname]
	if err != nil {
		dep.LastError = err.Error()
		rec.Deployments[tname] = dep
		return fmt.Errorf("deploying %s to target.%s: %w", CertAddress(c.Name), tname, err)
	}
	rec.Deployments[tname] = state.Deployment{Fingerprint: rec.Fingerprint, FilesDigest: f.digest(), DeployedAt: a.deps.Now()}
	return nil
}

func modeOr(m uint32, def fs.FileMode) fs.FileMode {
	if m == 0 {
		return def
	}
	return fs.FileMode(m) & fs.ModePerm
}

func (a *applier) forget(ctx context.Context, ch Change, rec *state.Certificate) error {
	if rec == nil {
		return nil // already gone
	}
	if err := a.deps.Store.DeleteCertificate(ctx, ch.Name); err != nil {
		return fmt.Errorf("forgetting %s: %w", ch.Address, err)
	}
	return nil
}

// cloneRecord copies rec deeply enough that Apply's changes to it (maps,
// history) do not reach the snapshot.
func cloneRecord(rec *state.Certificate) *state.Certificate {
	if rec == nil {
		return nil
	}
	c := *rec
	c.History = slices.Clone(rec.History)
	c.Deployments = maps.Clone(rec.Deployments)
	c.Labels = maps.Clone(rec.Labels)
	return &c
}

// String is the one-line summary an apply ends with.
// Expiry notices are counted only when there were some, so that the line
// of an apply without them stays as it always was.
func (r *Result) String() string {
	notified := ""
	if r.Notified > 0 {
		notified = fmt.Sprintf(" %d notified,", r.Notified)
	}
	if r.Revoked > 0 { // likewise
		notified += fmt.Sprintf(" %d revoked,", r.Revoked)
	}
	deferred := ""
	if len(r.Deferred) > 0 {
		deferred = fmt.Sprintf(", %d deferred by rate limits", len(r.Deferred))
	}
	return fmt.Sprintf("Apply complete: %d created, %d renewed, %d replaced, %d updated, %d deployed, %d forgotten,%s %d failed%s.",
		r.Created, r.Renewed, r.Replaced, r.Updated, r.Deployed, r.Forgotten, notified, r.Failed, deferred)
}
