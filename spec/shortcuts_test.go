package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// shortcutCases are configurations, by file name, that exercise what the
// shortcuts of a large load must get right: certificates decoded early
// next to deferred ones, duplicates across files, errors and secrets in
// blocks that turn out to be duplicates, literals of every shape.
var shortcutCases = map[string]map[string]string{
	"mixed": {
		"a.hcl": `
certificate "www" {
  common_name = "www.example.com"
  dns_names   = ["www.example.com", "WWW.example.com", "bad..name", "x.other.org"]
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  labels      = { a = "b", n = 1 }
}
certificate "www" {
  common_name = env("SECRET_HOST")
  validity    = "90x"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
certificate "9bad" {
  common_name = env("SECRET_WEBHOOK_PATH")
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
certificate "refs" {
  common_name = "refs.example.com"
  issuer      = issuer.nope
  policy      = policy.standrd
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out, target.out, "x", team.platform]
  notifiers   = notifier.ops
}
certificate "s" {
  for_each    = toset(["a", "b"])
  common_name = "${each.key}.example.org"
  validity    = "1x"
  issuer      = issuer.short
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
`,
		"b.hcl": `
team "platform" {}
owner "alice" { team = team.platform }
policy "standard" {
  validity        = "30d"
  max_validity    = "40d"
  renew_before    = "20d"
  allowed_domains = ["example.com", "hunter2-very-secret", "zz-top-secret-path"]
  key_algorithm   = "ecdsa-p256"
  allowed_key_algorithms = ["ecdsa-p256"]
}
issuer "local_ca" "internal" { max_validity = "60d" }
issuer "local_ca" "short" { max_validity = "10d" }
target "file" "out" { dir = "out" }
variable "region" { default = "us" }
locals { zone = "example.com" }
certificate "www" {
  common_name = "third.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
certificate "v" {
  common_name   = "${var.region}.${local.zone}"
  key_algorithm = "rsa-2048"
  issuer        = issuer.internal
  policy        = policy.standard
  owner         = owner.alice
  team          = team.platform
}
certificate "long" {
  common_name     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com"
  ip_addresses    = ["10.0.0.1", "10.0.0.01", "::1", "0:0::1", 1]
  email_addresses = ["a@b", "a@b", "bad"]
  key_algorithm   = "rsa-1024"
  validity        = "50d"
  on_remove       = "revok"
  issuer          = issuer.short
  policy          = policy.standard
  owner           = owner.alice
  team            = team.platform
  bogus           = 1
  nested {}
}
certificate "fns" {
  common_name     = nosuch("x")
  dns_names       = split(",", "a.example.com,b.example.com,a.example.com")
  email_addresses = tolist(["x@example.com"])
  labels          = merge({ a = "1" }, { b = 2 })
  validity        = nonsensitive(env("SECRET_HOST"))
  issuer          = issuer.internal
  policy          = policy.standard
  owner           = owner.alice
  team            = team.platform
}
certificate "nulls" {
  common_name   = null
  dns_names     = ["a.example.com", null]
  labels        = { x = null }
  key_algorithm = 5
  validity      = "0s"
  issuer        = issuer.internal
  policy        = policy.standard
  owner         = owner.alice
  team          = team.platform
}
certificate "secret" {
  common_name = env("UNSET_VARIABLE")
  dns_names   = [env("SECRET_HOST")]
  labels      = { k = file("b.hcl") }
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
certificate "each" {
  common_name = each.key
  issuer      = var.region
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
certificate "short" {
  common_name = "short.example.com"
  issuer      = issuer.short
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
`,
		"c.hcl.json": `{
  "certificate": {
    "j1": {
      "common_name": "j1.example.com",
      "dns_names": ["j1.example.com", "j1.other.org"],
      "issuer": "issuer.internal", "policy": "policy.standard", "owner": "owner.alice", "team": "team.platform"
    },
    "j2": {
      "common_name": "j2.${local.zone}",
      "validity": 5,
      "issuer": "issuer.internal", "policy": "policy.standard", "owner": "owner.alice", "team": "team.platform"
    }
  }
}`,
	},
	"literals": {
		"main.hcl": `
team "t" {}
owner "o" { team = team.t }
policy "p" {}
issuer "local_ca" "ca" {}
` + literalCerts(
			`labels = { a = "1", a = "2" }`,
			`labels = { "a" = "1", a = "2" }`,
			"labels = { \"cafe\u0301\" = \"x\", \"caf\u00e9\" = \"y\" }",
			"labels = { caf\u00e9 = \"x\" }",
			"labels = { cafe\u0301 = \"x\" }",
			`labels = { (a) = "x" }`,
			`labels = { null = "x", true = "y", false = "z" }`,
			`labels = { a.b = "x" }`,
			`labels = { "x" = 1, y = true }`,
			"labels = {}\n  dns_names = []\n  ip_addresses = []",
			"common_name = \"e\u0301.example.com\"\n  dns_names = [\"\u00e9.example.com\", \"e\u0301.example.com\"]",
			`labels = { "a b" = "c\n", "${"k"}" = "v" }`,
			`labels = { a = "x", b = null }`,
			"dns_names = [\"a.example.com\", 1]\n  email_addresses = [\"x@example.com\", \"x@example.com\"]",
			`dns_names = ("a.example.com")`,
			"common_name = <<EOT\nheredoc.example.com\nEOT\n  labels = { a = <<EOT\nmulti\nEOT\n  }",
			"on_remove = \"revoke\"\n  key_algorithm = \"rsa-2048\"\n  validity = \"30d\"",
			`common_name = "%{ if true }x%{ endif }.example.com"`,
			`common_name = "$${x}.example.com"`,
		),
	},
	"names": {
		"main.hcl": `
team "t" {}
owner "o" { team = team.t }
policy "p" {}
issuer "local_ca" "ca" {}
certificate {
  common_name = "a.example.com"
}
certificate "a" "b" {
  common_name = "a.example.com"
}
certificate "ok" {
  common_name = "ok.example.com"
  issuer = issuer.ca
  policy = policy.p
  owner = owner.o
  team = team.t
}
nosuchblock "x" {}
foo = 1
`,
	},
	"syntax": {
		"a.hcl": `
certificate "c" {
  common_name = env("SECRET_HOST")
  issuer = issuer.ca
  policy = policy.p
  owner = owner.o
  team = team.t
}
`,
		"b.hcl": "team \"t\" {\n  x = \n}\n",
	},
}

// literalCerts writes one certificate block per body.
func literalCerts(bodies ...string) string {
	var b strings.Builder
	for i, body := range bodies {
		cn := fmt.Sprintf("  common_name = \"l%d.example.com\"\n", i)
		if strings.Contains(body, "common_name") {
			cn = ""
		}
		fmt.Fprintf(&b, "certificate \"l%d\" {\n%s  %s\n  issuer = issuer.ca\n  policy = policy.p\n  owner = owner.o\n  team = team.t\n}\n\n", i, cn, body)
	}
	return b.String()
}

// TestShortcutsChangeNothing loads every fixture and shortcutCases both
// ways, with and without the shortcuts of a large load, and compares the
// results: the Config, and every diagnostic as data and as text.
func TestShortcutsChangeNothing(t *testing.T) {
	var dirs []string
	for _, kind := range []string{"valid", "invalid"} {
		for _, name := range subdirs(t, filepath.Join("testdata", kind)) {
			dirs = append(dirs, filepath.Join("testdata", kind, name))
		}
	}
	for name, files := range shortcutCases {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, src := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, dir)
	}
	bench := t.TempDir()
	writeBenchConfig(t, bench, 4, 200)
	dirs = append(dirs, bench)

	opts := Options{LookupEnv: lookupTestEnv}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, p, diags := loadWith(dir, opts, false)
			wantCfg, wantP, wantDiags := loadWith(dir, opts, true)
			if got, want := describeDiags(p, diags), describeDiags(wantP, wantDiags); got != want {
				t.Errorf("diagnostics differ from the reference load:\n%s\nwant:\n%s", got, want)
			}
			if !reflect.DeepEqual(cfg, wantCfg) {
				t.Errorf("Config differs from the reference load")
			}
			if got, want := sortedKeys(p.Files()), sortedKeys(wantP.Files()); !reflect.DeepEqual(got, want) {
				t.Errorf("Files() = %q, want %q", got, want)
			}
		})
	}
}

func describeDiags(p *Parser, diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%d %q %q %v expr=%v ctx=%v\n", d.Severity, d.Summary, d.Detail, d.Subject, d.Expression != nil, d.EvalContext != nil)
	}
	return b.String() + diagText(p, diags)
}

// TestBlockNav checks that blockNav answers as hclsyntax's navigation, at
// every offset of every fixture file.
func TestBlockNav(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	type navigator interface {
		ContextString(offset int) string
		ContextDefRange(offset int) hcl.Range
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		want := f.Nav.(navigator)
		got := newBlockNav(f.Body.(*hclsyntax.Body))
		for off := 0; off <= len(src); off++ {
			if g, w := got.ContextString(off), want.ContextString(off); g != w {
				t.Fatalf("%s: ContextString(%d) = %q, want %q", name, off, g, w)
			}
			if g, w := got.ContextDefRange(off), want.ContextDefRange(off); g != w {
				t.Fatalf("%s: ContextDefRange(%d) = %v, want %v", name, off, g, w)
			}
		}
	}
}
