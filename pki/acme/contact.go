package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/registration"

	"github.com/certctl/certctl/pki"
)

// UpdateContact sets the contact of acct to email ("" for none) at the CA
// and returns the account as the caller now stores it (same key and URL).
// acct must be the account this issuer was built with: build the issuer
// with the account's current email, so that New reuses it, then call this
// with the new one. The account key never appears in an error.
func (i *Issuer) UpdateContact(ctx context.Context, acct *Account, email string) (*Account, error) {
	if acct == nil || acct.URI == "" {
		return nil, errors.New("acme: update contact: no registered account")
	}
	key, err := pki.ParsePrivateKeyPEM(acct.KeyPEM)
	if err != nil {
		return nil, errors.New("acme: update contact: the account key does not parse")
	}
	u := &user{email: email, key: key, reg: &legoacme.ExtendedAccount{Location: acct.URI}}
	reg, err := registration.NewRegistrar(i.core, u).UpdateRegistration(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return nil, fmt.Errorf("acme: updating the contact of %s: %w", acct.URI, i.explainOrderError(err))
	}
	raw, err := json.Marshal(reg.Account)
	if err != nil {
		return nil, fmt.Errorf("acme: encoding registration: %w", err)
	}
	return &Account{Email: email, Directory: acct.Directory, KeyPEM: acct.KeyPEM, URI: acct.URI, Registration: raw}, nil
}
