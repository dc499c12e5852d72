package spec

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidACME(t *testing.T) {
	cfg, p, diags := load(t, "testdata/valid/acme")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(p, diags))
	}
	is := cfg.Issuers["pebble"]
	a := is.ACME
	if is.Type != IssuerTypeACME || a == nil {
		t.Fatalf("issuer pebble = %+v", is)
	}
	if a.Directory != "https://127.0.0.1:14000/dir" || a.Email != "pki@example.com" || a.Profile != "default" {
		t.Errorf("pebble: directory %q email %q profile %q", a.Directory, a.Email, a.Profile)
	}
	if !strings.HasPrefix(string(a.CABundle), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("pebble.CABundle = %.30q", a.CABundle)
	}
	if a.EAB == nil || a.EAB.KID != "kid-1" || a.EAB.HMACKey != testEnv["EAB_HMAC"] {
		t.Errorf("pebble.EAB = %+v", a.EAB)
	}
	if a.HTTP01 == nil || *a.HTTP01 != (ACMEHTTP01{Port: 5002, Iface: "127.0.0.1"}) || a.DNS01 != nil {
		t.Errorf("pebble challenges: http01 %+v dns01 %+v", a.HTTP01, a.DNS01)
	}
	if a.MaxConcurrency != 8 || a.RateLimit == nil || *a.RateLimit != (ACMERateLimit{Orders: 300, Per: 3 * time.Hour}) {
		t.Errorf("pebble: max_concurrency %d rate_limit %+v", a.MaxConcurrency, a.RateLimit)
	}
	if want := []time.Duration{30 * time.Second, 5 * time.Minute, time.Hour}; !reflect.DeepEqual(a.Backoff, want) {
		t.Errorf("pebble.Backoff = %v, want %v", a.Backoff, want)
	}
	if a.PollInterval != 250*time.Millisecond || a.Timeout != 30*time.Second {
		t.Errorf("pebble: poll %v timeout %v", a.PollInterval, a.Timeout)
	}
	if want := map[string]bool{"ca_bundle": true, "eab.hmac_key": true}; !reflect.DeepEqual(a.Sensitive, want) {
		t.Errorf("pebble.Sensitive = %v, want %v", a.Sensitive, want)
	}
	if is.MaxValidity != 0 {
		t.Errorf("acme issuer MaxValidity = %v, want 0 (the CA decides)", is.MaxValidity)
	}

	le := cfg.Issuers["letsencrypt"].ACME
	d := le.DNS01
	if d == nil || d.Provider != "dnsupdate" || d.Config["DNSUPDATE_NAMESERVER"] != "127.0.0.1:53" ||
		d.Config["DNSUPDATE_TSIG_SECRET_FILE"] != testEnv["TSIG_SECRET_FILE"] ||
		!reflect.DeepEqual(d.Resolvers, []string{"127.0.0.1:8053", "1.1.1.1"}) || d.PropagationTimeout != 2*time.Minute {
		t.Errorf("letsencrypt.DNS01 = %+v", d)
	}
	if !le.Sensitive["dns01.config"] || le.Backoff != nil || le.RateLimit != nil {
		t.Errorf("letsencrypt: sensitive %v backoff %v rate limit %v", le.Sensitive, le.Backoff, le.RateLimit)
	}
	if h := cfg.Issuers["webroot"].ACME.HTTP01; h == nil || h.Webroot != "/var/www/html" || h.Port != 0 {
		t.Errorf("webroot.HTTP01 = %+v", h)
	}
	if c := cfg.Certificates["www"]; c.OnRemove != "revoke" || c.Validity != 400*24*time.Hour {
		t.Errorf("www: on_remove %q validity %v", c.OnRemove, c.Validity)
	}
}

// The invalid fixture reads secrets into an acme issuer; none may show.
func TestACMESensitiveNotLeaked(t *testing.T) {
	_, p, diags := load(t, "testdata/invalid/acme")
	text := diagText(p, diags)
	for _, k := range []string{"SECRET_HOST", "SECRET_WEBHOOK_PATH"} {
		if strings.Contains(text, testEnv[k]) {
			t.Errorf("the value of %s appears in the diagnostics:\n%s", k, text)
		}
	}
	if !strings.Contains(text, `Did you mean "CLOUDFLARE_DNS_API_TOKEN"?`) {
		t.Errorf("no did-you-mean for a misspelt provider setting:\n%s", text)
	}
	if !strings.Contains(text, `Did you mean "cloudflare"?`) {
		t.Errorf("no did-you-mean for a misspelt provider:\n%s", text)
	}
}
