package acmetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// PebbleVersion is the pebble release the harness installs and whose test
// certificates it uses.
const PebbleVersion = "v2.10.3"

const pebbleModule = "github.com/letsencrypt/pebble/v2"

var (
	installMu sync.Mutex // one go install at a time in this process
	found     = map[string]string{}
	modDir    string
)

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if ci, _ := os.LookupEnv("CI"); ci == "true" || ci == "1" {
		t.Fatalf("acmetest: %s (CI=true: not skipping)", msg)
	}
	t.Skipf("acmetest: %s", msg)
}

// Binary returns the path of pebble or pebble-challtestsrv, installing it
// with go install when it is nowhere to be found.
func Binary(t testing.TB, name string) string {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	if p, ok := found[name]; ok {
		return p
	}
	if p := lookBinary(name); p != "" {
		found[name] = p
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pkg := pebbleModule + "/cmd/" + name + "@" + PebbleVersion
	if _, stderr, err := goCmd(ctx, "install", pkg); err != nil {
		unavailable(t, "go install %s: %v\n%s", pkg, err, stderr)
	}
	p := lookBinary(name)
	if p == "" {
		unavailable(t, "go install %s succeeded but %s is not in GOBIN or GOPATH/bin", pkg, name)
	}
	found[name] = p
	return p
}

// lookBinary searches PATH, GOBIN and each GOPATH's bin.
func lookBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if out, _, err := goCmd(context.Background(), "env", "GOBIN"); err == nil && strings.TrimSpace(out) != "" {
		dirs = append(dirs, strings.TrimSpace(out))
	}
	if out, _, err := goCmd(context.Background(), "env", "GOPATH"); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(out)) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// pebbleDir returns pebble's module directory in the module cache (for its
// test certificates), downloading the module if needed.
func pebbleDir(t testing.TB) string {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	if modDir != "" {
		return modDir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, stderr, err := goCmd(ctx, "mod", "download", "-json", pebbleModule+"@"+PebbleVersion)
	if err != nil {
		unavailable(t, "go mod download %s@%s: %v\n%s%s", pebbleModule, PebbleVersion, err, out, stderr)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Dir == "" {
		unavailable(t, "go mod download %s@%s: no module directory (%v %s)", pebbleModule, PebbleVersion, err, m.Error)
	}
	modDir = m.Dir
	return modDir
}

// goCmd runs the go command outside any module, without the caller's
// GOFLAGS (a -mod flag there would break `go install pkg@version`).
func goCmd(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out: %w", err)
	}
	return out.String(), errOut.String(), err
}
