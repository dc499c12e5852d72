package spec

import (
	"net"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is the whole desired state read from one configuration directory.
// Maps are keyed by the block's name (the last label). Certificates are keyed
// by their instance name: the label for a plain block, `LABEL["KEY"]` for an
// instance of a block with for_each.
type Config struct {
	Dir      string
	Settings Settings
	// Server is the `server {}` block, nil without one.
	Server *Server

	Teams        map[string]*Team
	Owners       map[string]*Owner
	Policies     map[string]*Policy
	Issuers      map[string]*Issuer
	Notifiers    map[string]*Notifier
	Agents       map[string]*Agent
	Targets      map[string]*Target
	Certificates map[string]*Certificate
}

// Settings is the `certctl {}` block.
type Settings struct {
	// State is the state file path as written (relative to Dir), "" if unset.
	State     string
	DeclRange hcl.Range
}

// Server is the `server {}` block: where `certctl watch` is reachable.
type Server struct {
	// URL is the public base URL (absolute http or https, no trailing
	// slash). A local CA without issuer_url, ocsp_url or crl_url
	// publishes under it: URL/.well-known/pki/{ca,ocsp,crl}/NAME.
	URL       string
	DeclRange hcl.Range
}

// Team is `team "NAME" {}`.
type Team struct {
	Name      string
	Notifiers []string // notifier names
	DeclRange hcl.Range
}

// Owner is `owner "NAME" {}`.
type Owner struct {
	Name      string
	Email     string
	Team      string // team name, "" if unset
	Notifiers []string
	DeclRange hcl.Range
}

// RenewBefore is a policy's renewal window: either a fixed duration before
// expiry or a fraction of the lifetime remaining. Exactly one is non-zero.
type RenewBefore struct {
	Duration time.Duration
	Percent  float64 // 0 < Percent < 100
}

// Policy is `policy "NAME" {}`.
type Policy struct {
	Name string
	// Validity is the lifetime of certificates issued under the policy.
	Validity time.Duration
	// MaxValidity bounds a certificate's own validity; defaults to Validity.
	MaxValidity time.Duration
	RenewBefore RenewBefore
	// KeyAlgorithm is the default for certificates under the policy.
	KeyAlgorithm string
	// AllowedKeyAlgorithms defaults to [KeyAlgorithm].
	AllowedKeyAlgorithms []string
	Usages               []string // server_auth, client_auth, email_protection
	// AllowedDomains is empty for any name, else normalized patterns:
	// "example.com" (that name), "*.example.com" (one label below it,
	// including the wildcard name itself), ".example.com" (any name below
	// it at any depth, not example.com itself). See normalizeDomainPattern.
	AllowedDomains []string
	NotifyBefore   []time.Duration
	// OmitSubjectCommonName is subject_common_name = false: certificates
	// under the policy have an empty subject, their common_name moved
	// into the DNS or IP SANs. The zero value keeps the CN (the default).
	OmitSubjectCommonName bool
	DeclRange             hcl.Range
}

// Issuer is `issuer "TYPE" "NAME" {}`.
type Issuer struct {
	Type string // "local_ca", "acme" or "external"
	Name string

	// local_ca
	CommonName   string
	Validity     time.Duration // lifetime of the CA certificate
	KeyAlgorithm string
	// MaxValidity is the longest leaf this issuer signs; defaults to Validity.
	MaxValidity time.Duration
	// IssuerURL, OCSPURL and CRLURL are what a local CA writes into the
	// certificates it issues (authorityInformationAccess and
	// cRLDistributionPoints); "" when unset. Those left unset default to
	// the server block's URL/.well-known/pki/{ca,ocsp,crl}/NAME when
	// there is one. Changing them changes no CA.
	IssuerURL, OCSPURL, CRLURL string

	// ACME is set for type "acme" (see ACMEIssuer); the CA decides the
	// validity, so MaxValidity is 0 (no bound) for it.
	ACME *ACMEIssuer

	DeclRange hcl.Range
}

// Notifier is `notifier "TYPE" "NAME" {}`. Its attributes are kept as
// strings; delivery validates them further. Sensitive holds the attribute
// names whose values came from env() or file().
type Notifier struct {
	Type      string
	Name      string
	Attrs     map[string]string
	Headers   map[string]string
	To        []string
	Events    []string // default: all of Events
	Retry     Retry
	Sensitive map[string]bool
	DeclRange hcl.Range
}

// Retry is a notifier's `retry {}` block, with defaults filled in.
type Retry struct {
	Initial  time.Duration // default 2m
	Max      time.Duration // default 1h
	Attempts int           // default 5
}

// Agent is `agent "NAME" {}`.
type Agent struct {
	Name        string
	TokenSHA256 string
	DeclRange   hcl.Range
}

// Target is `target "TYPE" "NAME" {}`.
type Target struct {
	Type     string // "file"
	Name     string
	Agent    string // agent name, "" for the certctl host
	Dir      string // absolute, or relative to Config.Dir
	Validate string // command, "" if unset
	Reload   string
	// FileMode and KeyMode default to 0644 and 0600.
	FileMode  uint32
	KeyMode   uint32
	DeclRange hcl.Range
}

// Certificate is one certificate instance.
type Certificate struct {
	Name  string // instance name: "www" or `sites["api"]`
	Label string // block label
	Key   string // for_each key, "" for a plain block

	// CommonName is a DNS name, normalized like DNSNames, or an IP address
	// in canonical form.
	CommonName string
	// DNSNames are lower-case ASCII (IDNA A-labels), each listed once.
	DNSNames       []string
	IPAddresses    []net.IP
	EmailAddresses []string

	Issuer string // issuer name
	Policy string
	Owner  string
	Team   string

	Targets   []string
	Notifiers []string
	Labels    map[string]string

	// KeyAlgorithm is the certificate's own or its policy's.
	KeyAlgorithm string
	// Validity is the certificate's own or its policy's.
	Validity time.Duration
	// OnRemove is "forget" (default) or "revoke".
	OnRemove string

	DeclRange hcl.Range
}

// FileStem is the base name of the files a target writes for c:
// "www" or "sites.api".
func (c *Certificate) FileStem() string {
	if c.Key == "" {
		return c.Label
	}
	return c.Label + "." + c.Key
}
