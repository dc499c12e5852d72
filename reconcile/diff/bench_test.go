package diff

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/spec/gitsrc"
)

// config10k is a configuration of n certificates in files of 100, with
// the policy and issuer in main.hcl.
func config10k(n int) map[string]string {
	files := map[string]string{"main.hcl": `team "platform" {}
owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}
policy "standard" {
  validity        = "90d"
  key_algorithm   = "ecdsa-p384"
  allowed_key_algorithms = ["ecdsa-p384", "ecdsa-p256"]
  allowed_domains = ["example.com", "*.example.com"]
}
issuer "local_ca" "internal" { common_name = "Test CA" }
`}
	for f := 0; f*100 < n; f++ {
		var sb strings.Builder
		for i := f * 100; i < min(n, (f+1)*100); i++ {
			fmt.Fprintf(&sb, `certificate "h%05d" {
  common_name = "h%05d.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  labels      = { n = "%d" }
}
`, i, i, i)
		}
		files[fmt.Sprintf("certs_%03d.hcl", f)] = sb.String()
	}
	return files
}

// truncated reads the note the Markdown view ends with when it leaves
// rows out: the total and the count of each kind of row.
var truncatedNote = regexp.MustCompile(`Truncated to fit a comment: ([0-9,]+) rows left out \(([^)]*)\)`)

func leftOut(t *testing.T, md string) (int, map[string]int) {
	t.Helper()
	m := truncatedNote.FindStringSubmatch(md)
	if m == nil {
		t.Fatalf("the Markdown has no truncation note; it ends:\n%s", md[max(0, len(md)-500):])
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Logf("%d bytes; %s", len(md), m[0])
	parts := map[string]int{}
	for _, p := range strings.Split(m[2], ", ") {
		num, what, _ := strings.Cut(p, " ")
		parts[what] = atoi(num)
	}
	return atoi(m[1]), parts
}

func markdown(t testing.TB, d *Diff) string {
	var b bytes.Buffer
	if err := NewView(reconcile.ViewOptions{Format: reconcile.FormatMarkdown}).Diff(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestMarkdown10k renders changes to 10,000 certificates: the comment
// stays under the limit, and the rows it shows plus the rows it counts as
// left out are all of them.
func TestMarkdown10k(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 10,000 certificates twice")
	}
	const n = 10000
	base := config10k(n)
	t.Run("added", func(t *testing.T) {
		d := compareFiles(t, config10k(0), base)
		if d.Summary.Add != n {
			t.Fatalf("Summary.Add = %d, want %d", d.Summary.Add, n)
		}
		md := markdown(t, d)
		if len(md) > MaxMarkdown {
			t.Errorf("Markdown of %d added certificates is %d bytes, over %d", n, len(md), MaxMarkdown)
		}
		shown := strings.Count(md, "\n| `+` | `certificate.h")
		total, parts := leftOut(t, md)
		if shown+parts["certificate changes"] != n || total != parts["certificate changes"] {
			t.Errorf("%d rows shown + %d counted as left out (total %d), want %d", shown, parts["certificate changes"], total, n)
		}
		if !strings.HasSuffix(md, "for the whole diff.\n") {
			t.Errorf("the note is not the end of the comment")
		}
	})
	t.Run("policy downgrade", func(t *testing.T) {
		head := with(base, "main.hcl", strings.Replace(base["main.hcl"], `key_algorithm   = "ecdsa-p384"`, `key_algorithm   = "ecdsa-p256"`, 1))
		d := compareFiles(t, base, head)
		if d.Summary.Replace != n {
			t.Fatalf("Summary.Replace = %d, want %d", d.Summary.Replace, n)
		}
		md := markdown(t, d)
		if len(md) > MaxMarkdown {
			t.Errorf("Markdown is %d bytes, over %d", len(md), MaxMarkdown)
		}
		// The summary line, the attention item and the policy come first.
		for _, want := range []string{"**Diff: 0 certificates to add, 10000 to replace", "**key downgrade**: key_algorithm ecdsa-p384 → ecdsa-p256 (10000 certificates)", "| `~` | `policy.standard` |"} {
			if !strings.Contains(md, want) {
				t.Errorf("the Markdown lacks %q", want)
			}
		}
		shownRows := strings.Count(md, "\n| `-/+` | `certificate.h")
		shownDetails := strings.Count(md, "\n- `")
		total, parts := leftOut(t, md)
		if shownRows+parts["certificate changes"] != n {
			t.Errorf("%d replace rows shown + %d left out, want %d", shownRows, parts["certificate changes"], n)
		}
		// Details: the policy's and each certificate's.
		if shownDetails+parts["attribute details"] != n+1 {
			t.Errorf("%d details shown + %d left out, want %d", shownDetails, parts["attribute details"], n+1)
		}
		if total != parts["certificate changes"]+parts["attribute details"] {
			t.Errorf("total left out %d is not the sum of %v", total, parts)
		}
	})
}

// git runs git in dir with a configuration of its own.
func git(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// repo10k commits config10k(10000) under certs/, then a commit that
// changes one line, and returns the repository's directory.
func repo10k(b *testing.B) string {
	dir := b.TempDir()
	git(b, dir, "init", "-q", "-b", "main")
	files := config10k(10000)
	for name, src := range files {
		p := filepath.Join(dir, "certs", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	git(b, dir, "add", "-A")
	git(b, dir, "commit", "-q", "-m", "10,000 certificates")
	git(b, dir, "tag", "base")
	one := strings.Replace(files["certs_042.hcl"], `common_name = "h04207.example.com"`, `common_name = "h04207b.example.com"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "certs", "certs_042.hcl"), []byte(one), 0o644); err != nil {
		b.Fatal(err)
	}
	git(b, dir, "commit", "-q", "-am", "one line")
	git(b, dir, "gc", "-q") // as a clone is
	return dir
}

// BenchmarkDiff10k is certctl diff -markdown of a one-line change in a
// repository of 10,000 certificates, end to end: open the repository,
// load both revisions from git objects, compare, render the comment. It
// runs at GOGC=400 unless GOGC is set, as the command does.
func BenchmarkDiff10k(b *testing.B) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	dir := repo10k(b)
	b.ReportAllocs()
	for b.Loop() {
		repo, err := gitsrc.OpenRepo(dir)
		if err != nil {
			b.Fatal(err)
		}
		base, head, _, err := LoadRevisions(repo, "base", "HEAD", "certs", spec.Options{})
		if err != nil {
			b.Fatal(err)
		}
		d := Compare(base, head, Options{Path: "certs"})
		if len(d.Changes) != 1 || d.Changes[0].Op != OpReplace {
			b.Fatalf("diff of a one-line change = %+v", d.Changes)
		}
		if md := markdown(b, d); !strings.Contains(md, "`certificate.h04207`") {
			b.Fatalf("the Markdown lacks the change:\n%s", md)
		}
	}
}

// BenchmarkCompare10k is Compare alone on the one-line change, with both
// configurations loaded.
func BenchmarkCompare10k(b *testing.B) {
	files := config10k(10000)
	head := with(files, "certs_042.hcl", strings.Replace(files["certs_042.hcl"], `common_name = "h04207.example.com"`, `common_name = "h04207b.example.com"`, 1))
	br, hr := load(b, "base", files, nil), load(b, "head", head, nil)
	b.ReportAllocs()
	for b.Loop() {
		if d := Compare(br, hr, Options{}); len(d.Changes) != 1 {
			b.Fatalf("Compare = %d changes", len(d.Changes))
		}
	}
}
