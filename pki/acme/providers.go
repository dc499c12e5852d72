package acme

import (
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/providers/dns/cloudflare"
	"github.com/go-acme/lego/v5/providers/dns/digitalocean"
	"github.com/go-acme/lego/v5/providers/dns/dnsupdate"
	"github.com/go-acme/lego/v5/providers/dns/exec"
	"github.com/go-acme/lego/v5/providers/dns/gcloud"
	"github.com/go-acme/lego/v5/providers/dns/hetzner"
	"github.com/go-acme/lego/v5/providers/dns/httpreq"
	"github.com/go-acme/lego/v5/providers/dns/ns1"
	"github.com/go-acme/lego/v5/providers/dns/ovh"
	"github.com/go-acme/lego/v5/providers/dns/pdns"
	"github.com/go-acme/lego/v5/providers/dns/route53"
)

// ProviderInfo describes a supported DNS-01 provider.
type ProviderInfo struct {
	Name string
	// Settings are the environment variable names the provider reads, as
	// accepted in DNS01.Config. Each NAME may also be given as NAME_FILE
	// (a path whose content is the value).
	Settings []string
}

type providerEntry struct {
	ProviderInfo
	build func() (challenge.Provider, error)
}

// providers is sorted by name. Settings use the lego packages' exported
// constants where there are some, so a rename upstream fails the build;
// literals are variables the provider's SDK reads itself.
var providers = []providerEntry{
	{ProviderInfo{"cloudflare", []string{
		cloudflare.EnvDNSAPIToken, cloudflare.EnvZoneAPIToken, cloudflare.EnvEmail, cloudflare.EnvAPIKey,
		cloudflare.EnvBaseURL, cloudflare.EnvTTL, cloudflare.EnvPropagationTimeout,
		cloudflare.EnvPollingInterval, cloudflare.EnvHTTPTimeout,
	}}, func() (challenge.Provider, error) { return cloudflare.NewDNSProvider() }},
	{ProviderInfo{"digitalocean", []string{
		digitalocean.EnvAuthToken, digitalocean.EnvAPIUrl, digitalocean.EnvTTL,
		digitalocean.EnvPropagationTimeout, digitalocean.EnvPollingInterval, digitalocean.EnvHTTPTimeout,
	}}, func() (challenge.Provider, error) { return digitalocean.NewDNSProvider() }},
	{ProviderInfo{"dnsupdate", []string{
		dnsupdate.EnvNameserver, dnsupdate.EnvZones, dnsupdate.EnvTSIGKey, dnsupdate.EnvTSIGSecret,
		dnsupdate.EnvTSIGAlgorithm, dnsupdate.EnvTSIGFile, dnsupdate.EnvTSIGGSSRealm,
		dnsupdate.EnvTSIGGSSUsername, dnsupdate.EnvTSIGGSSPassword, dnsupdate.EnvTSIGGSSKeytabFile,
		dnsupdate.EnvDNSTimeout, dnsupdate.EnvTTL, dnsupdate.EnvPropagationTimeout,
		dnsupdate.EnvPollingInterval, dnsupdate.EnvSequenceInterval,
	}}, func() (challenge.Provider, error) { return dnsupdate.NewDNSProvider() }},
	{ProviderInfo{"exec", []string{
		exec.EnvPath, exec.EnvMode, exec.EnvPropagationTimeout, exec.EnvPollingInterval, exec.EnvSequenceInterval,
	}}, func() (challenge.Provider, error) { return exec.NewDNSProvider() }},
	{ProviderInfo{"gcloud", []string{
		gcloud.EnvProject, gcloud.EnvServiceAccount, "GCE_SERVICE_ACCOUNT_FILE", "GOOGLE_APPLICATION_CREDENTIALS",
		gcloud.EnvZoneID, gcloud.EnvAllowPrivateZone, gcloud.EnvImpersonateServiceAccount,
		gcloud.EnvAccessToken, gcloud.EnvTTL, gcloud.EnvPropagationTimeout, gcloud.EnvPollingInterval,
	}}, func() (challenge.Provider, error) { return gcloud.NewDNSProvider() }},
	{ProviderInfo{"hetzner", []string{
		hetzner.EnvAPIToken, hetzner.EnvTTL, hetzner.EnvPropagationTimeout,
		hetzner.EnvPollingInterval, hetzner.EnvHTTPTimeout,
	}}, func() (challenge.Provider, error) { return hetzner.NewDNSProvider() }},
	{ProviderInfo{"httpreq", []string{
		httpreq.EnvEndpoint, httpreq.EnvMode, httpreq.EnvUsername, httpreq.EnvPassword,
		httpreq.EnvPropagationTimeout, httpreq.EnvPollingInterval, httpreq.EnvHTTPTimeout,
	}}, func() (challenge.Provider, error) { return httpreq.NewDNSProvider() }},
	{ProviderInfo{"ns1", []string{
		ns1.EnvAPIKey, ns1.EnvTTL, ns1.EnvPropagationTimeout, ns1.EnvPollingInterval, ns1.EnvHTTPTimeout,
	}}, func() (challenge.Provider, error) { return ns1.NewDNSProvider() }},
	{ProviderInfo{"ovh", []string{
		ovh.EnvEndpoint, ovh.EnvApplicationKey, ovh.EnvApplicationSecret, ovh.EnvConsumerKey,
		ovh.EnvClientID, ovh.EnvClientSecret, ovh.EnvAccessToken, ovh.EnvTTL,
		ovh.EnvPropagationTimeout, ovh.EnvPollingInterval, ovh.EnvHTTPTimeout,
	}}, func() (challenge.Provider, error) { return ovh.NewDNSProvider() }},
	{ProviderInfo{"pdns", []string{
		pdns.EnvAPIURL, pdns.EnvAPIKey, pdns.EnvServerName, pdns.EnvAPIVersion, pdns.EnvTTL,
		pdns.EnvPropagationTimeout, pdns.EnvPollingInterval, pdns.EnvHTTPTimeout,
	}}, func() (challenge.Provider, error) { return pdns.NewDNSProvider() }},
	{ProviderInfo{"route53", []string{
		route53.EnvAccessKeyID, route53.EnvSecretAccessKey, "AWS_SESSION_TOKEN", route53.EnvRegion,
		"AWS_PROFILE", "AWS_SDK_LOAD_CONFIG", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		route53.EnvHostedZoneID, route53.EnvAssumeRoleArn, route53.EnvExternalID, route53.EnvPrivateZone,
		route53.EnvWaitForRecordSetsChanged, route53.EnvMaxRetries, route53.EnvTTL,
		route53.EnvPropagationTimeout, route53.EnvPollingInterval,
	}}, func() (challenge.Provider, error) { return route53.NewDNSProvider() }},
}

// Providers lists the supported DNS-01 providers, sorted by name, with the
// settings each reads. The result is a fresh copy.
func Providers() []ProviderInfo {
	out := make([]ProviderInfo, len(providers))
	for i, p := range providers {
		out[i] = ProviderInfo{Name: p.Name, Settings: slices.Clone(p.Settings)}
	}
	return out
}

func provider(name string) (providerEntry, bool) {
	i := slices.IndexFunc(providers, func(p providerEntry) bool { return p.Name == name })
	if i < 0 {
		return providerEntry{}, false
	}
	return providers[i], true
}

func providerNames() []string {
	names := make([]string, len(providers))
	for i, p := range providers {
		names[i] = p.Name
	}
	return names
}

// envMu serializes provider construction. lego's providers read their
// settings only from the process environment (NewDNSProvider) and each has
// its own Config struct with no common shape, so certctl puts the settings
// into the environment for the duration of the constructor and restores
// the previous values before unlocking. Providers read the environment only
// while being built, never later. Trade-off, accepted: for those
// microseconds a child process started by another goroutine would inherit
// the settings.
var envMu sync.Mutex

// envValue is a variable's value before newDNSProvider changed it.
type envValue struct {
	value string
	set   bool
}

// newDNSProvider builds the named provider with settings applied on top of
// the process environment.
func newDNSProvider(name string, settings map[string]string) (challenge.Provider, error) {
	p, ok := provider(name)
	if !ok {
		return nil, fmt.Errorf("unknown DNS provider %q", name)
	}
	envMu.Lock()
	defer envMu.Unlock()
	old := make(map[string]envValue, len(settings))
	defer restoreEnv(old)
	for k, v := range settings {
		prev, set := os.LookupEnv(k)
		old[k] = envValue{prev, set}
		if err := os.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("dns01 provider %s: setting %s: %w", name, k, err)
		}
	}
	prov, err := p.build()
	if err != nil {
		// lego's messages name missing variables, never their values.
		return nil, fmt.Errorf("dns01 provider %s: %w", name, err)
	}
	return prov, nil
}

func restoreEnv(old map[string]envValue) {
	for k, v := range old {
		if v.set {
			_ = os.Setenv(k, v.value)
		} else {
			_ = os.Unsetenv(k)
		}
	}
}
