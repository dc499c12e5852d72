package gitsrc

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Revision is one commit's view of the configuration directory.
type Revision struct {
	// SHA is the commit's full hexadecimal hash.
	SHA string
	// Author and AuthorEmail name the commit's author; Time is when it
	// was authored.
	Author, AuthorEmail string
	Time                time.Time
	// Subject is the first line of the commit message.
	Subject string
	// Path is the configuration directory inside the repository, clean
	// and slash-separated ("." for the root).
	Path string
	// FS holds the files under Path at the commit, read from git objects
	// on first use (never from a work tree). Pass it as spec.Options.FS.
	// It is safe for concurrent reads. A Repo's revisions stay readable
	// (git objects do not change); a Source's until its next Fetch.
	FS fs.FS
}

// ShortSHA is the SHA's first 12 digits, for messages.
func (r *Revision) ShortSHA() string {
	return r.SHA[:min(12, len(r.SHA))]
}

// Repo reads revisions of a local repository, a work tree or a bare one,
// without touching its work tree or index. It is safe for concurrent use.
type Repo struct {
	path string
	repo *git.Repository
	// mu serialises every read of the object store: go-git's storage is
	// not safe for concurrent use. The revisions' file systems share it.
	mu sync.Mutex
}

// OpenRepo opens the repository at path, or the one that contains path
// (as git does when run in a subdirectory); linked work trees (git
// worktree) are followed to their common repository. Errors name path.
func OpenRepo(path string) (*Repo, error) {
	r, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		// A bare repository has no .git to detect.
		r, err = git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	}
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("%s is not in a git repository", path)
		}
		return nil, fmt.Errorf("opening git repository %s: %w", path, err)
	}
	return &Repo{path: path, repo: r}, nil
}

// Revision resolves rev and returns the directory dir of that commit.
// rev is anything `git rev-parse` takes for a commit in the usual forms: a
// branch, a tag (annotated tags are peeled), a full or abbreviated SHA,
// HEAD, HEAD~1, HEAD^2, origin/main; "" means HEAD. dir is a
// slash-separated path inside the repository ("certs/", "./certs",
// "" or "." for the root). Errors name rev (and dir when it is the
// problem).
func (r *Repo) Revision(rev, dir string) (*Revision, error) {
	if rev == "" {
		rev = "HEAD"
	}
	clean, err := cleanDir(dir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) || errors.Is(err, plumbing.ErrObjectNotFound) {
			if shallow, _ := r.repo.Storer.Shallow(); len(shallow) > 0 {
				// CI checkouts often fetch one commit only.
				return nil, fmt.Errorf("unknown revision %q in %s, which is a shallow clone: fetch the history it needs (git fetch --unshallow, or fetch-depth: 0 in CI)", rev, r.path)
			}
			return nil, fmt.Errorf("unknown revision %q in %s", rev, r.path)
		}
		return nil, fmt.Errorf("resolving revision %q in %s: %w", rev, r.path, err)
	}
	c, err := r.repo.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s (revision %q) in %s: %w", h, rev, r.path, err)
	}
	out, err := newRevision(&r.mu, r.repo, c, clean)
	if err != nil {
		return nil, fmt.Errorf("revision %q (%s) in %s: %w", rev, h.String()[:12], r.path, err)
	}
	return out, nil
}

// newRevision describes commit c and roots its file system at dir. mu is
// held and guards repo's object store.
func newRevision(mu *sync.Mutex, repo *git.Repository, c *object.Commit, dir string) (*Revision, error) {
	root, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading the commit's tree: %w", err)
	}
	fsys := newTreeFS(mu, repo.Storer, root, c.Committer.When)
	if dir != "." {
		// Look dir up through the FS so that symbolic links resolve
		// as they do for files.
		p, e, err := fsys.lookup("open", dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("directory %s does not exist at this commit", dir)
		case err != nil:
			return nil, err
		case e.Mode != filemode.Dir:
			return nil, fmt.Errorf("%s is not a directory at this commit", dir)
		}
		t, err := fsys.dir(p, e.Hash)
		if err != nil {
			return nil, fmt.Errorf("reading directory %s: %w", dir, err)
		}
		fsys.dirs = map[string]*treeDir{".": t}
	}
	subject, _, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
	return &Revision{
		SHA:         c.Hash.String(),
		Author:      c.Author.Name,
		AuthorEmail: c.Author.Email,
		Time:        c.Author.When,
		Subject:     strings.TrimSpace(subject),
		Path:        dir,
		FS:          fsys,
	}, nil
}

// cleanDir turns a user's directory argument into a clean relative
// slash path, "." for the root.
func cleanDir(dir string) (string, error) {
	if dir == "" {
		return ".", nil
	}
	c := path.Clean(strings.ReplaceAll(dir, "\\", "/"))
	if !fs.ValidPath(c) {
		return "", fmt.Errorf("path %q must be a directory inside the repository, like certs/", dir)
	}
	return c, nil
}
