package reconcile

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/reconcile/notify"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// ACME issuers in plan and apply.
//
// The account of an `issuer "acme"` lives in its state.Issuer record (key
// sealed). Plan shows a missing account as "+ issuer.X" (registered on
// apply), a changed directory or type as "-/+" (a new account at another
// CA: every certificate from the old one is replaced) and a changed email
// as "~" (the account's contact is updated). Apply builds each ACME issuer
// once per command (ACMEPool), registering and recording an account when
// none is usable. After each issuance Apply asks the CA for the renewal
// window (ARI) of the new certificate; RefreshRenewalInfo asks again when
// a recorded window is ARIRefreshInterval old, so Plan stays pure and
// reads windows from the state.

var (
	_ Issuer          = (*acme.Issuer)(nil)
	_ Revoker         = (*acme.Issuer)(nil)
	_ RenewalInformer = (*acme.Issuer)(nil)
)

// Revoker is an Issuer that can revoke what it issued (ACME). reason is an
// RFC 5280 reason code.
type Revoker interface {
	Revoke(ctx context.Context, leaf *x509.Certificate, reason uint) error
}

// RenewalInformer is an Issuer whose CA suggests when to renew (ACME ARI,
// RFC 9773). ok is false, with no error, when the CA has nothing to say.
type RenewalInformer interface {
	RenewalInfo(ctx context.Context, leaf *x509.Certificate) (start, end time.Time, ok bool, err error)
}

// revokeReason is cessationOfOperation (RFC 5280): the certificate is no
// longer needed, its key was not compromised.
const revokeReason = 5

// ARIRefreshInterval is how long a recorded renewal window is trusted
// before RefreshRenewalInfo asks the CA again (RFC 9773 asks for at least
// a daily check).
const ARIRefreshInterval = 6 * time.Hour

// errIssuerUnavailable is matched by the errors of an ACME issuer that
// could not be set up: CA unreachable, TLS trust (ca_bundle), account
// registration refused, a DNS provider that would not start. A
// certificate that needed it has failed an attempt and backs off.
var errIssuerUnavailable = errors.New("ACME issuer unavailable")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{errIssuerUnavailable, e.err} }

// ACMEConfig is the pki/acme configuration of an acme issuer. The order
// budget (rate_limit) is not passed on: reconcile keeps it from the state
// across runs (ratelimit.go), whereas the in-process bucket of pki/acme
// would start full with every command.
func ACMEConfig(is *spec.Issuer) acme.Config {
	a := is.ACME
	c := acme.Config{
		Directory: a.Directory, Email: a.Email, CABundle: a.CABundle, Profile: a.Profile,
		MaxConcurrency: a.MaxConcurrency, PollInterval: a.PollInterval, Timeout: a.Timeout,
	}
	if a.EAB != nil {
		c.EAB = &acme.EAB{KID: a.EAB.KID, HMACKey: a.EAB.HMACKey}
	}
	if h := a.HTTP01; h != nil {
		c.HTTP01 = &acme.HTTP01{Port: h.Port, Webroot: h.Webroot, Iface: h.Iface}
	}
	if d := a.DNS01; d != nil {
		c.DNS01 = &acme.DNS01{Provider: d.Provider, Config: maps.Clone(d.Config), Resolvers: slices.Clone(d.Resolvers), PropagationTimeout: d.PropagationTimeout}
	}
	return c
}

// ACMEPool builds the ACME issuers of one configuration on first use and
// keeps them for one command, so that a CA is contacted (directory,
// account) once however many certificates it signs. Safe for concurrent
// use.
type ACMEPool struct {
	cfg   *spec.Config
	store state.Store

	mu    sync.Mutex // guards slots
	slots map[string]*acmeSlot
}

type acmeSlot struct {
	once sync.Once
	iss  *acme.Issuer
	err  error
}

// NewACMEPool returns an empty pool for cfg; new accounts are recorded in
// store.
func NewACMEPool(cfg *spec.Config, store state.Store) *ACMEPool {
	return &ACMEPool{cfg: cfg, store: store, slots: make(map[string]*acmeSlot)}
}

func (p *ACMEPool) slot(name string) *acmeSlot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.slots[name]
	if s == nil {
		s = &acmeSlot{}
		p.slots[name] = s
	}
	return s
}

// set makes iss the pool's issuer for name (after an issuer change).
func (p *ACMEPool) set(name string, iss *acme.Issuer) {
	s := &acmeSlot{iss: iss}
	s.once.Do(func() {})
	p.mu.Lock()
	p.slots[name] = s
	p.mu.Unlock()
}

// Issuer returns the issuer for the acme issuer name, built on first use
// from rec, its stored account (nil when there is none). When rec is not
// usable for the configuration (no account yet, another directory or
// email), a new account is registered and recorded in the store, its key
// sealed, before Issuer returns. A failure is remembered for the life of
// the pool, and its error matches errIssuerUnavailable when the CA or the
// challenge setup was the cause.
func (p *ACMEPool) Issuer(ctx context.Context, name string, rec *state.Issuer, now time.Time) (*acme.Issuer, error) {
	s := p.slot(name)
	s.once.Do(func() { s.iss, s.err = p.build(ctx, name, rec, now) })
	return s.iss, s.err
}

func (p *ACMEPool) build(ctx context.Context, name string, rec *state.Issuer, now time.Time) (*acme.Issuer, error) {
	is := p.cfg.Issuers[name]
	if is == nil || is.Type != spec.IssuerTypeACME || is.ACME == nil {
		return nil, fmt.Errorf("%s is not an acme issuer of the configuration", IssuerAddress(name))
	}
	acct, err := storedAccount(p.store, rec)
	if err != nil {
		return nil, err
	}
	iss, got, err := acme.New(ctx, ACMEConfig(is), acct)
	if acct != nil {
		clear(acct.KeyPEM)
	}
	if err != nil {
		return nil, &unavailableError{fmt.Errorf("%s: %w", IssuerAddress(name), err)}
	}
	if got != acct {
		defer clear(got.KeyPEM)
		if err := putAccount(ctx, p.store, name, got, now); err != nil {
			return nil, err
		}
	}
	return iss, nil
}

// storedAccount unseals the ACME account recorded in rec; nil when rec
// holds none.
func storedAccount(store state.Store, rec *state.Issuer) (*acme.Account, error) {
	if rec == nil || rec.Type != spec.IssuerTypeACME || rec.AccountURI == "" || len(rec.KeySealed) == 0 {
		return nil, nil
	}
	keyPEM, err := store.Unseal(rec.KeySealed)
	if err != nil {
		return nil, fmt.Errorf("unsealing the account key of %s: %w", IssuerAddress(rec.Name), err)
	}
	return &acme.Account{Email: rec.Email, Directory: rec.Directory, KeyPEM: keyPEM, URI: rec.AccountURI, Registration: rec.Registration}, nil
}

// putAccount records acct as issuer name's account, its key sealed.
func putAccount(ctx context.Context, store state.Store, name string, acct *acme.Account, now time.Time) error {
	sealed, err := store.Seal(acct.KeyPEM)
	if err != nil {
		return fmt.Errorf("sealing the account key of %s: %w", IssuerAddress(name), err)
	}
	rec := &state.Issuer{
		Name: name, Type: spec.IssuerTypeACME, Digest: accountDigest(acct.Directory, acct.Email),
		KeySealed: sealed, CreatedAt: now,
		AccountURI: acct.URI, Email: acct.Email, Directory: acct.Directory, Registration: acct.Registration,
	}
	if err := store.PutIssuer(ctx, rec); err != nil {
		return fmt.Errorf("recording the account of %s: %w", IssuerAddress(name), err)
	}
	return nil
}

// accountDigest identifies what an ACME account was registered for.
func accountDigest(directory, email string) string {
	d := newDigester("certctl/acme-account/v1", 256)
	d.str(directory)
	d.str(email)
	return d.sum()
}

// acmeIssuerChange plans the account of an acme issuer (see the comment
// at the top of this file). Issuers without their settings (tests build
// them so, with a fake in Deps.Issuers) have no account to plan.
func (pl *planner) acmeIssuer(is *spec.Issuer) {
	if is.ACME == nil {
		return
	}
	a := is.ACME
	rec := pl.snap.Issuers[is.Name]
	ch := Change{Address: IssuerAddress(is.Name), Kind: KindIssuer, Name: is.Name}
	emailDiff := func(forces bool) AttrDiff {
		return AttrDiff{Attribute: "email", Before: quote(rec.Email), After: quote(a.Email), Forces: forces}
	}
	switch {
	case rec == nil || (rec.Type == spec.IssuerTypeACME && rec.AccountURI == ""):
		ch.Action = ActionCreate
		ch.Reason = "ACME account is not in the state: registered at " + a.Directory + " on apply"
	case rec.Type != spec.IssuerTypeACME:
		ch.Action = ActionReplace
		ch.Forces = []string{"type"}
		ch.Diffs = []AttrDiff{{Attribute: "type", Before: quote(rec.Type), After: quote(is.Type), Forces: true}}
		ch.Reason = "type changed: an ACME account is registered and every certificate the old issuer signed is replaced"
	case rec.Directory != a.Directory:
		ch.Action = ActionReplace
		ch.Forces = []string{"directory"}
		ch.Diffs = []AttrDiff{{Attribute: "directory", Before: quote(rec.Directory), After: quote(a.Directory), Forces: true}}
		if rec.Email != a.Email {
			ch.Diffs = append(ch.Diffs, emailDiff(false))
		}
		ch.Reason = "directory changed: a new ACME account is registered there and every certificate from the old CA is replaced"
	case rec.Email != a.Email:
		ch.Action = ActionUpdate
		ch.Diffs = []AttrDiff{emailDiff(false)}
		ch.Reason = "email changed: the ACME account's contact is updated (no new certificate)"
	default:
		return
	}
	if ch.Action == ActionReplace {
		// Another CA: what the old one issued is replaced, as for a new
		// local CA.
		if pl.newCA == nil {
			pl.newCA = make(map[string]bool)
		}
		pl.newCA[is.Name] = true
	}
	pl.p.Changes = append(pl.p.Changes, ch)
}

// removal turns the forget change of a certificate that left the
// configuration into a revoke when it was applied with on_remove =
// "revoke", its issuer is still configured and it has not expired: an
// ACME CA revokes it, a local CA publishes it in its CRL and OCSP.
// Otherwise the reason says why it is only forgotten.
func (pl *planner) removal(ch *Change, rec *state.Certificate) {
	if rec.OnRemove != "revoke" || rec.Fingerprint == "" {
		return
	}
	is := pl.cfg.Issuers[rec.Issuer]
	switch {
	case !pl.now.Before(rec.NotAfter):
		ch.Reason = "not in the configuration, and expired at " + ts(rec.NotAfter) + ": removed from the state (nothing to revoke)"
	case !rec.RevokedAt.IsZero():
		ch.Reason = "not in the configuration, and revoked at " + ts(rec.RevokedAt) + " already: removed from the state"
	case is == nil:
		ch.Reason = `not in the configuration (on_remove = "revoke"), but ` + IssuerAddress(rec.Issuer) + " is gone too: removed from the state, not revoked"
	case is.Type == spec.IssuerTypeExternal:
		ch.Reason = `not in the configuration (on_remove = "revoke"), but ` + IssuerAddress(rec.Issuer) + " is external and certctl cannot revoke at its CA: removed from the state, not revoked"
	case is.Type == spec.IssuerTypeLocalCA:
		ch.Action = ActionRevoke
		ch.RevocationReason = pki.RevocationReasonName(revokeReason)
		ch.Reason = `not in the configuration (on_remove = "revoke"): revoked in the CRL and OCSP of ` + IssuerAddress(rec.Issuer) + ", then removed from the state"
	default:
		ch.Action = ActionRevoke
		ch.RevocationReason = pki.RevocationReasonName(revokeReason)
		ch.Reason = `not in the configuration (on_remove = "revoke"): revoked at ` + IssuerAddress(rec.Issuer) + ", then removed from the state"
	}
}

// applyACMEIssuer carries out an acme issuer change: register an account
// (create, replace) or update its contact (update), and record it.
func (a *applier) applyACMEIssuer(ctx context.Context, ch Change, is *spec.Issuer) error {
	verb := map[Action]string{ActionCreate: "registering", ActionReplace: "replacing", ActionUpdate: "updating"}[ch.Action]
	if verb == "" || is.ACME == nil {
		return fmt.Errorf("%s: action %s is not supported for acme issuers", ch.Address, ch.Action)
	}
	wrap := func(err error) error { return fmt.Errorf("%s the ACME account of %s: %w", verb, ch.Address, err) }
	cfg := ACMEConfig(is)
	rec := a.snap.Issuers[ch.Name]
	// Check again: a second account would be harmless but a wasted
	// registration, and an update must start from the account it saw.
	usable := rec != nil && rec.Type == spec.IssuerTypeACME && rec.AccountURI != ""
	if (ch.Action == ActionCreate && usable) || (usable && rec.Directory == cfg.Directory && rec.Email == cfg.Email) ||
		(ch.Action == ActionUpdate && !usable) {
		return wrap(ErrStale)
	}
	now := a.deps.Now()
	if ch.Action == ActionUpdate {
		old, err := storedAccount(a.deps.Store, rec)
		if err != nil {
			return wrap(err)
		}
		defer clear(old.KeyPEM)
		withOld := cfg
		withOld.Email = old.Email // so that New reuses the account
		iss, _, err := acme.New(ctx, withOld, old)
		if err != nil {
			return wrap(&unavailableError{err})
		}
		updated, err := iss.UpdateContact(ctx, old, cfg.Email)
		if err != nil {
			return wrap(&unavailableError{err})
		}
		if err := putAccount(ctx, a.deps.Store, ch.Name, updated, now); err != nil {
			return wrap(err)
		}
		a.deps.ACME.set(ch.Name, iss)
		return nil
	}
	iss, acct, err := acme.New(ctx, cfg, nil)
	if err != nil {
		return wrap(&unavailableError{err})
	}
	defer clear(acct.KeyPEM)
	if err := putAccount(ctx, a.deps.Store, ch.Name, acct, now); err != nil {
		return wrap(err)
	}
	a.deps.ACME.set(ch.Name, iss)
	return nil
}

// acmeIssuer returns the ACME issuer name from the pool. When its issuer
// change failed in this apply, that failure is the answer.
func (a *applier) acmeIssuer(ctx context.Context, name string) (Issuer, error) {
	a.mu.Lock()
	failed := a.issuerErr[name]
	a.mu.Unlock()
	if failed != nil {
		err := fmt.Errorf("%s failed in this apply: %w", IssuerAddress(name), failed)
		if errors.Is(failed, errIssuerUnavailable) {
			return nil, err
		}
		return nil, errors.New(err.Error()) // not the CA's doing: no backoff
	}
	iss, err := a.deps.ACME.Issuer(ctx, name, a.snap.Issuers[name], a.deps.Now())
	if err != nil {
		return nil, err
	}
	return iss, nil
}

// fetchRenewalInfo asks iss for the renewal window of next's certificate
// and records it in next (the caller commits). It reports whether the CA
// gave one; a failure is left for RefreshRenewalInfo to retry.
func (a *applier) fetchRenewalInfo(ctx context.Context, iss Issuer, next *state.Certificate) bool {
	ri, ok := iss.(RenewalInformer)
	if !ok {
		return false
	}
	leaf, err := pki.ParseCertificatePEM(next.CertPEM)
	if err != nil {
		return false
	}
	start, end, has, err := ri.RenewalInfo(ctx, leaf)
	if err != nil || !has {
		return false
	}
	next.RenewalWindowStart, next.RenewalWindowEnd, next.ARICheckedAt = start, end, a.deps.Now()
	return true
}

// failureBackoff is the wait before the next attempt after failures
// failed ones: the issuer's backoff, or longer when the CA rate-limited
// the order and said for how long.
func (a *applier) failureBackoff(c *spec.Certificate, failures int, cause error) time.Duration {
	wait := IssuerBackoff(a.cfg.Issuers[c.Issuer], failures)
	if rl, ok := errors.AsType[*acme.RateLimitError](cause); ok && rl.RetryAfter > wait {
		wait = rl.RetryAfter
	}
	return wait
}

// revoke carries out a revoke change. An ACME issuer (or any Revoker)
// revokes rec's certificate at the CA; a local CA has nothing to ask, as
// the state is what its CRL and OCSP publish. Then the revocation is
// recorded with the event that announces it (state.DB.Revoke): a
// certificate that left the configuration is removed from the state, a
// declared one (certctl revoke) is kept, marked revoked, and returned as
// next, so the next plan replaces it. The event's error comes apart: the
// revocation stands even when the event could not be recorded. On
// failure the record stays as it was, so the next plan revokes again.
func (a *applier) revoke(ctx context.Context, ch Change, rec *state.Certificate) (next *state.Certificate, evErr, err error) {
	if rec == nil {
		return nil, nil, nil // already gone
	}
	wrap := func(err error) error { return fmt.Errorf("revoking %s: %w", ch.Address, err) }
	reasonName := cmp.Or(ch.RevocationReason, pki.RevocationReasonName(revokeReason))
	reason, err := pki.ParseRevocationReason(reasonName)
	if err != nil {
		return rec, nil, wrap(err)
	}
	is := a.cfg.Issuers[rec.Issuer]
	_, override := a.deps.Issuers[rec.Issuer]
	local := is != nil && is.Type == spec.IssuerTypeLocalCA && !override
	where := "at " + IssuerAddress(rec.Issuer)
	if local {
		where = "in the CRL and OCSP of " + IssuerAddress(rec.Issuer)
	} else {
		iss, err := a.issuer(ctx, rec.Issuer)
		if err != nil {
			return rec, nil, wrap(err)
		}
		rv, ok := iss.(Revoker)
		if !ok {
			return rec, nil, wrap(fmt.Errorf("%s cannot revoke certificates", IssuerAddress(rec.Issuer)))
		}
		leaf, err := pki.ParseCertificatePEM(rec.CertPEM)
		if err != nil {
			return rec, nil, wrap(fmt.Errorf("the recorded certificate: %w", err))
		}
		if err := rv.Revoke(ctx, leaf, uint(reason)); err != nil {
			return rec, nil, wrap(err)
		}
	}
	now := a.deps.Now()
	keep := a.cfg.Certificates[ch.Name] != nil
	why := "it left the configuration"
	if keep {
		why = "the next apply issues a new certificate"
		next = cloneRecord(rec)
		next.RevokedAt, next.RevokedReason, next.UpdatedAt = now, reason, now
	}
	msg := fmt.Sprintf("revoked serial %s %s (%s): %s", rec.Serial, where, reasonName, why)
	rows, buildErr := a.eventRows(ch.Name, rec, notify.EventRevoked, 0, msg, nil)
	rev := &state.Revocation{Issuer: rec.Issuer, Serial: rec.Serial, Name: ch.Name, RevokedAt: now, Reason: reason, NotAfter: rec.NotAfter}
	if _, ok := a.deps.Store.(revocationStore); !ok && !local && !keep {
		// A store without revocation records: the CA publishes the
		// revocation, the record only has to go.
		err, evErr = a.remove(ctx, ch.Name, rows)
	} else {
		err, evErr = a.recordRevocation(ctx, rev, next, rows)
	}
	if err != nil {
		if local {
			return rec, nil, wrap(err)
		}
		return rec, nil, wrap(fmt.Errorf("revoked at the CA, but recording it in the state: %w", err))
	}
	return next, errors.Join(buildErr, evErr), nil
}

// revocationStore is a store that records a revocation, the certificate
// it concerns and the rows of its event in one transaction
// (state.DB.Revoke).
type revocationStore interface {
	Revoke(ctx context.Context, rev *state.Revocation, rec *state.Certificate, rows ...*state.Notification) error
}

// recordRevocation writes rev with next (nil: the record is removed) and
// rows, in one transaction when the store is also the queue, as commit
// writes a certificate.
func (a *applier) recordRevocation(ctx context.Context, rev *state.Revocation, next *state.Certificate, rows []*state.Notification) (err, evErr error) {
	s, ok := a.deps.Store.(revocationStore)
	if !ok {
		return fmt.Errorf("the state store cannot record revocations"), nil
	}
	if q, _ := a.deps.Notifications.(revocationStore); len(rows) > 0 && q == s {
		return s.Revoke(ctx, rev, next, rows...), nil
	}
	if err := s.Revoke(ctx, rev, next); err != nil {
		return err, nil
	}
	return nil, a.enqueue(ctx, rows)
}

// certDeleteWithEvents is a store that removes a certificate record and
// writes the rows of the event that reports it in one transaction.
type certDeleteWithEvents interface {
	DeleteCertificateWithNotifications(ctx context.Context, name string, rows ...*state.Notification) error
}

// remove deletes the record of name with rows, as commit writes one.
func (a *applier) remove(ctx context.Context, name string, rows []*state.Notification) (err, evErr error) {
	if len(rows) > 0 {
		s, ok := a.deps.Store.(certDeleteWithEvents)
		if q, _ := a.deps.Notifications.(certDeleteWithEvents); ok && s == q {
			return s.DeleteCertificateWithNotifications(ctx, name, rows...), nil
		}
	}
	if err := a.deps.Store.DeleteCertificate(ctx, name); err != nil {
		return err, nil
	}
	return nil, a.enqueue(ctx, rows)
}

// RefreshRenewalInfo asks the CA of every ACME certificate in cfg whose
// renewal window was last checked ARIRefreshInterval ago or more (or
// never) for its current window, and records the answers in deps.Store.
// It is the network half of ARI, kept out of Plan: call it before
// planning (certctl apply does; certctl plan, which only reads the state,
// uses the windows recorded). It returns how many records it wrote: when
// that is not 0, read the snapshot again before planning. An issuer that
// cannot be set up, or a certificate whose window cannot be read, is
// skipped and its error joined; the rest go on. Issuers come from
// deps.Issuers, else deps.ACME (a new pool when nil); only issuers with a
// recorded account are contacted.
func RefreshRenewalInfo(ctx context.Context, cfg *spec.Config, snap *state.Snapshot, deps Deps) (int, error) {
	if snap == nil || deps.Store == nil {
		return 0, nil
	}
	now := time.Now
	if deps.Now != nil {
		now = deps.Now
	}
	pool := deps.ACME
	if pool == nil {
		pool = NewACMEPool(cfg, deps.Store)
	}
	t := now()
	due := map[string][]string{} // issuer → certificate names
	for name, c := range cfg.Certificates {
		is := cfg.Issuers[c.Issuer]
		rec := snap.Certificates[name]
		if is == nil || is.Type != spec.IssuerTypeACME || rec == nil || rec.Fingerprint == "" || rec.Issuer != c.Issuer ||
			!t.Before(rec.NotAfter) || t.Sub(rec.ARICheckedAt) < ARIRefreshInterval {
			continue
		}
		due[c.Issuer] = append(due[c.Issuer], name)
	}
	var (
		mu    sync.Mutex
		errs  []error
		wrote int
	)
	for _, iname := range slices.Sorted(maps.Keys(due)) {
		var iss Issuer
		if fake, ok := deps.Issuers[iname]; ok {
			iss = fake
		} else {
			is, irec := cfg.Issuers[iname], snap.Issuers[iname]
			if is.ACME == nil || irec == nil || irec.AccountURI == "" || irec.Directory != is.ACME.Directory || irec.Email != is.ACME.Email {
				continue // no usable account: nothing it issued is current
			}
			ai, err := pool.Issuer(ctx, iname, irec, t)
			if err != nil {
				errs = append(errs, fmt.Errorf("renewal info from %s: %w", IssuerAddress(iname), err))
				continue
			}
			iss = ai
		}
		ri, ok := iss.(RenewalInformer)
		if !ok {
			continue
		}
		names := due[iname]
		slices.Sort(names)
		work := make(chan string)
		var wg sync.WaitGroup
		var failed int
		for range min(8, len(names)) {
			wg.Go(func() {
				for name := range work {
					rec := snap.Certificates[name]
					err := refreshOne(ctx, deps.Store, ri, rec, now)
					mu.Lock()
					switch {
					case errors.Is(err, errNothingNew):
					case err != nil:
						// One error per issuer says enough; the count says the rest.
						if failed++; failed == 1 {
							errs = append(errs, err)
						}
					default:
						wrote++
					}
					mu.Unlock()
				}
			})
		}
		for _, n := range names {
			work <- n
		}
		close(work)
		wg.Wait()
		if failed > 1 {
			errs = append(errs, fmt.Errorf("renewal info from %s: %d more certificates failed", IssuerAddress(iname), failed-1))
		}
	}
	return wrote, errors.Join(errs...)
}

var errNothingNew = errors.New("no renewal window")

// refreshOne asks for rec's window and records it.
func refreshOne(ctx context.Context, store state.Store, ri RenewalInformer, rec *state.Certificate, now func() time.Time) error {
	leaf, err := pki.ParseCertificatePEM(rec.CertPEM)
	if err != nil {
		return fmt.Errorf("renewal info of %s: %w", CertAddress(rec.Name), err)
	}
	start, end, ok, err := ri.RenewalInfo(ctx, leaf)
	if err != nil {
		return fmt.Errorf("renewal info of %s: %w", CertAddress(rec.Name), err)
	}
	if !ok {
		return errNothingNew // the CA has no ARI: the policy's window applies
	}
	next := cloneRecord(rec)
	next.RenewalWindowStart, next.RenewalWindowEnd, next.ARICheckedAt = start, end, now()
	if err := store.PutCertificate(ctx, next); err != nil {
		return fmt.Errorf("recording the renewal window of %s: %w", CertAddress(rec.Name), err)
	}
	return nil
}

// maskIssuers hides the sensitive values of acme issuers from
// ConfigDigest, as maskNotifier does for notifiers.
func maskIssuers(in map[string]*spec.Issuer) map[string]*spec.Issuer {
	var out map[string]*spec.Issuer
	for name, is := range in {
		if is == nil || is.ACME == nil || len(is.ACME.Sensitive) == 0 {
			continue
		}
		if out == nil {
			out = maps.Clone(in)
		}
		m, a := *is, *is.ACME
		const hidden = "(sensitive)"
		if a.Sensitive["ca_bundle"] {
			a.CABundle = []byte(hidden)
		}
		if a.EAB != nil && (a.Sensitive["eab.kid"] || a.Sensitive["eab.hmac_key"]) {
			e := *a.EAB
			if a.Sensitive["eab.kid"] {
				e.KID = hidden
			}
			if a.Sensitive["eab.hmac_key"] {
				e.HMACKey = hidden
			}
			a.EAB = &e
		}
		if a.DNS01 != nil && a.Sensitive["dns01.config"] {
			d := *a.DNS01
			d.Config = map[string]string{hidden: hidden}
			a.DNS01 = &d
		}
		m.ACME = &a
		out[name] = &m
	}
	if out == nil {
		return in
	}
	return out
}
