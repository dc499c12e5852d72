package reconcile

import (
	"context"

	"github.com/certctl/certctl/pki"
)

// Issuer signs certificate requests. pki.LocalCA and pki/acme satisfy it.
type Issuer interface {
	Issue(ctx context.Context, req pki.IssueRequest) (*pki.Issued, error)
}
