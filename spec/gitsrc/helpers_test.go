package gitsrc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The tests build real repositories with the git command line, as an
// operator would, and read them back through go-git.

// gitEnv isolates git from the user's and the system's configuration.
func gitEnv(t testing.TB) []string {
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Alice Example",
		"GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_AUTHOR_DATE=2026-11-30T10:00:00Z",
		"GIT_COMMITTER_NAME=Bob CI",
		"GIT_COMMITTER_EMAIL=ci@example.com",
		"GIT_COMMITTER_DATE=2026-11-30T10:05:00Z",
	)
}

// run runs git in dir and returns its trimmed standard output.
func run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, msg)
	}
	return strings.TrimSpace(string(out))
}

// newRepo makes an empty work-tree repository whose branch is main.
func newRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	run(t, dir, "init", "-q", "-b", "main")
	return dir
}

// writeFiles writes name → content under dir, making directories.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// commit writes files, commits everything and returns the new SHA.
func commit(t testing.TB, dir, msg string, files map[string]string) string {
	t.Helper()
	writeFiles(t, dir, files)
	run(t, dir, "add", "-A")
	run(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return run(t, dir, "rev-parse", "HEAD")
}

// validConfig is a small configuration that loads without diagnostics.
const validConfig = `team "platform" {}
owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}
policy "standard" {
  validity        = "90d"
  allowed_domains = ["example.com", "*.example.com"]
}
issuer "local_ca" "internal" { common_name = "Test CA" }
`

// certBlock is one certificate of validConfig's issuer and policy.
func certBlock(name string) string {
	return `certificate "` + name + `" {
  common_name = "` + name + `.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
`
}
