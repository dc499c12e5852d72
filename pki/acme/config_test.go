package acme_test

import (
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki/acme"
)

func TestValidate(t *testing.T) {
	valid := func() acme.Config {
		return acme.Config{Directory: "https://acme.example/dir", Email: "pki@example.com", HTTP01: &acme.HTTP01{Port: 5002}}
	}
	tests := []struct {
		name   string
		mutate func(*acme.Config)
		want   []string // substrings of the error; none for valid
	}{
		{"valid http01", func(*acme.Config) {}, nil},
		{"valid webroot", func(c *acme.Config) { c.HTTP01 = &acme.HTTP01{Webroot: "/var/www"} }, nil},
		{"valid dns01", func(c *acme.Config) {
			c.HTTP01 = nil
			c.DNS01 = &acme.DNS01{Provider: "cloudflare", Config: map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "x", "CLOUDFLARE_ZONE_API_TOKEN_FILE": "/run/tok"}, Resolvers: []string{"1.1.1.1", "127.0.0.1:8053", "[::1]:53"}}
		}, nil},
		{"valid eab", func(c *acme.Config) {
			c.EAB = &acme.EAB{KID: "k", HMACKey: "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"}
		}, nil},
		{"no directory", func(c *acme.Config) { c.Directory = "" }, []string{"directory: required"}},
		{"http directory", func(c *acme.Config) { c.Directory = "http://acme.example/dir" }, []string{"directory:", "https"}},
		{"bad url", func(c *acme.Config) { c.Directory = "https://a b/%zz" }, []string{"directory: not a URL"}},
		{"bad email", func(c *acme.Config) { c.Email = "pki at example" }, []string{"email:"}},
		{"neither challenge", func(c *acme.Config) { c.HTTP01 = nil }, []string{"one challenge block is required"}},
		{"both challenges", func(c *acme.Config) { c.DNS01 = &acme.DNS01{Provider: "exec"} }, []string{"not both"}},
		{"unknown provider", func(c *acme.Config) { c.HTTP01 = nil; c.DNS01 = &acme.DNS01{Provider: "clodflare"} }, []string{`unknown provider "clodflare"`, "cloudflare"}},
		{"unknown setting", func(c *acme.Config) {
			c.HTTP01 = nil
			c.DNS01 = &acme.DNS01{Provider: "exec", Config: map[string]string{"EXEC_PATHH": "/x"}}
		}, []string{"EXEC_PATHH is not a setting of exec", "EXEC_PATH"}},
		{"bad resolver", func(c *acme.Config) {
			c.HTTP01 = nil
			c.DNS01 = &acme.DNS01{Provider: "exec", Resolvers: []string{"1.1.1.1:99999"}}
		}, []string{"dns01.resolvers"}},
		{"webroot and port", func(c *acme.Config) { c.HTTP01.Webroot = "/var/www" }, []string{"webroot excludes port"}},
		{"bad port", func(c *acme.Config) { c.HTTP01.Port = 70000 }, []string{"http01.port"}},
		{"bad bundle", func(c *acme.Config) { c.CABundle = []byte("not pem") }, []string{"ca_bundle: no PEM CERTIFICATE"}},
		{"eab without key", func(c *acme.Config) { c.EAB = &acme.EAB{KID: "k"} }, []string{"eab.hmac_key: required"}},
		{"eab bad key", func(c *acme.Config) { c.EAB = &acme.EAB{KID: "k", HMACKey: "s3cret!!"} }, []string{"eab.hmac_key: not base64url"}},
		{"rate limit", func(c *acme.Config) { c.RateLimit = &acme.RateLimit{Orders: 0, Per: -time.Hour} }, []string{"rate_limit.orders", "rate_limit.per"}},
		{"negative tuning", func(c *acme.Config) { c.MaxConcurrency, c.PollInterval = -1, -1 }, []string{"max_concurrency", "poll_interval"}},
		{"all problems at once", func(c *acme.Config) { c.Directory, c.HTTP01 = "", nil }, []string{"directory: required", "one challenge block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%s) = nil, want %q", tt.name, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate(%s) = %v, want it to mention %q", tt.name, err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Validate(%s) quotes the secret: %v", tt.name, err)
			}
		})
	}
}

func TestProviders(t *testing.T) {
	got := acme.Providers()
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
		if len(p.Settings) == 0 {
			t.Errorf("provider %s lists no settings", p.Name)
		}
	}
	want := "cloudflare digitalocean dnsupdate exec gcloud hetzner httpreq ns1 ovh pdns route53"
	if strings.Join(names, " ") != want {
		t.Errorf("Providers() = %v, want %s", names, want)
	}
	for _, p := range got {
		if p.Name == "cloudflare" && !contains(p.Settings, "CLOUDFLARE_DNS_API_TOKEN") {
			t.Errorf("cloudflare settings %v lack CLOUDFLARE_DNS_API_TOKEN", p.Settings)
		}
	}
	got[0].Settings[0] = "CHANGED"
	if acme.Providers()[0].Settings[0] == "CHANGED" {
		t.Errorf("Providers() shares its slices with the caller")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
