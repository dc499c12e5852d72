package acme

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certctl/certctl/pki"
)

// Defaults applied by [New] to zero fields of a [Config].
const (
	DefaultMaxConcurrency = 4
	DefaultPollInterval   = 2 * time.Second
	DefaultTimeout        = 90 * time.Second
)

// Config is one ACME issuer as declared in HCL (`issuer "acme" "NAME"`).
// Field comments name the HCL attribute; [Config.Validate] reports problems
// under those names.
type Config struct {
	// Directory is the CA's directory URL (directory); https only.
	Directory string
	// Email is the account contact (email); optional.
	Email string
	// CABundle is PEM roots to trust for the directory's HTTPS (ca_bundle).
	// Empty means the system roots.
	CABundle []byte
	// Profile is the ACME profile requested for every order (profile);
	// empty lets the CA choose.
	Profile string
	// EAB is the external account binding some CAs require (eab).
	EAB *EAB
	// Exactly one of HTTP01 and DNS01 is set.
	HTTP01 *HTTP01
	DNS01  *DNS01
	// MaxConcurrency bounds the orders in flight for this issuer
	// (max_concurrency); 0 means DefaultMaxConcurrency.
	MaxConcurrency int
	// RateLimit is a client-side order budget (rate_limit); nil means none.
	RateLimit *RateLimit

	// PollInterval is the wait between polls of a pending authorization
	// and of DNS propagation; a longer Retry-After from the CA wins.
	// 0 means DefaultPollInterval.
	PollInterval time.Duration
	// Timeout bounds the wait for one challenge's validation and for a
	// finalized order's certificate. lego polls the order every Timeout/60.
	// 0 means DefaultTimeout.
	Timeout time.Duration
}

// EAB is an external account binding: a key ID and the base64url HMAC key
// the CA handed out. The HMAC key is secret.
type EAB struct {
	KID     string
	HMACKey string
}

// HTTP01 solves http-01 challenges either with a built-in HTTP server
// (Port, Iface) or by writing files under Webroot for a web server that is
// already running. Port and Webroot are exclusive.
type HTTP01 struct {
	// Port the built-in server listens on; 0 means 80.
	Port int
	// Webroot is the document root; files go under
	// Webroot/.well-known/acme-challenge/.
	Webroot string
	// Iface is the address the built-in server binds; empty means all.
	Iface string
}

// DNS01 solves dns-01 challenges with a lego DNS provider.
type DNS01 struct {
	// Provider is a name from [Providers].
	Provider string
	// Config holds the provider's settings by their lego environment
	// variable names (see ProviderInfo.Settings); NAME_FILE reads NAME from
	// a file. Settings absent here are read from the process environment.
	Config map[string]string
	// Resolvers are the DNS servers ("host" or "host:port") asked whether
	// the TXT record is visible before the CA is told to look. Empty means
	// lego's check: the system resolvers, then the zone's authoritative
	// servers.
	Resolvers []string
	// PropagationTimeout bounds that wait; 0 means the provider's default.
	PropagationTimeout time.Duration
}

// Validate checks the configuration without any network access. Every
// problem is reported, joined, each naming its HCL attribute.
func (c *Config) Validate() error {
	var errs []error
	bad := func(attr, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", attr, fmt.Sprintf(format, args...)))
	}

	if c.Directory == "" {
		bad("directory", "required")
	} else if u, err := url.Parse(c.Directory); err != nil {
		bad("directory", "not a URL: %v", err)
	} else if u.Scheme != "https" || u.Host == "" {
		bad("directory", "%q is not an https:// URL (ACME requires HTTPS)", c.Directory)
	}
	if c.Email != "" {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
			bad("email", "%q is not an email address", c.Email)
		}
	}
	if len(c.CABundle) > 0 {
		certs, err := pki.ParseCertificatesPEM(c.CABundle)
		if err != nil {
			bad("ca_bundle", "%v", err)
		} else if len(certs) == 0 {
			bad("ca_bundle", "no PEM CERTIFICATE found")
		}
	}
	if c.EAB != nil {
		if c.EAB.KID == "" {
			bad("eab.kid", "required")
		}
		if c.EAB.HMACKey == "" {
			bad("eab.hmac_key", "required")
		} else if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c.EAB.HMACKey, "=")); err != nil {
			bad("eab.hmac_key", "not base64url") // never quote the secret
		}
	}

	switch {
	case c.HTTP01 == nil && c.DNS01 == nil:
		bad("http01/dns01", "one challenge block is required")
	case c.HTTP01 != nil && c.DNS01 != nil:
		bad("http01/dns01", "set one challenge block, not both")
	case c.HTTP01 != nil:
		h := c.HTTP01
		if h.Port < 0 || h.Port > 65535 {
			bad("http01.port", "%d is not a port number", h.Port)
		}
		if h.Webroot != "" && (h.Port != 0 || h.Iface != "") {
			bad("http01.webroot", "webroot excludes port and iface")
		}
	case c.DNS01 != nil:
		errs = append(errs, c.DNS01.validate()...)
	}

	if c.MaxConcurrency < 0 {
		bad("max_concurrency", "%d is negative", c.MaxConcurrency)
	}
	if c.RateLimit != nil {
		if c.RateLimit.Orders <= 0 {
			bad("rate_limit.orders", "must be positive")
		}
		if c.RateLimit.Per <= 0 {
			bad("rate_limit.per", "must be a positive duration")
		}
	}
	if c.PollInterval < 0 {
		bad("poll_interval", "negative")
	}
	if c.Timeout < 0 {
		bad("timeout", "negative")
	}
	return errors.Join(errs...)
}

func (d *DNS01) validate() []error {
	var errs []error
	info, ok := provider(d.Provider)
	if !ok {
		errs = append(errs, fmt.Errorf("dns01.provider: unknown provider %q (known: %s)",
			d.Provider, strings.Join(providerNames(), ", ")))
	} else {
		var unknown []string
		for k := range d.Config {
			// NAME_FILE reads NAME from a file; some settings end in
			// _FILE themselves (DNSUPDATE_TSIG_FILE).
			if !slices.Contains(info.Settings, k) && !slices.Contains(info.Settings, strings.TrimSuffix(k, "_FILE")) {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
		for _, k := range unknown {
			errs = append(errs, fmt.Errorf("dns01.config: %s is not a setting of %s (known: %s)",
				k, d.Provider, strings.Join(info.Settings, ", ")))
		}
	}
	for _, r := range d.Resolvers {
		if _, err := resolverAddr(r); err != nil {
			errs = append(errs, fmt.Errorf("dns01.resolvers: %w", err))
		}
	}
	if d.PropagationTimeout < 0 {
		errs = append(errs, errors.New("dns01.propagation_timeout: negative"))
	}
	return errs
}

// resolverAddr normalizes "host" or "host:port" to "host:port", port 53
// by default.
func resolverAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.Trim(s, "[]"), "53"
	}
	if host == "" || strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("%q is not host or host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("%q has a bad port", s)
	}
	return net.JoinHostPort(host, port), nil
}

// withDefaults returns c with zero tuning fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// certPool parses CABundle; nil (system roots) when it is empty.
func (c *Config) certPool() (*x509.CertPool, error) {
	if len(c.CABundle) == 0 {
		return nil, nil
	}
	certs, err := pki.ParseCertificatesPEM(c.CABundle)
	if err != nil {
		return nil, fmt.Errorf("ca_bundle: %w", err)
	}
	pool := x509.NewCertPool()
	for _, cert := range certs {
		pool.AddCert(cert)
	}
	return pool, nil
}
