package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks that the example unit's ExecStart runs certctl
// watch with flags it accepts.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "systemd", "certctl-watch.service"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, then find ExecStart in [Service].
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var exec string
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = line
		}
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok && section == "[Service]" {
			exec = v
		}
	}
	args := strings.Fields(strings.ReplaceAll(exec, "${CACHE_DIRECTORY}", "/var/cache/certctl"))
	if len(args) < 2 || filepath.Base(args[0]) != "certctl" || args[1] != "watch" {
		t.Fatalf("ExecStart = %q, want certctl watch …", exec)
	}
	var stderr bytes.Buffer
	e := &env{stderr: &stderr, stdout: &stderr}
	var f watchFlags
	fs := watchFlagSet(e, &f)
	if err := fs.Parse(args[2:]); err != nil {
		t.Fatalf("watch flags of the unit: %v\n%s", err, stderr.String())
	}
	if fs.NArg() != 0 {
		t.Errorf("ExecStart leaves arguments %q", fs.Args())
	}
	if err := f.check(); err != nil {
		t.Errorf("watch flags of the unit: %v", err)
	}
	if f.gitURL == "" || f.logFormat != "json" {
		t.Errorf("the unit follows %q logging %s; want a git source and JSON logs", f.gitURL, f.logFormat)
	}
	for _, want := range []string{"User=certctl", "StateDirectory=certctl", "Restart=on-failure", "KillSignal=SIGTERM"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
}

// TestServerPKIPaths: CRL and OCSP paths reach their handler as sent; the
// mux would clean an OCSP GET's "//" into a redirect.
func TestServerPKIPaths(t *testing.T) {
	s := newServer(slog.New(slog.DiscardHandler))
	for _, path := range []string{"/.well-known/pki/ocsp/nope/MEIwQDA+//A8MDowOTAJ", "/.well-known/pki/crl/nope"} {
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d %s, want 404 from the PKI handler (no such issuer)", path, rec.Code, rec.Body)
		}
	}
}
