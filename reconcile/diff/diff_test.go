package diff

import (
	"bytes"
	"crypto/sha1"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// baseHCL is the configuration most tests start from.
var baseHCL = map[string]string{
	"main.hcl": `
team "platform" { notifiers = [notifier.ops] }
team "web" {}

owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}

notifier "webhook" "ops" {
  url = env("OPS_WEBHOOK")
}

policy "standard" {
  validity        = "90d"
  key_algorithm   = "ecdsa-p384"
  allowed_key_algorithms = ["ecdsa-p384", "ecdsa-p256"]
  allowed_domains = ["example.com", "*.example.com"]
}

issuer "local_ca" "internal" {
  common_name   = "Example Internal CA"
  validity      = "3650d"
  key_algorithm = "ecdsa-p384"
}

issuer "local_ca" "other" {
  common_name = "Other CA"
}

target "file" "out" { dir = "out" }
`,
	"certs.hcl": `
certificate "www" {
  common_name = "www.example.com"
  dns_names   = ["www.example.com"]
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out]
  labels      = { env = "prod" }
}

certificate "api" {
  common_name = "api.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "old" {
  common_name = "old.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  on_remove   = "revoke"
}

certificate "legacy" {
  common_name = "legacy.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
`,
}

// with returns files with the named files replaced (or removed, for "").
func with(files map[string]string, changes ...string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "" {
			delete(out, changes[i])
		} else {
			out[changes[i]] = changes[i+1]
		}
	}
	return out
}

// edit returns files with old replaced by new in the named file; the test
// fails if old is not there.
func edit(t *testing.T, files map[string]string, name, old, new string) map[string]string {
	t.Helper()
	if !strings.Contains(files[name], old) {
		t.Fatalf("%s does not contain %q", name, old)
	}
	return with(files, name, strings.Replace(files[name], old, new, 1))
}

// load loads files as one revision, with env() reading env.
func load(t testing.TB, rev string, files map[string]string, env map[string]string) Revision {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	cfg, _, diags := spec.LoadWith(".", spec.Options{FS: fsys, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	return Revision{Rev: rev, SHA: fmt.Sprintf("%x", sha1.Sum([]byte(rev))), Config: cfg, Diags: diags}
}

var testEnv = map[string]string{"OPS_WEBHOOK": "https://hooks.example.com/s3cr3t-base"}

func compareFiles(t *testing.T, base, head map[string]string) *Diff {
	t.Helper()
	b := load(t, "base", base, testEnv)
	if b.broken() {
		t.Fatalf("base does not load: %v", b.Diags)
	}
	return Compare(b, load(t, "head", head, testEnv), Options{Now: t0})
}

type opAddr struct {
	Op      Op
	Address string
}

func ops(d *Diff) []opAddr {
	var out []opAddr
	for _, ch := range d.Changes {
		out = append(out, opAddr{ch.Op, ch.Address})
	}
	return out
}

func attentionKinds(d *Diff) []string {
	var out []string
	for _, a := range d.Attention {
		out = append(out, a.Kind+" "+a.Address)
	}
	return out
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name      string
		head      func(t *testing.T) map[string]string
		want      []opAddr
		forces    map[string][]string // address → forcing attributes
		attention []string
	}{
		{
			name: "no change",
			head: func(t *testing.T) map[string]string { return baseHCL },
		},
		{
			name: "whitespace and file moves change nothing",
			head: func(t *testing.T) map[string]string {
				return with(baseHCL, "certs.hcl", "", "z.hcl", "\n\n"+baseHCL["certs.hcl"])
			},
		},
		{
			name: "dns name forces a replace",
			head: func(t *testing.T) map[string]string {
				return edit(t, baseHCL, "certs.hcl", `dns_names   = ["www.example.com"]`, `dns_names   = ["www.example.com", "example.com"]`)
			},
			want:   []opAddr{{OpReplace, "certificate.www"}},
			forces: map[string][]string{"certificate.www": {"dns_names"}},
		},
		{
			name: "labels and owner are an update",
			head: func(t *testing.T) map[string]string {
				return edit(t, baseHCL, "certs.hcl", `labels      = { env = "prod" }`, `labels      = { env = "staging" }`)
			},
			want: []opAddr{{OpUpdate, "certificate.www"}},
		},
		{
			name: "policy key downgrade replaces every certificate under it",
			head: func(t *testing.T) map[string]string {
				return edit(t, baseHCL, "main.hcl", `key_algorithm   = "ecdsa-p384"`, `key_algorithm   = "ecdsa-p256"`)
			},
			want: []opAddr{{OpUpdate, "policy.standard"},
				{OpReplace, "certificate.api"}, {OpReplace, "certificate.legacy"}, {OpReplace, "certificate.old"}, {OpReplace, "certificate.www"}},
			forces:    map[string][]string{"certificate.www": {"key_algorithm"}},
			attention: []string{"key_downgrade policy.standard"},
		},
		{
			name: "validity increase",
			head: func(t *testing.T) map[string]string {
				return edit(t, baseHCL, "main.hcl", `validity        = "90d"`, `validity        = "397d"`)
			},
			want: []opAddr{{OpUpdate, "policy.standard"},
				{OpUpdate, "certificate.api"}, {OpUpdate, "certificate.legacy"}, {OpUpdate, "certificate.old"}, {OpUpdate, "certificate.www"}},
			attention: []string{"validity_increase policy.standard"},
		},
		{
			name: "issuer switch",
			head: func(t *testing.T) map[string]string {
				h := edit(t, baseHCL, "certs.hcl", "issuer      = issuer.internal\n  policy      = policy.standard\n  owner       = owner.alice\n  team        = team.platform\n}\n\ncertificate \"old\"",
					"issuer      = issuer.other\n  policy      = policy.standard\n  owner       = owner.alice\n  team        = team.platform\n}\n\ncertificate \"old\"")
				return h
			},
			want:      []opAddr{{OpReplace, "certificate.api"}},
			forces:    map[string][]string{"certificate.api": {"issuer"}},
			attention: []string{"issuer_switch certificate.api"},
		},
		{
			name: "new wildcard and removal with revoke",
			head: func(t *testing.T) map[string]string {
				h := edit(t, baseHCL, "certs.hcl", `certificate "old" {`, `certificate "gone" {`)
				return edit(t, h, "certs.hcl", `dns_names   = ["www.example.com"]`, `dns_names   = ["www.example.com", "*.example.com"]`)
			},
			want:      []opAddr{{OpAdd, "certificate.gone"}, {OpReplace, "certificate.www"}, {OpRemove, "certificate.old"}},
			attention: []string{"new_wildcard certificate.www", "revoke_on_remove certificate.old"},
		},
		{
			name: "a local CA's new key replaces the CA and its certificates",
			head: func(t *testing.T) map[string]string {
				return edit(t, baseHCL, "main.hcl", "common_name = \"Other CA\"", "common_name = \"Other CA\"\n  key_algorithm = \"rsa-2048\"")
			},
			want:      []opAddr{{OpReplace, "issuer.other"}},
			attention: []string{"key_downgrade issuer.other"},
		},
		{
			name: "new notifier, target and team membership",
			head: func(t *testing.T) map[string]string {
				h := edit(t, baseHCL, "main.hcl", `target "file" "out" { dir = "out" }`, "target \"file\" \"out\" { dir = \"out\" }\ntarget \"file\" \"extra\" { dir = \"extra\" }\nnotifier \"slack\" \"chat\" { url = \"https://chat.example.com/hook\" }")
				return edit(t, h, "main.hcl", `team "web" {}`, `team "web" { notifiers = [notifier.chat] }`)
			},
			want: []opAddr{{OpAdd, "notifier.chat"}, {OpUpdate, "team.web"}, {OpAdd, "target.extra"}},
		},
		{
			name: "settings, agents and the targets on them",
			head: func(t *testing.T) map[string]string {
				h := edit(t, baseHCL, "main.hcl", `target "file" "out" { dir = "out" }`,
					"certctl { state = \"other.db\" }\nagent \"web1\" { token_sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\" }\ntarget \"file\" \"out\" {\n  dir   = \"out\"\n  agent = agent.web1\n}")
				return h
			},
			want: []opAddr{{OpUpdate, "certctl"}, {OpAdd, "agent.web1"}, {OpUpdate, "target.out"}},
		},
		{
			name: "policy allows wildcards below a domain",
			head: func(t *testing.T) map[string]string {
				return edit(t, baseHCL, "main.hcl", `allowed_domains = ["example.com", "*.example.com"]`, `allowed_domains = ["example.com", "*.example.com", ".example.org"]`)
			},
			want:      []opAddr{{OpUpdate, "policy.standard"}},
			attention: []string{"new_wildcard policy.standard"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := compareFiles(t, baseHCL, tt.head(t))
			if len(d.Problems) > 0 {
				t.Fatalf("head has problems: %+v", d.Problems)
			}
			if got := ops(d); !slices.Equal(got, tt.want) {
				t.Errorf("Compare(%s) changes = %v, want %v", tt.name, got, tt.want)
			}
			for addr, want := range tt.forces {
				for _, ch := range d.Changes {
					if ch.Address == addr && !slices.Equal(ch.Forces, want) {
						t.Errorf("Compare(%s): %s forces = %v, want %v", tt.name, addr, ch.Forces, want)
					}
				}
			}
			if got := attentionKinds(d); !slices.Equal(got, tt.attention) {
				t.Errorf("Compare(%s) attention = %q, want %q", tt.name, got, tt.attention)
			}
			for _, ch := range d.Changes {
				if ch.Address == "agent.web1" && !slices.Equal(ch.Affects, []string{"certificate.www"}) {
					t.Errorf("Compare(%s): agent.web1 affects %v, want [certificate.www] (through target.out)", tt.name, ch.Affects)
				}
			}
			if d.HasChanges() != (len(tt.want) > 0) {
				t.Errorf("Compare(%s).HasChanges() = %v", tt.name, d.HasChanges())
			}
		})
	}
}

func TestCompareHeadErrors(t *testing.T) {
	head := with(baseHCL, "certs.hcl", strings.Replace(baseHCL["certs.hcl"], "issuer.internal", "issuer.intenral", 1))
	b := load(t, "base", baseHCL, testEnv)
	d := Compare(b, load(t, "head", head, testEnv), Options{Now: t0, Path: "certs/"})
	if !d.HasErrors() || len(d.Changes) != 0 {
		t.Fatalf("Compare(bad head) = %d errors, %d changes; want errors and no changes", d.Summary.Errors, len(d.Changes))
	}
	if got, want := d.Problems[0].Location(), "certs/certs.hcl:5:17"; got != want {
		t.Errorf("problem location = %q, want %q", got, want)
	}
	if got, want := d.SummaryLine(), "Diff: HEAD does not load (1 error)."; got != want {
		t.Errorf("SummaryLine() = %q, want %q", got, want)
	}

	// A broken BASE: HEAD's blocks all show as added.
	broken := with(baseHCL, "certs.hcl", "certificate {")
	d = Compare(load(t, "base", broken, testEnv), load(t, "head", baseHCL, testEnv), Options{Now: t0})
	if !d.BaseBroken || d.Summary.Add != 4 {
		t.Errorf("Compare(broken base) = BaseBroken %v, %d added; want true, 4", d.BaseBroken, d.Summary.Add)
	}
}

// TestSecretsNeverShown changes values read through env() and file()
// between the revisions and checks that no output format prints them.
func TestSecretsNeverShown(t *testing.T) {
	base := with(baseHCL, "token.txt", "tok-base-9f8e7d", "acme.hcl", `
issuer "acme" "le" {
  directory = "https://acme.example.com/dir"
  eab {
    kid      = "kid-1"
    hmac_key = file("token.txt")
  }
  http01 { port = 8080 }
}
`)
	head := with(base, "token.txt", "tok-head-1a2b3c")
	head = edit(t, head, "main.hcl", `url = env("OPS_WEBHOOK")`, `url = env("OPS_WEBHOOK_NEW")`)
	env := map[string]string{"OPS_WEBHOOK": "https://hooks.example.com/s3cr3t-base", "OPS_WEBHOOK_NEW": "https://hooks.example.com/s3cr3t-head"}
	d := Compare(load(t, "base", base, env), load(t, "head", head, env), Options{Now: t0})
	if len(d.Problems) > 0 {
		t.Fatalf("problems: %+v", d.Problems)
	}
	if got := ops(d); !slices.Equal(got, []opAddr{{OpUpdate, "issuer.le"}, {OpUpdate, "notifier.ops"}}) {
		t.Fatalf("changes = %v; want the issuer and the notifier updated", got)
	}
	assertNoSecrets(t, d, "tok-base-9f8e7d", "tok-head-1a2b3c", "s3cr3t-base", "s3cr3t-head")
}

// TestLiteralSecretsNeverShown: values that are secrets by what they are
// (a password, a chat webhook URL, a URL's password, a credential header,
// a DNS provider's token) stay hidden even when written as literals.
func TestLiteralSecretsNeverShown(t *testing.T) {
	notifiers := func(v string) string {
		return `
notifier "email" "mail" {
  host     = "smtp.example.com"
  from     = "certctl@example.com"
  to       = ["ops@example.com"]
  username = "certctl"
  password = "pw-` + v + `"
}
notifier "slack" "chat" { url = "https://hooks.slack.example.com/services/slack-` + v + `" }
notifier "webhook" "hook" {
  url     = "https://user:urlpw-` + v + `@hooks.example.com/x"
  headers = { Authorization = "Bearer hdr-` + v + `" }
  secret  = "sig-` + v + `"
}
issuer "acme" "dns" {
  directory = "https://acme.example.com/dir"
  dns01 {
    provider = "cloudflare"
    config   = { CLOUDFLARE_DNS_API_TOKEN = "dns-` + v + `" }
  }
}
`
	}
	base := with(baseHCL, "secrets.hcl", notifiers("one1"))
	head := with(baseHCL, "secrets.hcl", notifiers("two2"))
	d := compareFiles(t, base, head)
	if got := ops(d); !slices.Equal(got, []opAddr{{OpUpdate, "issuer.dns"}, {OpUpdate, "notifier.chat"}, {OpUpdate, "notifier.hook"}, {OpUpdate, "notifier.mail"}}) {
		t.Fatalf("changes = %v; want the issuer and three notifiers updated", got)
	}
	var secrets []string
	for _, p := range []string{"pw-", "slack-", "urlpw-", "hdr-", "sig-", "dns-"} {
		secrets = append(secrets, p+"one1", p+"two2")
	}
	assertNoSecrets(t, d, secrets...)
}

// assertNoSecrets renders d in every format and fails if any of secrets
// appears, or if no output says that a sensitive value changed.
func assertNoSecrets(t *testing.T, d *Diff, secrets ...string) {
	t.Helper()
	for _, f := range []reconcile.Format{reconcile.FormatText, reconcile.FormatJSON, reconcile.FormatMarkdown} {
		var b bytes.Buffer
		if err := NewView(reconcile.ViewOptions{Format: f}).Diff(&b, d); err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if strings.Contains(b.String(), secret) {
				t.Errorf("format %d shows the secret %q:\n%s", f, secret, b.String())
			}
		}
		if !strings.Contains(b.String(), "(sensitive)") {
			t.Errorf("format %d does not say that a sensitive value changed:\n%s", f, b.String())
		}
	}
}

func TestGolden(t *testing.T) {
	head := edit(t, baseHCL, "certs.hcl", `certificate "old" {`, `certificate "gone" {`)
	head = edit(t, head, "certs.hcl", `dns_names   = ["www.example.com"]`, `dns_names   = ["www.example.com", "*.example.com"]`)
	head = edit(t, head, "certs.hcl", `labels      = { env = "prod" }`, `labels      = { env = "prod", tier = "1" }`)
	head = edit(t, head, "main.hcl", `validity        = "90d"`, `validity        = "397d"`)
	head = edit(t, head, "main.hcl", `team "web" {}`, `team "web" { notifiers = [notifier.ops] }`)
	head = with(head, "certs.hcl", strings.Replace(head["certs.hcl"], `certificate "legacy" {
  common_name = "legacy.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
`, "", 1))
	d := compareFiles(t, baseHCL, head)
	for _, f := range []struct {
		name string
		f    reconcile.Format
	}{{"diff.txt", reconcile.FormatText}, {"diff.json", reconcile.FormatJSON}, {"diff.md", reconcile.FormatMarkdown}} {
		var b bytes.Buffer
		if err := NewView(reconcile.ViewOptions{Format: f.f}).Diff(&b, d); err != nil {
			t.Fatal(err)
		}
		golden(t, f.name+".golden", b.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}
