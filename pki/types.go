package pki

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"math/big"
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
	// Leaf is the parsed leaf. LocalCA.IssueForKey leaves it nil: parsing
	// back what it has just built would add a sixth to the CPU time of an
	// ecdsa-p256 issuance, and a record needs only Summary. Parse CertPEM
	// where the whole certificate is needed.
	Leaf     *x509.Certificate
	CertPEM  []byte // the leaf only
	ChainPEM []byte // issuers, leaf's issuer first; may be empty

	// What IssueForKey signed, for Summary when Leaf is nil.
	der                 []byte
	serial              *big.Int
	notBefore, notAfter time.Time
}

// LeafSummary is what the state records of an issued leaf.
type LeafSummary struct {
	Serial              string // as SerialHex prints it
	NotBefore, NotAfter time.Time
	Fingerprint         string // as Fingerprint prints it
}

// Summary returns the leaf's serial, validity and fingerprint: from Leaf
// if it is set, else from what IssueForKey signed (equal to what parsing
// gives; a test holds them to it), else from parsing CertPEM, as for an
// Issued built by hand. It is zero if there is no leaf to read.
func (i *Issued) Summary() LeafSummary {
	leaf := i.Leaf
	if leaf == nil && i.der == nil {
		leaf, _ = ParseCertificatePEM(i.CertPEM)
	}
	if leaf != nil {
		return LeafSummary{Serial: SerialHex(leaf), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Fingerprint: Fingerprint(leaf)}
	}
	if i.der == nil {
		return LeafSummary{}
	}
	sum := sha256.Sum256(i.der)
	return LeafSummary{Serial: SerialHexOf(i.serial), NotBefore: i.notBefore, NotAfter: i.notAfter, Fingerprint: hex.EncodeToString(sum[:])}
}
