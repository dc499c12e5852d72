package spec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestSensitiveNotLeaked checks that values read with env() never show in
// the formatted diagnostics, however they reach them: our own messages,
// hcl's messages, or the "with local.x as ..." context the text writer adds.
func TestSensitiveNotLeaked(t *testing.T) {
	_, p, diags := load(t, "testdata/invalid/sensitive")
	if !diags.HasErrors() {
		t.Fatal("no diagnostics")
	}
	text := diagText(p, diags)
	for _, k := range []string{"SECRET_HOST", "SECRET_WEBHOOK_PATH"} {
		if strings.Contains(text, testEnv[k]) {
			t.Errorf("the value of %s appears in the diagnostics:\n%s", k, text)
		}
	}
	if !strings.Contains(text, "(sensitive value)") {
		t.Errorf("diagnostics do not say a value was withheld:\n%s", text)
	}
}

// TestScrubSecrets covers the last line of defence: a message that
// contains a string env() returned is scrubbed even if its code forgot to.
func TestScrubSecrets(t *testing.T) {
	l := newLoader(t.TempDir(), Options{})
	l.recordSecret("top-secret-value")
	l.errorf(l.cfg.Settings.DeclRange, "Oops top-secret-value", "it was top-secret-value.")
	diags := l.finish()
	if got := diags[0].Summary + diags[0].Detail; strings.Contains(got, "top-secret") {
		t.Errorf("finish left a secret: %q", got)
	}
}

func TestDidYouMean(t *testing.T) {
	_, _, diags := load(t, "testdata/invalid/unknown_reference")
	want := map[string]string{
		"Unknown issuer":   `There is no issuer named "internl". Did you mean issuer.internal?`,
		"Unknown notifier": `There is no notifier named "opz". Did you mean notifier.ops?`,
		"Unknown team":     `There is no team named "nobody". Declare it with a team block, or fix the reference.`,
	}
	for _, d := range diags {
		if w, ok := want[d.Summary]; ok {
			if d.Detail != w {
				t.Errorf("%s: Detail = %q, want %q", d.Summary, d.Detail, w)
			}
			delete(want, d.Summary)
		}
	}
	for s := range want {
		t.Errorf("no %q diagnostic", s)
	}
}

func TestDuplicateDetail(t *testing.T) {
	_, _, diags := load(t, "testdata/invalid/duplicate_name")
	for _, d := range diags {
		if d.Summary == "Duplicate certificate" {
			if !strings.HasPrefix(d.Detail, `A certificate named "www" was already declared at first.hcl:1.`) {
				t.Errorf("Detail = %q", d.Detail)
			}
			return
		}
	}
	t.Error("no Duplicate certificate diagnostic")
}

func TestWriteDiagnosticsLocation(t *testing.T) {
	_, p, diags := load(t, "testdata/invalid/unknown_reference")
	text := diagText(p, diags)
	for _, want := range []string{
		"Error: main.hcl:20:17: Unknown issuer",
		"  20:   issuer      = issuer.internl",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics text lacks %q:\n%s", want, text)
		}
	}
}

func TestSyntaxErrorReturnsNilConfig(t *testing.T) {
	cfg, p, diags := load(t, "testdata/invalid/syntax_error")
	if cfg != nil || !diags.HasErrors() {
		t.Errorf("Load = %v, %v; want nil Config and errors", cfg, diags)
	}
	if p == nil || p.Files()["main.hcl"] == nil {
		t.Error("the Parser does not hold main.hcl, so the error cannot show its source")
	}
}

func TestLoadEmptyAndMissingDir(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "nope")} {
		cfg, p, diags := Load(dir)
		if cfg != nil || !diags.HasErrors() || p == nil {
			t.Errorf("Load(%s) = %v, %v, %v; want nil, a Parser, errors", dir, cfg, p, diags)
		}
	}
}

// TestLoadFS loads from an fs.FS (as from a git revision), with a variable
// set through Options.Vars, which wins over the environment.
func TestLoadFS(t *testing.T) {
	src, err := os.ReadFile("testdata/valid/minimal/main.hcl")
	if err != nil {
		t.Fatal(err)
	}
	extra := `
variable "host" {
  default = "default.example.com"
}
variable "names" {
  type    = list(string)
  default = []
}
certificate "fromvar" {
  common_name = var.host
  dns_names   = var.names
  labels      = { note = trimspace(nonsensitive(file("sub/note.txt"))) }
  issuer      = issuer.ca
  policy      = policy.p
  owner       = owner.o
  team        = team.t
}
`
	fsys := fstest.MapFS{
		"main.hcl":     {Data: src},
		"vars.hcl":     {Data: []byte(extra)},
		"ignored.txt":  {Data: []byte("not hcl {")},
		".hidden.hcl":  {Data: []byte("not hcl {")},
		"sub/note.txt": {Data: []byte(" hello \n")},
		"sub/x.hcl":    {Data: []byte("not read {")},
	}
	env := func(k string) (string, bool) {
		m := map[string]string{"CERTCTL_VAR_host": "env.example.com", "CERTCTL_VAR_names": `["a.example.com", "b.example.com"]`}
		v, ok := m[k]
		return v, ok
	}
	cfg, p, diags := LoadWith("rev:HEAD", Options{FS: fsys, LookupEnv: env, Vars: map[string]string{"host": "vars.example.com"}})
	if diags.HasErrors() {
		t.Fatalf("diagnostics:\n%s", diagText(p, diags))
	}
	c := cfg.Certificates["fromvar"]
	if c.CommonName != "vars.example.com" || !reflect.DeepEqual(c.DNSNames, []string{"a.example.com", "b.example.com"}) || c.Labels["note"] != "hello" {
		t.Errorf("fromvar = CN %q DNS %q labels %v", c.CommonName, c.DNSNames, c.Labels)
	}
	if cfg.Dir != "rev:HEAD" {
		t.Errorf("Dir = %q", cfg.Dir)
	}
	if got := sortedKeys(p.Files()); !reflect.DeepEqual(got, []string{"main.hcl", "vars.hcl"}) {
		t.Errorf("Files() = %q", got)
	}
}

func TestConfigFiles(t *testing.T) {
	got, err := ConfigFiles("testdata/valid/full")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"certificates.hcl", "delivery.hcl", "extra.hcl.json", "main.hcl"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigFiles = %q, want %q", got, want)
	}
}

func TestFormat(t *testing.T) {
	in := "team \"a\" {\nnotifiers=[ notifier.x ]\n}\ncertificate \"b\" {\n  common_name = \"x\"\n  issuer = issuer.y\n}\n"
	want := "team \"a\" {\n  notifiers = [notifier.x]\n}\ncertificate \"b\" {\n  common_name = \"x\"\n  issuer      = issuer.y\n}\n"
	if got := string(Format([]byte(in))); got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
	if got := Format([]byte(want)); !bytes.Equal(got, []byte(want)) {
		t.Errorf("Format is not idempotent:\n%s", got)
	}
}

// TestDeterministic loads the same invalid directory twice and expects the
// same diagnostics in the same order.
func TestDeterministic(t *testing.T) {
	for _, dir := range []string{"testdata/invalid/policy_violation", "testdata/invalid/bad_values"} {
		_, p1, d1 := load(t, dir)
		_, p2, d2 := load(t, dir)
		if a, b := diagText(p1, d1), diagText(p2, d2); a != b {
			t.Errorf("%s: two loads differ:\n%s\n---\n%s", dir, a, b)
		}
	}
}

// writeBenchConfig writes nFiles files holding nCerts certificates in all,
// a third of them in for_each blocks, as `certctl plan` at scale sees them.
func writeBenchConfig(tb testing.TB, dir string, nFiles, nCerts int) {
	tb.Helper()
	common := `
team "platform" { notifiers = [notifier.ops] }
owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}
notifier "webhook" "ops" { url = "https://hooks.example.com/x" }
policy "standard" {
  validity        = "90d"
  allowed_domains = ["example.com", "*.example.com", ".svc.example.com"]
}
issuer "local_ca" "internal" { common_name = "Bench CA" }
agent "web1" { token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }
target "file" "out" {
  agent = agent.web1
  dir   = "out"
}
locals { zone = "example.com" }
`
	if err := os.WriteFile(filepath.Join(dir, "common.hcl"), []byte(common), 0o644); err != nil {
		tb.Fatal(err)
	}
	per := nCerts / nFiles
	for f := 0; f < nFiles; f++ {
		var b strings.Builder
		n := 0
		for n < per {
			if n%15 == 0 && per-n >= 5 {
				fmt.Fprintf(&b, `certificate "set%d_%d" {
  for_each    = toset([%s])
  common_name = "${each.key}.svc.example.com"
  dns_names   = ["${each.key}.svc.example.com", "${each.key}-alt.svc.example.com"]
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out]
}
`, f, n, quotedRange(f, n, 5))
				n += 5
				continue
			}
			fmt.Fprintf(&b, `certificate "c%d_%d" {
  common_name  = "c%d-%d.${local.zone}"
  dns_names    = ["c%d-%d.example.com", "www.c%d-%d.svc.example.com"]
  ip_addresses = ["10.%d.%d.1"]
  issuer       = issuer.internal
  policy       = policy.standard
  owner        = owner.alice
  team         = team.platform
  targets      = [target.out]
  notifiers    = [notifier.ops]
  labels       = { env = "prod", n = "%d" }
}
`, f, n, f, n, f, n, f, n, f%256, n%256, n)
			n++
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("certs%03d.hcl", f)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func quotedRange(f, n, k int) string {
	q := make([]string, k)
	for i := range q {
		q[i] = fmt.Sprintf(`"s%d-%d-%d"`, f, n, i)
	}
	return strings.Join(q, ", ")
}

// TestLoadScale loads 10,000 certificates in 100 files, the size of the
// `certctl plan` budget. The time limit only catches accidental quadratic
// work (which would take minutes); the real measure is BenchmarkLoad,
// since shared CI machines and -race make wall-clock limits flaky.
func TestLoadScale(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	writeBenchConfig(t, dir, 100, 10000)
	start := time.Now()
	cfg, p, diags := Load(dir)
	elapsed := time.Since(start)
	if diags.HasErrors() {
		t.Fatalf("diagnostics:\n%s", diagText(p, diags))
	}
	if len(cfg.Certificates) != 10000 {
		t.Fatalf("%d certificates, want 10000", len(cfg.Certificates))
	}
	t.Logf("loaded 10,000 certificates in %v", elapsed)
	if elapsed > 20*time.Second {
		t.Errorf("Load took %v; is something quadratic?", elapsed)
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := b.TempDir()
			writeBenchConfig(b, dir, 100, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, diags := Load(dir); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
		})
	}
}

// BenchmarkLoadLiteral loads 10,000 certificates written as literals, one
// block each in 100 files, as certctl-bench generates them: the blocks are
// decoded as soon as their file is parsed (see prepareCertificate).
func BenchmarkLoadLiteral(b *testing.B) {
	dir := b.TempDir()
	writeLiteralBenchConfig(b, dir, 100, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, diags := Load(dir); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

func writeLiteralBenchConfig(tb testing.TB, dir string, nFiles, nCerts int) {
	tb.Helper()
	common := `
team "platform" {}
owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}
policy "standard" {
  validity        = "90d"
  allowed_domains = ["example.com", "*.example.com", "*.internal.example.com"]
}
issuer "local_ca" "internal" { common_name = "Bench CA" }
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(common), 0o644); err != nil {
		tb.Fatal(err)
	}
	per := nCerts / nFiles
	for f := 0; f < nFiles; f++ {
		var b strings.Builder
		for i := f * per; i < (f+1)*per; i++ {
			fmt.Fprintf(&b, `certificate "h%05d" {
  common_name = "h%05d.example.com"
  dns_names   = ["h%05d.example.com", "h%05d.internal.example.com"]
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  labels      = { env = "prod", shard = "s%03d" }
}

`, i, i, i, i, f)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("certs_%03d.hcl", f)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestForEachErrorsReportedOnce(t *testing.T) {
	_, p, diags := load(t, "testdata/invalid/for_each_misuse")
	n := 0
	for _, d := range diags {
		if d.Summary == "Invalid duration" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d Invalid duration diagnostics, want 1:\n%s", n, diagText(p, diags))
	}
}
