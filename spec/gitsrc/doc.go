// Package gitsrc reads certctl configurations out of git: the files of a
// configuration directory at a commit, as an fs.FS for spec.LoadWith, read
// from git objects without a checkout.
//
// There are two entry points. OpenRepo reads revisions of a repository on
// disk (what `certctl diff BASE HEAD` needs):
//
//	repo, err := gitsrc.OpenRepo(".")
//	rev, err := repo.Revision("origin/main", "certs/")
//	cfg, parser, diags := spec.LoadWith(rev.Path, spec.Options{FS: rev.FS})
//
// NewSource follows a remote (what `certctl watch -git URL` needs): the
// first Fetch clones it into a cache directory, later ones fetch, and each
// returns the commit the ref points at, force-pushes included. Credentials
// come from the environment (see Options) and never appear in errors.
//
// Diagnostics from a revision name files relative to the configuration
// directory ("main.hcl"), as a load from the work tree does.
package gitsrc
