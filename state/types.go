package state

import (
	"context"
	"time"
)

// Certificate statuses.
const (
	StatusIssued  = "issued"  // a current certificate exists
	StatusFailed  = "failed"  // the last attempt failed (a current certificate may still exist)
	StatusPending = "pending" // recorded intent, nothing issued yet
)

// Certificate is the record of one certificate instance, keyed by its name.
// CertPEM/ChainPEM/KeySealed describe the current version; History keeps
// bounded summaries of earlier ones.
type Certificate struct {
	Name string `json:"name"`
	// Digest is the spec digest the current certificate was issued from.
	Digest string `json:"digest"`

	Serial      string    `json:"serial"` // hex
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"` // SHA-256 of the DER, hex
	Issuer      string    `json:"issuer"`      // issuer name in the config

	// What the current certificate was issued with; Plan names the
	// attribute that forces a replacement by comparing these.
	CommonName     string   `json:"common_name"`
	DNSNames       []string `json:"dns_names,omitempty"`
	IPAddresses    []string `json:"ip_addresses,omitempty"`
	EmailAddresses []string `json:"email_addresses,omitempty"`
	KeyAlgorithm   string   `json:"key_algorithm"`
	Usages         []string `json:"usages,omitempty"`

	// Metadata: changes here are updates, never a new certificate.
	Owner  string            `json:"owner"`
	Team   string            `json:"team"`
	Labels map[string]string `json:"labels,omitempty"`

	CertPEM  []byte `json:"cert_pem,omitempty"`
	ChainPEM []byte `json:"chain_pem,omitempty"`
	// KeySealed is the private key PEM sealed with the store's key
	// (AES-256-GCM). It is never stored or returned in clear.
	KeySealed []byte `json:"key_sealed,omitempty"`

	Status    string    `json:"status"`
	LastError string    `json:"last_error,omitempty"`
	FailedAt  time.Time `json:"failed_at,omitzero"`
	// Failures counts consecutive failed attempts since the last success.
	Failures      int       `json:"failures,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`

	IssuedAt  time.Time `json:"issued_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	History []Version `json:"history,omitempty"`

	// Deployments is keyed by target name.
	Deployments map[string]Deployment `json:"deployments,omitempty"`
}

// MaxHistory bounds Certificate.History.
const MaxHistory = 10

// Version summarises an earlier certificate version.
type Version struct {
	Serial       string    `json:"serial"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	Fingerprint  string    `json:"fingerprint"`
	Digest       string    `json:"digest"`
	SupersededAt time.Time `json:"superseded_at"`
	Reason       string    `json:"reason"` // "renew", "replace"
}

// Deployment is what a target last received for a certificate.
type Deployment struct {
	Fingerprint string    `json:"fingerprint"`  // certificate deployed
	FilesDigest string    `json:"files_digest"` // SHA-256 over the files written
	DeployedAt  time.Time `json:"deployed_at"`
	LastError   string    `json:"last_error,omitempty"`
}

// Issuer is the record of an issuer's own material (a local CA's root).
type Issuer struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Digest    string    `json:"digest"` // spec digest it was created from
	CertPEM   []byte    `json:"cert_pem,omitempty"`
	KeySealed []byte    `json:"key_sealed,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Snapshot is a consistent read of the whole store. It is a copy: callers
// may keep and modify it.
type Snapshot struct {
	// Lineage is a random ID fixed when the state was created; Serial
	// increases with every write transaction that changes certificates or
	// issuers (notification rows do not count). A saved plan records both.
	Lineage      string
	Serial       uint64
	Certificates map[string]*Certificate
	Issuers      map[string]*Issuer

	// NotificationCounts counts notification rows by status, every status
	// present (see NotifyStatuses). DeadNotifications are the dead rows,
	// oldest first, for the plan's section on rows that need an operator.
	NotificationCounts map[string]int
	DeadNotifications  []*Notification
}

// Store is the state backend. Implementations are safe for concurrent use.
type Store interface {
	// Snapshot reads everything in one consistent view.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// PutCertificate writes rec durably before returning. Concurrent calls
	// are grouped into one transaction (one fsync for the group).
	PutCertificate(ctx context.Context, rec *Certificate) error
	DeleteCertificate(ctx context.Context, name string) error
	PutIssuer(ctx context.Context, rec *Issuer) error
	// Seal encrypts a private key for a record; Unseal reverses it.
	Seal(plaintext []byte) ([]byte, error)
	Unseal(sealed []byte) ([]byte, error)
	Close() error
}
