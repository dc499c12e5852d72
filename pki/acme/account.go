package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/registration"

	"github.com/certctl/certctl/pki"
)

// Account is an ACME account as the caller stores it. KeyPEM is the
// account's private key (PKCS #8 PEM): secret, to be sealed in state and
// never logged. String and GoString leave it out.
type Account struct {
	Email     string
	Directory string
	KeyPEM    []byte
	// URI is the account URL (the JWS "kid").
	URI string
	// Registration is the account object as the CA returned it.
	Registration json.RawMessage
}

// String names the account without its key.
func (a Account) String() string {
	return fmt.Sprintf("acme account %s (%s) at %s", a.URI, a.Email, a.Directory)
}

// GoString is String, so that %#v does not print the key either.
func (a Account) GoString() string { return a.String() }

// reusable reports whether acct can be used for cfg: same directory and
// email, a parsable key and a known account URL.
func reusable(acct *Account, cfg *Config) (crypto.Signer, bool) {
	if acct == nil || acct.Directory != cfg.Directory || acct.Email != cfg.Email || acct.URI == "" {
		return nil, false
	}
	key, err := pki.ParsePrivateKeyPEM(acct.KeyPEM)
	if err != nil {
		return nil, false
	}
	return key, true
}

// user is lego's view of an account.
type user struct {
	email string
	key   crypto.Signer
	reg   *legoacme.ExtendedAccount
}

func (u *user) GetEmail() string                           { return u.email }
func (u *user) GetRegistration() *legoacme.ExtendedAccount { return u.reg }
func (u *user) GetPrivateKey() crypto.Signer               { return u.key }

func newAccountKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// register creates the account on the CA with core (built on key) and
// returns it as the caller stores it. Configuring an ACME issuer is taken
// as agreeing to the CA's terms of service.
func register(ctx context.Context, core *api.Core, cfg *Config, key crypto.Signer) (*Account, error) {
	meta := core.GetDirectory().Meta
	if meta.ExternalAccountRequired && cfg.EAB == nil {
		return nil, errors.New("the CA requires an external account binding: add an eab block")
	}
	u := &user{email: cfg.Email, key: key}
	r := registration.NewRegistrar(core, u)
	var (
		reg *legoacme.ExtendedAccount
		err error
	)
	if cfg.EAB != nil {
		reg, err = r.RegisterWithExternalAccountBinding(ctx, registration.RegisterEABOptions{
			TermsOfServiceAgreed: true,
			Kid:                  cfg.EAB.KID,
			HmacEncoded:          cfg.EAB.HMACKey,
		})
	} else {
		reg, err = r.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
	}
	if err != nil {
		return nil, fmt.Errorf("registering account: %w", err)
	}
	if reg.Location == "" {
		return nil, errors.New("registering account: the CA returned no account URL")
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(reg.Account)
	if err != nil {
		return nil, fmt.Errorf("encoding registration: %w", err)
	}
	return &Account{
		Email:        cfg.Email,
		Directory:    cfg.Directory,
		KeyPEM:       keyPEM,
		URI:          reg.Location,
		Registration: raw,
	}, nil
}
