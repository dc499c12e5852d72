package main

import (
	"bytes"
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
