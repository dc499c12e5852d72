package main

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/diff"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/spec/gitsrc"
	"github.com/certctl/certctl/state"
)

// cmdDiff is `certctl diff BASE HEAD`: what a change to the configuration
// between two git revisions does, read from git objects (no checkout).
// Exit status as plan -detailed-exitcode: 0 no changes, 2 changes, 1 an
// error (including errors in the configuration at HEAD).
func cmdDiff(e *env, args []string) int {
	fs := newFlags(e, "diff", " [-git DIR] [-path DIR] [-json|-markdown] BASE HEAD")
	var out outputFlags
	out.register(fs, true)
	gitDir := fs.String("git", "", "the git repository (default: the one holding the configuration directory)")
	path := fs.String("path", "", "the configuration `DIR` inside the repository (default: the configuration directory's place in it)")
	revs, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	if len(revs) != 2 {
		fs.Usage()
		return e.errorf("diff takes two revisions, BASE and HEAD; got %d", len(revs))
	}
	if *gitDir == "" {
		*gitDir = e.dir
	}
	// Two loads of a large configuration allocate several times what they
	// keep; collect as apply does (memory.go): BenchmarkDiff10k ran in
	// about two thirds of the time at GOGC=400.
	tuneGCForApply()
	repo, err := gitsrc.OpenRepo(*gitDir)
	if err != nil {
		return e.errorf("%v", err)
	}
	if *path == "" {
		*path = dirInRepo(*gitDir, e.dir)
	}
	base, head, parser, err := diff.LoadRevisions(repo, revs[0], revs[1], *path, spec.Options{})
	if err != nil {
		return e.errorf("%v", err)
	}
	snap, err := e.diffSnapshot(head.Config)
	if err != nil {
		return e.errorf("%v", err)
	}
	d := diff.Compare(base, head, diff.Options{Snapshot: snap, Now: time.Now(), Path: *path})
	view := out.view(e)
	if len(head.Diags) > 0 && view.Format != reconcile.FormatText {
		// The document names each problem; the log gets the source lines.
		_ = parser.WriteDiagnostics(e.stderr, head.Diags, useColor(e.stderr))
	}
	if err := diff.NewView(view).Diff(e.stdout, d); err != nil {
		return e.errorf("writing diff: %v", err)
	}
	switch {
	case d.HasErrors():
		return exitError
	case d.HasChanges():
		return exitChanges
	}
	return exitOK
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (`diff main HEAD -markdown`), which flag stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if code, ok := parseFlags(fs, args); !ok {
			return nil, code, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// diffSnapshot reads the state for diff, read-only, if it exists: a CI job
// usually has none, and the diff is then of the configurations alone.
func (e *env) diffSnapshot(head *spec.Config) (*state.Snapshot, error) {
	if head == nil {
		return nil, nil
	}
	if _, err := os.Stat(e.statePath(head)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return e.readSnapshot(head)
}

// dirInRepo is dir's path inside the repository that holds gitDir, "." when
// dir is its root or outside it.
func dirInRepo(gitDir, dir string) string {
	root, err := filepath.Abs(gitDir)
	if err != nil {
		return "."
	}
	for {
		if _, err := os.Stat(filepath.Join(root, ".git")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "." // a bare repository: the configuration is at its root unless -path says otherwise
		}
		root = parent
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "."
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "."
	}
	return filepath.ToSlash(rel)
}
