package watch

import (
	"context"

	"github.com/certctl/certctl/spec/gitsrc"
)

// GitOptions configure NewGitSource.
type GitOptions struct {
	// URL, Ref and Path name what to follow: a remote (https://, ssh://,
	// file:// or a local path), the branch, tag or commit, and the
	// configuration directory inside the repository.
	URL, Ref, Path string
	// CacheDir holds the clone.
	CacheDir string
	// Dir is the directory that relative paths in the configuration
	// (the state, file targets) are resolved against.
	Dir string
}

// GitSource follows a git remote by fetching it every Options.Poll (see
// spec/gitsrc): it has no change notifications.
type GitSource struct {
	src  *gitsrc.Source
	dir  string
	name string
}

var _ Source = (*GitSource)(nil)

// NewGitSource checks opts; nothing is fetched until Load.
func NewGitSource(opts GitOptions) (*GitSource, error) {
	src, err := gitsrc.NewSource(gitsrc.Options{URL: opts.URL, Ref: opts.Ref, Path: opts.Path, CacheDir: opts.CacheDir})
	if err != nil {
		return nil, err
	}
	name := "git " + src.URL() + " (" + src.Ref() + ")"
	if opts.Path != "" {
		name += " " + opts.Path
	}
	return &GitSource{src: src, dir: opts.Dir, name: name}, nil
}

func (g *GitSource) String() string { return g.name }

// Load fetches the remote and returns the ref's commit.
func (g *GitSource) Load(ctx context.Context) (*Revision, error) {
	r, err := g.src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	author := r.Author
	if r.AuthorEmail != "" {
		author += " <" + r.AuthorEmail + ">"
	}
	return &Revision{ID: r.SHA, Author: author, Subject: r.Subject, Time: r.Time, Dir: g.dir, FS: r.FS}, nil
}

// Watch returns nil: a remote is polled.
func (g *GitSource) Watch(ctx context.Context) (<-chan struct{}, error) { return nil, nil }
