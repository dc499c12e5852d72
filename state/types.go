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
	// IssuerURL, OCSPURL and CRLURL are the publication URLs a local CA
	// wrote into the current certificate: "" for none, and always for an
	// ACME certificate. The upgrade to schema 3 read them from the
	// certificates of older states.
	IssuerURL string `json:"issuer_url,omitempty"`
	OCSPURL   string `json:"ocsp_url,omitempty"`
	CRLURL    string `json:"crl_url,omitempty"`
	// NoSubjectCommonName is set when the subject was left empty (policy
	// subject_common_name = false), the common name being a SAN only.
	NoSubjectCommonName bool `json:"no_subject_common_name,omitempty"`

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
	// Revision is the configuration revision (a commit SHA) whose apply
	// last wrote this record, and RevisionAuthor that commit's author;
	// empty when the apply had none (a plain directory).
	Revision       string `json:"revision,omitempty"`
	RevisionAuthor string `json:"revision_author,omitempty"`

	// OnRemove is the certificate's on_remove when last applied ("" is
	// "forget"): the plan reads it once the certificate has left the
	// configuration.
	OnRemove string `json:"on_remove,omitempty"`
	// RenewalWindowStart and RenewalWindowEnd are the renewal window the
	// CA suggested for the current certificate (ACME ARI, RFC 9773), zero
	// when it offers none; ARICheckedAt is when it was last asked. Apply
	// clears them whenever it records a new certificate.
	RenewalWindowStart time.Time `json:"renewal_window_start,omitzero"`
	RenewalWindowEnd   time.Time `json:"renewal_window_end,omitzero"`
	ARICheckedAt       time.Time `json:"ari_checked_at,omitzero"`

	// RevokedAt and RevokedReason (an RFC 5280 code) say that the
	// current certificate was revoked while still declared (certctl
	// revoke): the plan replaces it. Apply clears them whenever it
	// records a new certificate.
	RevokedAt     time.Time `json:"revoked_at,omitzero"`
	RevokedReason int       `json:"revoked_reason,omitempty"`

	History []Version `json:"history,omitempty"`

	// Deployments is keyed by target name.
	Deployments map[string]Deployment `json:"deployments,omitempty"`

	// KeyAgent names the agent that holds the current certificate's
	// private key (it sent the CSR); "" when the key is KeySealed here.
	KeyAgent string `json:"key_agent,omitempty"`
	// CSR is a signing request an agent submitted for the certificate's
	// next version, waiting for an apply to sign it; nil when none is.
	CSR *PendingCSR `json:"csr,omitempty"`
	// RenewRequestedAt is when `certctl renew` asked for a new version of
	// a certificate whose key an agent holds: the plan renews it (asking
	// the agent for a CSR) while it is not before IssuedAt; a new version
	// clears it.
	RenewRequestedAt time.Time `json:"renew_requested_at,omitzero"`

	// Notified remembers the expiry notices already raised for a
	// certificate version, so that each is raised once. It counts only
	// while its Fingerprint is the record's: a new version starts afresh.
	Notified *Notified `json:"notified,omitempty"`

	// blobsOmitted: read without CertPEM, ChainPEM and KeySealed (see
	// BlobsOmitted). A struct copy keeps it, as it should: the copy lacks
	// them too.
	blobsOmitted bool
}

// BlobsOmitted reports whether c was read without its CertPEM, ChainPEM
// and KeySealed (DB.Summary) or made by WithoutBlobs: they are empty here
// but may be stored. PutCertificate keeps the stored ones for such a
// record unless it is given new ones.
func (c *Certificate) BlobsOmitted() bool { return c != nil && c.blobsOmitted }

// WithoutBlobs returns a shallow copy of c without CertPEM, ChainPEM and
// KeySealed, marked BlobsOmitted: writing it updates the record's other
// fields and keeps the stored blobs, which must be those of c.Fingerprint.
func (c *Certificate) WithoutBlobs() *Certificate {
	if c == nil {
		return nil
	}
	cc := *c
	cc.CertPEM, cc.ChainPEM, cc.KeySealed = nil, nil, nil
	cc.blobsOmitted = true
	return &cc
}

// PendingCSR is a certificate signing request an agent submitted. It
// holds no secret: the key it certifies stays on the agent's host.
type PendingCSR struct {
	PEM   []byte `json:"pem"`
	Agent string `json:"agent"`
	// RequestID is the agent's name for the key it generated, echoed in
	// the deployment that carries the certificate.
	RequestID   string    `json:"request_id"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Notified lists the expiry notices raised for one certificate version:
// "expiring/30d" per notify_before threshold, and "expired".
type Notified struct {
	Fingerprint string   `json:"fingerprint"`
	Notices     []string `json:"notices"`
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
	// Issuer and IssuedAt say who issued the version and when, so that
	// an ACME issuer's order budget counts it (empty in older records).
	Issuer   string    `json:"issuer,omitempty"`
	IssuedAt time.Time `json:"issued_at,omitzero"`
}

// Deployment is what a target last received for a certificate.
type Deployment struct {
	Fingerprint string    `json:"fingerprint"`  // certificate deployed
	FilesDigest string    `json:"files_digest"` // SHA-256 over the files written
	DeployedAt  time.Time `json:"deployed_at"`
	LastError   string    `json:"last_error,omitempty"`
	// Agent is the agent that reported this deployment, "" when apply
	// wrote it on the certctl host.
	Agent string `json:"agent,omitempty"`
	// ReportedAt is when the agent last reported on the target (a
	// failure too); zero for local targets.
	ReportedAt time.Time `json:"reported_at,omitzero"`
}

// Issuer is the record of an issuer's own material (a local CA's root).
type Issuer struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Digest    string    `json:"digest"` // spec digest it was created from
	CertPEM   []byte    `json:"cert_pem,omitempty"`
	KeySealed []byte    `json:"key_sealed,omitempty"`
	CreatedAt time.Time `json:"created_at"`

	// ACME account (type "acme"): KeySealed holds the account key, and
	// these say where and as whom it is registered. Registration is the
	// account object as the CA returned it (JSON bytes).
	AccountURI   string `json:"account_uri,omitempty"`
	Email        string `json:"email,omitempty"`
	Directory    string `json:"directory,omitempty"`
	Registration []byte `json:"registration,omitempty"`
}

// Snapshot is a consistent read of the whole store. It is a copy: callers
// may keep and modify it.
type Snapshot struct {
	// Lineage is a random ID fixed when the state was created; Serial
	// increases with every write transaction that changes certificates or
	// issuers (notification rows do not count). A saved plan records both.
	Lineage string
	Serial  uint64
	// Revision is the configuration revision last applied (PutRevision),
	// nil when none was recorded (plan/apply on a directory record none).
	Revision     *Revision
	Certificates map[string]*Certificate
	Issuers      map[string]*Issuer

	// NotificationCounts counts notification rows by status, every status
	// present (see NotifyStatuses). DeadNotifications are the dead rows,
	// oldest first, for the plan's section on rows that need an operator.
	NotificationCounts map[string]int
	DeadNotifications  []*Notification

	// Revocations are the revoked certificates of each issuer, by
	// issuer name, in serial order; CRLNumbers is each issuer's
	// revocation counter (see DB.Revoke). Expired revocations stay.
	Revocations map[string][]*Revocation
	CRLNumbers  map[string]uint64
}

// Revocation records one certificate revoked by an issuer of the
// configuration. A local CA publishes it in its CRL and OCSP answers.
type Revocation struct {
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"` // hex, as the records write it
	Name      string    `json:"name"`   // the certificate's name
	RevokedAt time.Time `json:"revoked_at"`
	Reason    int       `json:"reason"` // RFC 5280 reason code
	NotAfter  time.Time `json:"not_after"`
}

// IssuedSerials returns the serials the records say issuer issued (each
// record's current certificate and its History), mapped to the
// certificate's name: what an OCSP responder knows as "good" unless
// revoked. A History version without an issuer (older records) counts as
// the record's.
func (s *Snapshot) IssuedSerials(issuer string) map[string]string {
	out := make(map[string]string, len(s.Certificates))
	for name, c := range s.Certificates {
		if c.Issuer == issuer && c.Serial != "" {
			out[c.Serial] = name
		}
		for _, v := range c.History {
			iss := v.Issuer
			if iss == "" {
				iss = c.Issuer
			}
			if iss == issuer && v.Serial != "" {
				out[v.Serial] = name
			}
		}
	}
	return out
}

// Store is the state backend. Implementations are safe for concurrent use.
type Store interface {
	// Snapshot reads everything in one consistent view.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// PutCertificate writes rec durably before returning. Concurrent calls
	// are grouped into one transaction (one fsync for the group). A record
	// that is BlobsOmitted and carries no blobs keeps the stored ones.
	PutCertificate(ctx context.Context, rec *Certificate) error
	DeleteCertificate(ctx context.Context, name string) error
	PutIssuer(ctx context.Context, rec *Issuer) error
	// Seal encrypts a private key for a record; Unseal reverses it.
	Seal(plaintext []byte) ([]byte, error)
	Unseal(sealed []byte) ([]byte, error)
	Close() error
}
