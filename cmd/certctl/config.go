package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// defaultStatePath is where the state lives when neither -state,
// CERTCTL_STATE nor the certctl block says otherwise; relative to the
// configuration directory.
const defaultStatePath = ".certctl/state.db"

// loadConfig loads the configuration directory, printing diagnostics (with
// source lines) to stderr. ok is false when there were errors.
func (e *env) loadConfig() (*spec.Config, bool) {
	cfg, parser, diags := spec.Load(e.dir)
	if !diags.HasErrors() && cfg != nil {
		diags = append(diags, reconcile.CheckNotifiers(cfg)...)
	}
	if len(diags) > 0 {
		_ = parser.WriteDiagnostics(e.stderr, diags, useColor(e.stderr))
	}
	if diags.HasErrors() || cfg == nil {
		return nil, false
	}
	return cfg, true
}

// statePath resolves the state file: -state or CERTCTL_STATE, then the
// certctl block's state, then the default; relative paths are relative to
// the configuration directory (as the config's own paths are).
func (e *env) statePath(cfg *spec.Config) string {
	p := e.state
	if p != "" {
		return p // a flag or environment path is relative to the caller's cwd
	}
	if cfg != nil && cfg.Settings.State != "" {
		p = cfg.Settings.State
	} else {
		p = defaultStatePath
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.dir, p)
}

// loadAndRead loads the configuration and reads the state (readSnapshot),
// as plan, show and status begin. On failure it has reported the error.
func (e *env) loadAndRead() (*spec.Config, *state.Snapshot, bool) {
	cfg, ok := e.loadConfig()
	if !ok {
		return nil, nil, false
	}
	snap, err := e.readSnapshot(cfg)
	if err != nil {
		e.errorf("%v", err)
		return nil, nil, false
	}
	return cfg, snap, true
}

// readSnapshot reads the state without creating it: a state that does not
// exist yet reads as empty (nothing applied). It reads a Summary: plan,
// show and status need no certificate PEMs or keys, and leaving them out
// leaves most of the file unread.
func (e *env) readSnapshot(cfg *spec.Config) (*state.Snapshot, error) {
	path := e.statePath(cfg)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return &state.Snapshot{}, nil
	}
	releaseLoadGarbage() // before the state is mapped: memory.go
	db, err := state.Open(path, state.Options{ReadOnly: true})
	if errors.Is(err, fs.ErrNotExist) {
		return &state.Snapshot{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Summary(e.ctx)
}
