package reconcile

import (
	"fmt"
	"sync"

	"github.com/certctl/certctl/pki/stepca"
	"github.com/certctl/certctl/spec"
)

// step-ca issuers in plan and apply.
//
// An `issuer "step_ca"` has nothing in the state: the CA keeps its own
// records, and its provisioner key comes from the configuration on every
// run. Plan therefore has no issuer change for it; its certificates are
// created, renewed and replaced like those of any issuer, and revoked at
// the CA (a Revoker) with on_remove = "revoke" or certctl revoke. Apply
// builds each one once (stepCAIssuers), when a certificate first needs
// it: a wrong password fails those certificates without a backoff (the
// fix is in the configuration), while a CA that does not answer or
// refuses is a failed attempt, backed off like an ACME order.

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
