package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/stepca"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// step-ca issuers in plan and apply.
//
// The state records which root a step_ca issuer trusts (a state.Issuer
// with the root's fingerprint as its digest and the root as CertPEM); the
// provisioner key comes from the configuration on every run and is never
// stored. Plan shows the first record as "+ issuer.X" (written on apply,
// without asking the CA), and another root, or another type under the
// name, as "-/+ issuer.X": another CA, so every certificate the old one
// issued is replaced, as for a new local CA or ACME directory. A changed
// URL with the same root is the same CA moved: nothing to do. The
// certificates are created, renewed and replaced like those of any
// issuer, and revoked at the CA (a Revoker) with on_remove = "revoke" or
// certctl revoke. Apply builds each issuer once (stepCAIssuers), when a
// certificate first needs it: a wrong password fails those certificates
// without a backoff (the fix is in the configuration), while a CA that
// does not answer or refuses is a failed attempt, backed off like an ACME
// order.

var (
	_ Issuer  = (*stepca.Issuer)(nil)
	_ Revoker = (*stepca.Issuer)(nil)
)

// StepCAConfig is the pki/stepca configuration of a step_ca issuer.
func StepCAConfig(is *spec.Issuer) stepca.Config {
	s := is.StepCA
	c := stepca.Config{URL: s.URL, RootPEM: s.RootPEM, Provisioner: s.Provisioner, ProvisionerKey: []byte(s.ProvisionerKey)}
	if s.ProvisionerPassword != "" {
		c.Password = []byte(s.ProvisionerPassword)
	}
	return c
}

// stepCAIssuers builds the step-ca issuers of one apply on first use and
// keeps them, so that a provisioner key is decrypted (PBKDF2, hundreds of
// thousands of rounds) once however many certificates it signs. The zero
// value is ready; safe for concurrent use.
type stepCAIssuers struct {
	mu    sync.Mutex // guards slots
	slots map[string]*stepCASlot
}

type stepCASlot struct {
	once sync.Once
	iss  *stepca.Issuer
	err  error
}

// get returns the issuer of is, built on first use. A failure is
// remembered for the life of s; its error names the issuer and never the
// key or the password.
func (s *stepCAIssuers) get(is *spec.Issuer) (*stepca.Issuer, error) {
	s.mu.Lock()
	if s.slots == nil {
		s.slots = make(map[string]*stepCASlot)
	}
	slot := s.slots[is.Name]
	if slot == nil {
		slot = &stepCASlot{}
		s.slots[is.Name] = slot
	}
	s.mu.Unlock()
	slot.once.Do(func() {
		slot.iss, slot.err = stepca.New(StepCAConfig(is))
		if slot.err != nil {
			slot.err = fmt.Errorf("%s: %w", IssuerAddress(is.Name), slot.err)
		}
	})
	return slot.iss, slot.err
}

// maskStepCA returns a copy of a step_ca issuer without its secrets, for
// ConfigDigest: the provisioner key and password always, the root when it
// came from env() or file(). nil for any other issuer.
func maskStepCA(is *spec.Issuer) *spec.Issuer {
	if is == nil || is.StepCA == nil {
		return nil
	}
	m, s := *is, *is.StepCA
	const hidden = "(sensitive)"
	s.ProvisionerKey, s.ProvisionerPassword = hidden, hidden
	if s.Sensitive["root"] {
		s.RootPEM = []byte(hidden)
	}
	m.StepCA = &s
	return &m
}

// StepCADigest identifies the CA a step_ca issuer trusts: the SHA-256
// fingerprint of its (first) root; "" when the root does not parse. A
// change of it replaces every certificate the issuer signed.
func StepCADigest(s *spec.StepCAIssuer) string {
	root, err := pki.ParseCertificatePEM(s.RootPEM)
	if err != nil {
		return ""
	}
	return pki.Fingerprint(root)
}

// stepCAIssuer plans the record of a step_ca issuer (see the comment at
// the top of this file).
func (pl *planner) stepCAIssuer(is *spec.Issuer) {
	s := is.StepCA
	if s == nil {
		return
	}
	rec := pl.snap.Issuers[is.Name]
	digest := StepCADigest(s)
	ch := Change{Address: IssuerAddress(is.Name), Kind: KindIssuer, Name: is.Name}
	switch {
	case rec == nil:
		ch.Action = ActionCreate
		ch.Reason = "step-ca root is not in the state: recorded on apply"
	case rec.Type != spec.IssuerTypeStepCA:
		ch.Action = ActionReplace
		ch.Forces = []string{"type"}
		ch.Diffs = []AttrDiff{{Attribute: "type", Before: quote(rec.Type), After: quote(is.Type), Forces: true}}
		ch.Reason = "type changed: the step-ca is recorded and every certificate the old issuer signed is replaced"
	case rec.Digest != digest:
		ch.Action = ActionReplace
		ch.Forces = []string{"root"}
		before, after := "sha256:"+rec.Digest, "sha256:"+digest
		if s.Sensitive["root"] {
			before, after = "(sensitive)", "(sensitive)"
		}
		ch.Diffs = []AttrDiff{{Attribute: "root", Before: before, After: after, Forces: true}}
		ch.Reason = "root changed: another CA, so every certificate from the old one is replaced"
	default:
		return
	}
	if ch.Action == ActionReplace {
		pl.markNewCA(is.Name)
	}
	pl.p.Changes = append(pl.p.Changes, ch)
}

// applyStepCAIssuer records the root of a step_ca issuer (create,
// replace). The CA is not contacted.
func (a *applier) applyStepCAIssuer(ctx context.Context, ch Change, is *spec.Issuer) error {
	verb := map[Action]string{ActionCreate: "recording", ActionReplace: "replacing"}[ch.Action]
	if verb == "" || is.StepCA == nil {
		return fmt.Errorf("%s: action %s is not supported for step_ca issuers", ch.Address, ch.Action)
	}
	wrap := func(err error) error { return fmt.Errorf("%s the step-ca root of %s: %w", verb, ch.Address, err) }
	digest := StepCADigest(is.StepCA)
	// Check again: replacing twice would replace the certificates the
	// new CA just issued.
	if rec := a.snap.Issuers[ch.Name]; (rec != nil && ch.Action == ActionCreate) ||
		(rec != nil && rec.Type == spec.IssuerTypeStepCA && rec.Digest == digest) {
		return wrap(ErrStale)
	}
	rec := &state.Issuer{Name: is.Name, Type: is.Type, Digest: digest, CertPEM: is.StepCA.RootPEM, CreatedAt: a.deps.Now()}
	if err := a.deps.Store.PutIssuer(ctx, rec); err != nil {
		return wrap(err)
	}
	return nil
}

// stepCAIssuer returns the issuer of the step_ca is. When its record
// failed in this apply, that failure is the answer: a certificate signed
// now would be replaced again by the next plan.
func (a *applier) stepCAIssuer(is *spec.Issuer) (Issuer, error) {
	a.mu.Lock()
	failed := a.issuerErr[is.Name]
	a.mu.Unlock()
	if failed != nil {
		return nil, errors.New(IssuerAddress(is.Name) + " failed in this apply: " + failed.Error())
	}
	iss, err := a.stepCA.get(is)
	if err != nil {
		return nil, err
	}
	return iss, nil
}
