package pki

import (
	"crypto"
	"crypto/x509"
	"time"
)

// IssueRequest asks an issuer to sign a CSR, or (LocalCA.IssueForKey) a
// public key for a subject. The private key stays with the caller: issuers
// never see private keys of leaves.
type IssueRequest struct {
	// Name is the certificate's name in the config, for errors and logs.
	Name string
	CSR  *x509.CertificateRequest
	// PublicKey and Subject are what LocalCA.IssueForKey signs, in place
	// of a CSR; Issue ignores them.
	PublicKey crypto.PublicKey
	Subject   CSRSubject
	// Usages are the policy's extended key usages: "server_auth",
	// "client_auth", "email_protection".
	Usages []string
	// Validity is the requested lifetime. An issuer may cap it (ACME CAs
	// pick their own); the issued certificate is authoritative.
	Validity time.Duration
	// Now is the issuance time used for NotBefore by issuers that choose it.
	Now time.Time
	// Replaces is the certificate being renewed or replaced, nil for a new
	// one (ACME uses it for ARI's "replaces").
	Replaces *x509.Certificate
}

// Issued is a signed certificate with its chain.
type Issued struct {
	Leaf     *x509.Certificate
	CertPEM  []byte // the leaf only
	ChainPEM []byte // issuers, leaf's issuer first; may be empty
}
