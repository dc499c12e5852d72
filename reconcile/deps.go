package reconcile

import (
	"context"

	"github.com/certctl/certctl/pki"
)

// Issuer signs certificate requests. pki.LocalCA and pki/acme satisfy it.
type Issuer interface {
	Issue(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error)
}

// keyIssuer is an Issuer that also signs a public key for a subject with
// no CSR (pki.LocalCA): Apply uses it for the keys it generates itself,
// which have no possession to prove. Issuers that need a CSR (ACME) and
// keys generated elsewhere (agents) go through Issue.
type keyIssuer interface {
	IssueForKey(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error)
}

var _ keyIssuer = (*pki.LocalCA)(nil)
