package spec

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// testEnv is the environment every fixture is loaded with, so the tests do
// not depend on the process environment.
var testEnv = map[string]string{
	"OPS_WEBHOOK":         "https://hooks.example.com/T0KEN-s3cret",
	"SMTP_PASSWORD":       "smtp-pa55word",
	"PD_KEY":              "pd-routing-key-0123",
	"AGENT_TOKEN":         "agent-token-xyz",
	"CERTCTL_VAR_region":  "eu",
	"SECRET_HOST":         "hunter2-very-secret",
	"SECRET_WEBHOOK_PATH": "zz-top-secret-path",
	"EAB_HMAC":            "c2VjcmV0LWVhYi1tYWMta2V5",
	"TSIG_SECRET_FILE":    "/run/secrets/tsig",
}

func lookupTestEnv(k string) (string, bool) {
	v, ok := testEnv[k]
	return v, ok
}

func load(t testing.TB, dir string) (*Config, *Parser, hcl.Diagnostics) {
	t.Helper()
	return LoadWith(dir, Options{LookupEnv: lookupTestEnv})
}

func diagText(p *Parser, diags hcl.Diagnostics) string {
	var buf bytes.Buffer
	p.WriteDiagnostics(&buf, diags, false)
	return buf.String()
}

func subdirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatalf("no test cases in %s", dir)
	}
	return out
}

func TestValid(t *testing.T) {
	for _, name := range subdirs(t, "testdata/valid") {
		t.Run(name, func(t *testing.T) {
			cfg, p, diags := load(t, filepath.Join("testdata/valid", name))
			if len(diags) > 0 {
				t.Fatalf("Load(%s) gave diagnostics:\n%s", name, diagText(p, diags))
			}
			if cfg == nil {
				t.Fatalf("Load(%s) = nil Config", name)
			}
		})
	}
}

func TestValidFull(t *testing.T) {
	cfg, p, diags := load(t, "testdata/valid/full")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(p, diags))
	}
	if cfg.Settings.State != ".certctl/state.db" {
		t.Errorf("Settings.State = %q", cfg.Settings.State)
	}
	if got := sortedKeys(p.Files()); !reflect.DeepEqual(got, []string{"certificates.hcl", "delivery.hcl", "extra.hcl.json", "main.hcl"}) {
		t.Errorf("Files() = %v", got)
	}

	wantCerts := []string{
		"from_file", "json_cert", "regional", `sites["api"]`, `sites["shop"]`,
		`svc["a"]`, `svc["b.c"]`, `svc["d-e"]`, "www",
	}
	if got := sortedKeys(cfg.Certificates); !reflect.DeepEqual(got, wantCerts) {
		t.Errorf("certificates = %q, want %q", got, wantCerts)
	}

	www := cfg.Certificates["www"]
	if www.Label != "www" || www.Key != "" || www.FileStem() != "www" {
		t.Errorf("www: Label %q Key %q FileStem %q", www.Label, www.Key, www.FileStem())
	}
	// Names are normalized: lower case, A-labels.
	if want := []string{"www.example.com", "example.com", "www2.example.com", "xn--bcher-kva.example"}; !reflect.DeepEqual(www.DNSNames, want) {
		t.Errorf("www.DNSNames = %q, want %q", www.DNSNames, want)
	}
	if len(www.IPAddresses) != 2 || !www.IPAddresses[0].Equal(net.ParseIP("192.0.2.10")) || !www.IPAddresses[1].Equal(net.ParseIP("2001:db8::1")) {
		t.Errorf("www.IPAddresses = %v", www.IPAddresses)
	}
	if www.Issuer != "internal" || www.Policy != "standard" || www.Owner != "alice" || www.Team != "platform" {
		t.Errorf("www refs = %q %q %q %q", www.Issuer, www.Policy, www.Owner, www.Team)
	}
	if !reflect.DeepEqual(www.Targets, []string{"web1_nginx", "local"}) || !reflect.DeepEqual(www.Notifiers, []string{"ops", "chat"}) {
		t.Errorf("www targets %q notifiers %q", www.Targets, www.Notifiers)
	}
	if !reflect.DeepEqual(www.Labels, map[string]string{"env": "prod", "tier": "WEB", "replicas": "3"}) {
		t.Errorf("www.Labels = %v", www.Labels)
	}
	if www.KeyAlgorithm != "rsa-2048" || www.Validity != 30*24*time.Hour || www.OnRemove != "revoke" {
		t.Errorf("www: key %q validity %v on_remove %q", www.KeyAlgorithm, www.Validity, www.OnRemove)
	}
	if !reflect.DeepEqual(www.EmailAddresses, []string{"webmaster@example.com"}) {
		t.Errorf("www.EmailAddresses = %q", www.EmailAddresses)
	}

	// for_each over a map.
	api := cfg.Certificates[`sites["api"]`]
	if api.Label != "sites" || api.Key != "api" || api.FileStem() != "sites.api" {
		t.Errorf("sites[api]: Label %q Key %q FileStem %q", api.Label, api.Key, api.FileStem())
	}
	if api.CommonName != "api.example.com" || !reflect.DeepEqual(api.DNSNames, []string{"api.example.com", "api.internal.example.com"}) {
		t.Errorf("sites[api]: CN %q DNS %q", api.CommonName, api.DNSNames)
	}
	if api.Labels["site"] != "api" {
		t.Errorf("sites[api].Labels = %v", api.Labels)
	}
	// Defaults from the policy.
	if api.KeyAlgorithm != "ecdsa-p256" || api.Validity != 90*24*time.Hour || api.OnRemove != "forget" {
		t.Errorf("sites[api]: key %q validity %v on_remove %q", api.KeyAlgorithm, api.Validity, api.OnRemove)
	}
	// for_each over a set.
	if c := cfg.Certificates[`svc["b.c"]`]; c.CommonName != "b.c.internal.example.com" || c.FileStem() != "svc.b.c" || c.Validity != 36*time.Hour {
		t.Errorf(`svc["b.c"]: CN %q stem %q validity %v`, c.CommonName, c.FileStem(), c.Validity)
	}
	if c := cfg.Certificates["from_file"]; !reflect.DeepEqual(c.DNSNames, []string{"files.example.com", "more.example.com"}) {
		t.Errorf("from_file.DNSNames = %q", c.DNSNames)
	}
	// CERTCTL_VAR_region overrides the default.
	if c := cfg.Certificates["regional"]; c.CommonName != "eu.example.com" {
		t.Errorf("regional.CommonName = %q, want eu.example.com (from CERTCTL_VAR_region)", c.CommonName)
	}
	if c := cfg.Certificates["json_cert"]; c.Team != "security" || !reflect.DeepEqual(c.DNSNames, []string{"json.example.com", "example.com"}) {
		t.Errorf("json_cert: team %q DNS %q", c.Team, c.DNSNames)
	}

	std := cfg.Policies["standard"]
	if std.Validity != 90*24*time.Hour || std.MaxValidity != std.Validity || std.RenewBefore != (RenewBefore{Percent: 33}) {
		t.Errorf("standard: validity %v max %v renew %+v", std.Validity, std.MaxValidity, std.RenewBefore)
	}
	if want := []string{"example.com", "*.example.com", ".internal.example.com", "xn--bcher-kva.example"}; !reflect.DeepEqual(std.AllowedDomains, want) {
		t.Errorf("standard.AllowedDomains = %q, want %q", std.AllowedDomains, want)
	}
	if !reflect.DeepEqual(std.Usages, []string{"server_auth"}) || !reflect.DeepEqual(std.NotifyBefore, DefaultNotifyBefore) {
		t.Errorf("standard defaults: usages %q notify %v", std.Usages, std.NotifyBefore)
	}
	short := cfg.Policies["short"]
	if short.Validity != 36*time.Hour || short.MaxValidity != 48*time.Hour || short.RenewBefore != (RenewBefore{Duration: 12 * time.Hour}) {
		t.Errorf("short: validity %v max %v renew %+v", short.Validity, short.MaxValidity, short.RenewBefore)
	}
	if !reflect.DeepEqual(short.NotifyBefore, []time.Duration{24 * time.Hour, 0}) || !reflect.DeepEqual(short.AllowedKeyAlgorithms, []string{"ecdsa-p256"}) {
		t.Errorf("short: notify %v allowed keys %q", short.NotifyBefore, short.AllowedKeyAlgorithms)
	}
	if std.OmitSubjectCommonName || !short.OmitSubjectCommonName {
		t.Errorf("OmitSubjectCommonName: standard %v (want the default, false), short %v (subject_common_name = false)", std.OmitSubjectCommonName, short.OmitSubjectCommonName)
	}

	if is := cfg.Issuers["internal"]; is.Type != "local_ca" || is.Validity != 3650*24*time.Hour || is.MaxValidity != 397*24*time.Hour || is.KeyAlgorithm != "ecdsa-p384" {
		t.Errorf("issuer internal = %+v", is)
	}
	if is := cfg.Issuers["defaults"]; is.CommonName != "certctl defaults CA" || is.Validity != DefaultCAValidity || is.MaxValidity != DefaultCAValidity || is.KeyAlgorithm != "ecdsa-p256" {
		t.Errorf("issuer defaults = %+v", is)
	}

	ops := cfg.Notifiers["ops"]
	if ops.Attrs["url"] != testEnv["OPS_WEBHOOK"] || ops.Headers["Authorization"] != "Bearer s3cret-bearer-token" || ops.Headers["X-Source"] != "certctl" {
		t.Errorf("ops: attrs %v headers %v", ops.Attrs, ops.Headers)
	}
	if !reflect.DeepEqual(ops.Sensitive, map[string]bool{"url": true, "headers": true}) {
		t.Errorf("ops.Sensitive = %v", ops.Sensitive)
	}
	if ops.Retry != (Retry{Initial: 30 * time.Second, Max: 30 * time.Minute, Attempts: 3}) || !reflect.DeepEqual(ops.Events, []string{"issued", "failed", "expiring"}) {
		t.Errorf("ops: retry %+v events %q", ops.Retry, ops.Events)
	}
	mail := cfg.Notifiers["mail"]
	if mail.Attrs["port"] != "587" || mail.Attrs["password"] != "smtp-pa55word" || !reflect.DeepEqual(mail.To, []string{"pki@example.com", "ops@example.com"}) {
		t.Errorf("mail: attrs %v to %q", mail.Attrs, mail.To)
	}
	if !reflect.DeepEqual(mail.Sensitive, map[string]bool{"password": true}) || mail.Retry != (Retry{Initial: 2 * time.Minute, Max: time.Hour, Attempts: 5}) || !reflect.DeepEqual(mail.Events, Events) {
		t.Errorf("mail: sensitive %v retry %+v events %q", mail.Sensitive, mail.Retry, mail.Events)
	}
	if len(cfg.Notifiers["chat"].Sensitive) != 0 {
		t.Errorf("chat.Sensitive = %v, want none", cfg.Notifiers["chat"].Sensitive)
	}

	if a := cfg.Agents["web1"]; a.TokenSHA256 != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Errorf("web1.TokenSHA256 = %q", a.TokenSHA256)
	}
	if tg := cfg.Targets["web1_nginx"]; tg.Agent != "web1" || tg.Dir != "/etc/nginx/tls" || tg.FileMode != 0o640 || tg.KeyMode != 0o400 || tg.Reload != "nginx -s reload" {
		t.Errorf("web1_nginx = %+v", tg)
	}
	if tg := cfg.Targets["local"]; tg.Agent != "" || tg.FileMode != 0o644 || tg.KeyMode != 0o600 {
		t.Errorf("local = %+v", tg)
	}
	if o := cfg.Owners["alice"]; o.Team != "platform" || o.Email != "alice@example.com" || !reflect.DeepEqual(o.Notifiers, []string{"mail"}) {
		t.Errorf("alice = %+v", o)
	}
	if tm := cfg.Teams["security"]; !reflect.DeepEqual(tm.Notifiers, []string{"pager", "genie"}) {
		t.Errorf("security = %+v", tm)
	}
	if www.DeclRange.Filename != "certificates.hcl" || www.DeclRange.Start.Line != 1 {
		t.Errorf("www.DeclRange = %v", www.DeclRange)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var errorMarker = regexp.MustCompile(`#\s*ERROR:\s*`)

// expectedErrors reads the `# ERROR: <summary>` markers of the .hcl files
// in dir, as "file:line" → set of summaries.
func expectedErrors(t *testing.T, dir string) map[string]map[string]bool {
	t.Helper()
	want := map[string]map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			parts := errorMarker.Split(line, -1)
			for _, s := range parts[1:] {
				key := filepath.Base(f) + ":" + strconv.Itoa(i+1)
				if want[key] == nil {
					want[key] = map[string]bool{}
				}
				want[key][strings.TrimSpace(s)] = true
			}
		}
	}
	return want
}

// TestInvalid loads each directory under testdata/invalid and compares the
// diagnostics, as "file:line" → summaries, with the `# ERROR:` markers.
func TestInvalid(t *testing.T) {
	for _, name := range subdirs(t, "testdata/invalid") {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata/invalid", name)
			want := expectedErrors(t, dir)
			if len(want) == 0 {
				t.Fatalf("%s has no # ERROR: markers", dir)
			}
			_, p, diags := load(t, dir)
			got := map[string]map[string]bool{}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a subject: %s: %s", d.Summary, d.Detail)
					continue
				}
				if d.Severity != hcl.DiagError {
					t.Errorf("%s: unexpected warning %q", d.Subject, d.Summary)
				}
				key := d.Subject.Filename + ":" + strconv.Itoa(d.Subject.Start.Line)
				if got[key] == nil {
					got[key] = map[string]bool{}
				}
				got[key][d.Summary] = true
				if strings.HasSuffix(d.Summary, ".") || d.Detail == "" {
					t.Errorf("%s: summary %q should have no period and a detail", key, d.Summary)
				}
			}
			if !reflect.DeepEqual(got, want) {
				for _, k := range sortedKeys(want) {
					for s := range want[k] {
						if !got[k][s] {
							t.Errorf("missing %s: %s", k, s)
						}
					}
				}
				for _, k := range sortedKeys(got) {
					for s := range got[k] {
						if !want[k][s] {
							t.Errorf("unexpected %s: %s", k, s)
						}
					}
				}
				t.Logf("diagnostics:\n%s", diagText(p, diags))
			}
		})
	}
}
