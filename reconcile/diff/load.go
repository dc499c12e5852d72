package diff

import (
	"errors"
	"fmt"
	"io/fs"
	pathpkg "path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/spec/gitsrc"
)

// LoadRevision reads the configuration directory path at revision rev of
// repo (from git objects: no checkout, nothing written) and loads it with
// opts (whose FS it sets). The Revision carries the diagnostics, with the
// notifier checks certctl validate makes; the Parser prints them with
// their source lines. The error is for a revision or path that cannot be
// read, not for a configuration with errors.
func LoadRevision(repo *gitsrc.Repo, rev, path string, opts spec.Options) (Revision, *spec.Parser, error) {
	r, err := repo.Revision(rev, path)
	if err != nil {
		if missing, ok := missingDir(repo, rev, path); ok {
			// A pull request that adds (or removes) the configuration:
			// the side without it loads as broken, not as an error.
			return missing, nil, nil
		}
		return Revision{}, nil, err
	}
	opts.FS = r.FS
	cfg, parser, diags := spec.LoadWith(r.Path, opts)
	if cfg != nil && !diags.HasErrors() {
		diags = append(diags, reconcile.CheckNotifiers(cfg)...)
	}
	return Revision{Rev: rev, SHA: r.SHA, Config: cfg, Diags: diags}, parser, nil
}

// LoadRevisions is LoadRevision for BASE and HEAD, loaded at the same
// time: much of a load is sequential (decoding after the parse), and the
// two overlap. It returns HEAD's Parser, for its diagnostics.
func LoadRevisions(repo *gitsrc.Repo, baseRev, headRev, path string, opts spec.Options) (base, head Revision, headParser *spec.Parser, err error) {
	var baseErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		base, _, baseErr = LoadRevision(repo, baseRev, path, opts)
	}()
	head, headParser, err = LoadRevision(repo, headRev, path, opts)
	<-done
	if baseErr != nil {
		return Revision{}, Revision{}, nil, baseErr
	}
	if err != nil {
		return Revision{}, Revision{}, nil, err
	}
	return base, head, headParser, nil
}

// missingDir reports whether rev exists but has no directory path, and
// then returns the Revision that says so.
func missingDir(repo *gitsrc.Repo, rev, path string) (Revision, bool) {
	root, err := repo.Revision(rev, "")
	if err != nil {
		return Revision{}, false
	}
	clean := strings.Trim(pathpkg.Clean("/"+path), "/")
	if clean == "" {
		return Revision{}, false
	}
	if _, err := fs.Stat(root.FS, clean); !errors.Is(err, fs.ErrNotExist) {
		return Revision{}, false
	}
	return Revision{Rev: rev, SHA: root.SHA, Diags: hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "No configuration directory",
		Detail:   fmt.Sprintf("The directory %s does not exist at revision %s (%s).", clean, rev, root.ShortSHA()),
	}}}, true
}
