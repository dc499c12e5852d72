package spec

import "time"

// IssuerTypeACME is the type label of `issuer "acme" "NAME" {}`.
const IssuerTypeACME = "acme"

// IssuerTypeLocalCA is the type label of `issuer "local_ca" "NAME" {}`.
const IssuerTypeLocalCA = "local_ca"

// ACMEIssuer is the body of `issuer "acme" "NAME" {}`: where the CA is, the
// account contact, how challenges are solved and how hard certctl may push
// the CA. Values read through env() or file() are allowed only in ca_bundle,
// eab and dns01.config; Sensitive names those that were (for example
// "ca_bundle", "eab.hmac_key", "dns01.config"), and nothing prints them.
type ACMEIssuer struct {
	// Directory is the CA's directory URL (https).
	Directory string
	// Email is the account contact; "" for none.
	Email string
	// CABundle holds PEM roots trusted for the directory's HTTPS, nil for
	// the system roots.
	CABundle []byte
	// Profile is the ACME profile every order asks for; "" lets the CA
	// choose.
	Profile string
	// EAB is the external account binding, nil if the CA needs none.
	EAB *ACMEEAB
	// Exactly one of HTTP01 and DNS01 is set.
	HTTP01 *ACMEHTTP01
	DNS01  *ACMEDNS01
	// MaxConcurrency bounds the orders in flight; 0 means the default (4).
	MaxConcurrency int
	// RateLimit is the client-side order budget, nil for none.
	RateLimit *ACMERateLimit
	// Backoff is the wait after the 1st, 2nd, … failed order of a
	// certificate; the last entry repeats. nil means the default
	// (1m, 10m, 100m, 24h).
	Backoff []time.Duration
	// PollInterval and Timeout tune the wait for validation and for the
	// certificate; 0 means the defaults (2s, 90s).
	PollInterval time.Duration
	Timeout      time.Duration

	Sensitive map[string]bool
}

// ACMEEAB is an external account binding (`eab { kid, hmac_key }`).
type ACMEEAB struct {
	KID     string
	HMACKey string // base64url; secret
}

// ACMEHTTP01 is `http01 { port | webroot, iface }`: lego's built-in
// server on Port (bound to Iface, "" for all addresses), or files under
// Webroot for a web server that already serves the names.
type ACMEHTTP01 struct {
	Port    int // 0 with Webroot set; else 1-65535 (default 80)
	Iface   string
	Webroot string
}

// ACMEDNS01 is `dns01 { provider, config, resolvers, propagation_timeout }`.
type ACMEDNS01 struct {
	// Provider is a key of ACMEProviders.
	Provider string
	// Config holds the provider's settings by their variable names
	// (NAME, or NAME_FILE for a file holding the value).
	Config map[string]string
	// Resolvers are "host" or "host:port" DNS servers asked whether the
	// TXT record is visible.
	Resolvers          []string
	PropagationTimeout time.Duration
}

// ACMERateLimit is `rate_limit = { orders = N, per = "3h" }`: at most
// Orders new orders in any Per.
type ACMERateLimit struct {
	Orders int
	Per    time.Duration
}

// ACMEProviders are the DNS-01 providers certctl is built with, by name,
// with the settings each reads. It mirrors pki/acme.Providers() (spec
// imports nothing of ours); a test in reconcile keeps the two equal.
var ACMEProviders = map[string][]string{
	"cloudflare":   {"CLOUDFLARE_DNS_API_TOKEN", "CLOUDFLARE_ZONE_API_TOKEN", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_BASE_URL", "CLOUDFLARE_TTL", "CLOUDFLARE_PROPAGATION_TIMEOUT", "CLOUDFLARE_POLLING_INTERVAL", "CLOUDFLARE_HTTP_TIMEOUT"},
	"digitalocean": {"DO_AUTH_TOKEN", "DO_API_URL", "DO_TTL", "DO_PROPAGATION_TIMEOUT", "DO_POLLING_INTERVAL", "DO_HTTP_TIMEOUT"},
	"dnsupdate":    {"DNSUPDATE_NAMESERVER", "DNSUPDATE_ZONES", "DNSUPDATE_TSIG_KEY", "DNSUPDATE_TSIG_SECRET", "DNSUPDATE_TSIG_ALGORITHM", "DNSUPDATE_TSIG_FILE", "DNSUPDATE_TSIG_GSS_REALM", "DNSUPDATE_TSIG_GSS_USERNAME", "DNSUPDATE_TSIG_GSS_PASSWORD", "DNSUPDATE_TSIG_GSS_KEYTAB_FILE", "DNSUPDATE_DNS_TIMEOUT", "DNSUPDATE_TTL", "DNSUPDATE_PROPAGATION_TIMEOUT", "DNSUPDATE_POLLING_INTERVAL", "DNSUPDATE_SEQUENCE_INTERVAL"},
	"exec":         {"EXEC_PATH", "EXEC_MODE", "EXEC_PROPAGATION_TIMEOUT", "EXEC_POLLING_INTERVAL", "EXEC_SEQUENCE_INTERVAL"},
	"gcloud":       {"GCE_PROJECT", "GCE_SERVICE_ACCOUNT", "GCE_SERVICE_ACCOUNT_FILE", "GOOGLE_APPLICATION_CREDENTIALS", "GCE_ZONE_ID", "GCE_ALLOW_PRIVATE_ZONE", "GCE_IMPERSONATE_SERVICE_ACCOUNT", "GCE_ACCESS_TOKEN", "GCE_TTL", "GCE_PROPAGATION_TIMEOUT", "GCE_POLLING_INTERVAL"},
	"hetzner":      {"HETZNER_API_TOKEN", "HETZNER_TTL", "HETZNER_PROPAGATION_TIMEOUT", "HETZNER_POLLING_INTERVAL", "HETZNER_HTTP_TIMEOUT"},
	"httpreq":      {"HTTPREQ_ENDPOINT", "HTTPREQ_MODE", "HTTPREQ_USERNAME", "HTTPREQ_PASSWORD", "HTTPREQ_PROPAGATION_TIMEOUT", "HTTPREQ_POLLING_INTERVAL", "HTTPREQ_HTTP_TIMEOUT"},
	"ns1":          {"NS1_API_KEY", "NS1_TTL", "NS1_PROPAGATION_TIMEOUT", "NS1_POLLING_INTERVAL", "NS1_HTTP_TIMEOUT"},
	"ovh":          {"OVH_ENDPOINT", "OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY", "OVH_CLIENT_ID", "OVH_CLIENT_SECRET", "OVH_ACCESS_TOKEN", "OVH_TTL", "OVH_PROPAGATION_TIMEOUT", "OVH_POLLING_INTERVAL", "OVH_HTTP_TIMEOUT"},
	"pdns":         {"PDNS_API_URL", "PDNS_API_KEY", "PDNS_SERVER_NAME", "PDNS_API_VERSION", "PDNS_TTL", "PDNS_PROPAGATION_TIMEOUT", "PDNS_POLLING_INTERVAL", "PDNS_HTTP_TIMEOUT"},
	"route53":      {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_PROFILE", "AWS_SDK_LOAD_CONFIG", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_HOSTED_ZONE_ID", "AWS_ASSUME_ROLE_ARN", "AWS_EXTERNAL_ID", "AWS_PRIVATE_ZONE", "AWS_WAIT_FOR_RECORD_SETS_CHANGED", "AWS_MAX_RETRIES", "AWS_TTL", "AWS_PROPAGATION_TIMEOUT", "AWS_POLLING_INTERVAL"},
}

// FormatDuration renders d as the language writes durations: "3h",
// "90d", "1d12h".
func FormatDuration(d time.Duration) string { return formatDuration(d) }
