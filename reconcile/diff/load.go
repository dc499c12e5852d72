package diff

import (
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
