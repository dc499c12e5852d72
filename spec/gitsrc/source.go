package gitsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// The environment variables that carry credentials. Their values never
// appear in errors.
const (
	// EnvToken is an HTTPS access token, sent as the password of HTTP
	// basic authentication with EnvUsername (default "git") as the user;
	// GitHub, GitLab, Gitea and Bitbucket accept tokens this way.
	EnvToken = "CERTCTL_GIT_TOKEN"
	// EnvUsername and EnvPassword are HTTPS basic-authentication
	// credentials, used when EnvToken is not set.
	EnvUsername = "CERTCTL_GIT_USERNAME"
	EnvPassword = "CERTCTL_GIT_PASSWORD"
	// EnvCAFile names a PEM file of CA certificates trusted for HTTPS in
	// addition to the system's (a git server with a private CA).
	EnvCAFile = "CERTCTL_GIT_CA_FILE"
	// EnvSSHKey is an SSH private key for ssh:// and user@host:path URLs:
	// the path of a key file, or the PEM text itself. Without it the SSH
	// agent (SSH_AUTH_SOCK) is used.
	EnvSSHKey = "CERTCTL_GIT_SSH_KEY"
	// EnvSSHKeyPassphrase decrypts an encrypted EnvSSHKey.
	EnvSSHKeyPassphrase = "CERTCTL_GIT_SSH_KEY_PASSPHRASE"
	// EnvSSHKnownHosts lists known_hosts files (separated like PATH)
	// that the server's host key is checked against. Without it, the
	// files in SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts and
	// /etc/ssh/ssh_known_hosts. The host key is always checked: add it
	// with `ssh-keyscan HOST >> known_hosts`.
	EnvSSHKnownHosts = "CERTCTL_GIT_SSH_KNOWN_HOSTS"
)

// Options configures a Source.
type Options struct {
	// URL is the repository to follow: https://, http://, ssh://,
	// user@host:path, git://, file://, or a local path (relative to the
	// working directory). Credentials embedded in an http(s) URL are
	// used when the environment gives none, and are never shown.
	URL string
	// Ref is the branch, tag or full commit SHA to follow; a full
	// reference name ("refs/heads/main") is taken as is. "" or "HEAD"
	// follows the remote's default branch.
	Ref string
	// Path is the configuration directory inside the repository
	// ("certs/"); "" is the root.
	Path string
	// CacheDir holds the clones: each URL gets its own subdirectory,
	// named by a hash of the URL without credentials. One Source per URL
	// and CacheDir at a time.
	CacheDir string
	// Env reads the credential variables (EnvToken …). nil means
	// os.LookupEnv.
	Env func(key string) (string, bool)
}

// Source follows a ref of a remote repository through a bare clone in a
// cache directory. It is safe for concurrent use; fetches run one at a
// time.
type Source struct {
	ref, path string
	remoteURL string   // what go-git dials: no credentials in it
	display   string   // the URL as errors show it
	secrets   []string // scrubbed from every error
	auth      transport.AuthMethod
	caBundle  []byte
	dir       string // the clone

	mu   sync.Mutex // one fetch at a time; guards repo
	repo *Repo      // the open clone, nil until the first Fetch
}

// NewSource checks opts and reads the credentials from the environment;
// it does not touch the network or the cache. Errors show the URL with
// any credentials replaced by ***.
func NewSource(opts Options) (*Source, error) {
	if opts.URL == "" {
		return nil, errors.New("git source: the repository URL is empty")
	}
	if opts.CacheDir == "" {
		return nil, errors.New("git source: no cache directory")
	}
	path, err := cleanDir(opts.Path)
	if err != nil {
		return nil, err
	}
	env := opts.Env
	if env == nil {
		env = os.LookupEnv
	}
	s := &Source{ref: opts.Ref, path: path}
	if s.ref == "" {
		s.ref = "HEAD"
	}
	if err := s.parseURL(opts.URL); err != nil {
		return nil, s.redact(err)
	}
	if err := s.readAuth(env); err != nil {
		return nil, s.redact(err)
	}
	sum := sha256.Sum256([]byte(s.remoteURL))
	s.dir = filepath.Join(opts.CacheDir, hex.EncodeToString(sum[:8]))
	return s, nil
}

// URL returns the repository URL with any credentials replaced by ***,
// for logs.
func (s *Source) URL() string { return s.display }

// Ref returns the ref that Fetch follows.
func (s *Source) Ref() string { return s.ref }

// parseURL sets remoteURL and display, and takes embedded credentials
// out of the URL. It cuts the user information out by hand rather than
// with url.Parse, so that a URL that does not parse is redacted too.
func (s *Source) parseURL(raw string) error {
	s.display, s.remoteURL = raw, raw
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		hostEnd := strings.IndexAny(rest, "/?#")
		if hostEnd < 0 {
			hostEnd = len(rest)
		}
		if at := strings.LastIndex(rest[:hostEnd], "@"); at >= 0 {
			userinfo, hostAndPath := rest[:at], rest[at+1:]
			user, pass, hasPass := strings.Cut(userinfo, ":")
			user, pass = unescape(user), unescape(pass)
			switch {
			case scheme == "http" || scheme == "https":
				// A user alone is a token ("https://TOKEN@host/x");
				// with a password, it is a login name.
				s.secrets = append(s.secrets, raw, userinfo, pass)
				if !hasPass {
					s.secrets = append(s.secrets, user)
				}
				if user != "" || pass != "" {
					s.auth = &githttp.BasicAuth{Username: user, Password: pass}
				}
				s.remoteURL = scheme + "://" + hostAndPath
				s.display = scheme + "://***@" + hostAndPath
			case hasPass:
				// An ssh user is a login name, not a secret.
				s.secrets = append(s.secrets, raw, userinfo, pass)
				s.auth = &gitssh.Password{User: user, Password: pass}
				s.remoteURL = scheme + "://" + rest[:strings.Index(rest, ":")] + "@" + hostAndPath
				s.display = scheme + "://" + rest[:strings.Index(rest, ":")] + ":***@" + hostAndPath
			}
		}
	}
	ep, err := transport.NewEndpoint(s.remoteURL)
	if err != nil {
		return fmt.Errorf("git source %s: invalid URL: %w", s.display, err)
	}
	if ep.Protocol == "file" {
		// A local path, made absolute so that the cache does not
		// depend on the working directory.
		s.remoteURL = ep.Path
	}
	return nil
}

// unescape undoes a URL's percent-encoding, or returns v as it is.
func unescape(v string) string {
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// readAuth reads the credentials for the URL's protocol from env.
func (s *Source) readAuth(env func(string) (string, bool)) error {
	ep, err := transport.NewEndpoint(s.remoteURL)
	if err != nil {
		return err
	}
	plain := func(k string) string {
		v, _ := env(k)
		return v
	}
	secret := func(k string) string {
		v := plain(k)
		if v != "" {
			s.secrets = append(s.secrets, v)
		}
		return v
	}
	switch ep.Protocol {
	case "http", "https":
		user, token, pass := plain(EnvUsername), secret(EnvToken), secret(EnvPassword)
		switch {
		case token != "":
			if user == "" {
				user = "git"
			}
			s.auth = &githttp.BasicAuth{Username: user, Password: token}
		case pass != "":
			s.auth = &githttp.BasicAuth{Username: user, Password: pass}
		}
		if f, _ := env(EnvCAFile); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("%s: %w", EnvCAFile, err)
			}
			s.caBundle = b
		}
	case "ssh":
		key, pass := plain(EnvSSHKey), secret(EnvSSHKeyPassphrase)
		if key == "" {
			return nil
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		var pk *gitssh.PublicKeys
		if strings.Contains(key, "-----BEGIN") {
			s.secrets = append(s.secrets, key)
			pk, err = gitssh.NewPublicKeys(user, []byte(key), pass)
		} else {
			pk, err = gitssh.NewPublicKeysFromFile(user, key, pass)
		}
		if err != nil {
			return fmt.Errorf("reading the SSH key from %s: %w", EnvSSHKey, err)
		}
		if kh, _ := env(EnvSSHKnownHosts); kh != "" {
			cb, err := gitssh.NewKnownHostsCallback(filepath.SplitList(kh)...)
			if err != nil {
				return fmt.Errorf("reading %s: %w", EnvSSHKnownHosts, err)
			}
			pk.HostKeyCallback = cb
		}
		s.auth = pk
	}
	return nil
}

// Fetch brings the cache up to date with the remote and returns the commit
// Ref points at, with its files under Path. The first call clones; later
// calls fetch only when the ref moved, and follow it wherever it moved
// (force-pushes included). On error (remote unreachable, credentials
// refused, ref or path missing) nothing is returned, and the caller keeps
// the revision it had; the error names the URL (credentials hidden) and
// the ref. A cache that cannot be read is removed and cloned again.
//
// The Revision's FS reads from the cache: load it before fetching again,
// since a later Fetch may repack or re-clone the cache under it. While a Fetch
// writes to the cache, reads through earlier revisions' FS wait for it.
func (s *Source) Fetch(ctx context.Context) (*Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rev, err := s.fetch(ctx)
	var cerr *cacheError
	if errors.As(err, &cerr) && ctx.Err() == nil {
		// The remote answered but the clone is broken: start over once.
		s.repo = nil
		if rmErr := os.RemoveAll(s.dir); rmErr != nil {
			return nil, s.redact(fmt.Errorf("fetching %s (ref %s): removing the broken cache %s: %w", s.display, s.ref, s.dir, rmErr))
		}
		rev, err = s.fetch(ctx)
	}
	if err != nil {
		return nil, s.redact(fmt.Errorf("fetching %s (ref %s): %w", s.display, s.ref, err))
	}
	return rev, nil
}

// cacheError marks a failure of the local clone rather than of the
// remote.
type cacheError struct{ err error }

func (e *cacheError) Error() string { return e.err.Error() }
func (e *cacheError) Unwrap() error { return e.err }

// fetch is one attempt of Fetch; s.mu is held.
func (s *Source) fetch(ctx context.Context) (*Revision, error) {
	if err := s.open(); err != nil {
		return nil, &cacheError{err}
	}
	remote := git.NewRemote(s.repo.repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{s.remoteURL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: s.auth, CABundle: s.caBundle})
	if err != nil {
		return nil, err
	}
	name, want, err := s.pick(refs)
	if err != nil {
		return nil, err
	}

	r := s.repo
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, want); err != nil {
		// The ref moved to a commit the cache does not have.
		spec := "+" + name + ":" + localRef(name)
		if name == "" {
			// A commit SHA: fetch the branches, one of which holds it.
			spec = "+refs/heads/*:" + localRef("refs/heads/*")
		}
		err := remote.FetchContext(ctx, &git.FetchOptions{
			RefSpecs: []config.RefSpec{config.RefSpec(spec)},
			Auth:     s.auth,
			CABundle: s.caBundle,
			Tags:     git.NoTags,
			Force:    true,
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The remote listed its refs a moment ago, so a failure
			// here is more likely the cache's.
			return nil, &cacheError{err}
		}
		repacked, err := compact(r.repo)
		if err != nil {
			return nil, &cacheError{err}
		}
		if repacked {
			// The open repository's storage still lists the packfiles
			// the repack deleted: read the clone afresh.
			fresh, err := git.PlainOpen(s.dir)
			if err != nil {
				return nil, &cacheError{fmt.Errorf("reopening the cache %s after repacking: %w", s.dir, err)}
			}
			r.repo = fresh
		}
	}
	c, err := peelCommit(r.repo, want)
	if err != nil {
		if name == "" && errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("commit %s is not on any branch of the remote", want)
		}
		return nil, &cacheError{fmt.Errorf("reading commit %s: %w", want, err)}
	}
	rev, err := newRevision(&r.mu, r.repo, c, s.path)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Hash.String()[:12], err)
	}
	if err := rev.FS.(*treeFS).checkRoot(); err != nil {
		return nil, &cacheError{fmt.Errorf("commit %s: %w", c.Hash.String()[:12], err)}
	}
	return rev, nil
}

// maxPacks is how many packfiles the clone may collect before compact
// merges them. Each fetch adds one, and every object lookup searches
// them all, so a watch that runs for months would slow down.
var maxPacks = 50

// compact repacks the clone into one packfile when fetches have left more
// than maxPacks, and reports whether it did; r must then be opened again.
// Objects no ref reaches any more (a force-push's old commits) are
// dropped. The caller holds the repository's lock.
func compact(r *git.Repository) (bool, error) {
	pos, ok := r.Storer.(storer.PackedObjectStorer)
	if !ok {
		return false, nil
	}
	packs, err := pos.ObjectPacks()
	if err != nil || len(packs) <= maxPacks {
		return false, err
	}
	if err := r.RepackObjects(&git.RepackConfig{}); err != nil {
		return false, fmt.Errorf("repacking %d packfiles: %w", len(packs), err)
	}
	return true, nil
}

// open opens the clone, creating it if there is none; s.mu is held.
func (s *Source) open() error {
	if s.repo != nil {
		return nil
	}
	r, err := git.PlainOpen(s.dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(filepath.Dir(s.dir), 0o700); err != nil {
			return fmt.Errorf("creating the cache directory: %w", err)
		}
		// Remove whatever is there that is not a repository.
		if err := os.RemoveAll(s.dir); err != nil {
			return err
		}
		r, err = git.PlainInit(s.dir, true)
	}
	if err != nil {
		return fmt.Errorf("opening the cache %s: %w", s.dir, err)
	}
	s.repo = &Repo{path: s.dir, repo: r}
	return nil
}

// pick finds s.ref among the remote's refs. It returns the ref's full name
// and the object it points at; name is "" when s.ref is a commit SHA.
func (s *Source) pick(refs []*plumbing.Reference) (string, plumbing.Hash, error) {
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, r := range refs {
		byName[r.Name()] = r
	}
	if plumbing.IsHash(s.ref) {
		return "", plumbing.NewHash(s.ref), nil
	}
	candidates := []plumbing.ReferenceName{plumbing.ReferenceName(s.ref)}
	if s.ref == "HEAD" {
		head, ok := byName[plumbing.HEAD]
		if !ok {
			return "", plumbing.ZeroHash, errors.New("the remote has no HEAD (is it empty?); set a ref")
		}
		if head.Type() == plumbing.SymbolicReference {
			candidates = []plumbing.ReferenceName{head.Target()}
		} else {
			// No symref capability: the branch at HEAD's commit.
			candidates = nil
			for _, r := range refs {
				if r.Name().IsBranch() && r.Hash() == head.Hash() {
					candidates = append(candidates, r.Name())
				}
			}
			slices.Sort(candidates)
		}
	} else if !strings.HasPrefix(s.ref, "refs/") {
		// git's order: a tag wins over a branch of the same name.
		candidates = []plumbing.ReferenceName{plumbing.NewTagReferenceName(s.ref), plumbing.NewBranchReferenceName(s.ref)}
	}
	for _, n := range candidates {
		if r, ok := byName[n]; ok && r.Type() == plumbing.HashReference {
			return n.String(), r.Hash(), nil
		}
	}
	var branches []string
	for _, r := range refs {
		if r.Name().IsBranch() {
			branches = append(branches, r.Name().Short())
		}
	}
	slices.Sort(branches)
	if len(branches) > 10 {
		branches = append(branches[:10], "…")
	}
	if len(branches) == 0 {
		return "", plumbing.ZeroHash, errors.New("the remote has no branches")
	}
	return "", plumbing.ZeroHash, fmt.Errorf("no branch or tag %q on the remote (branches: %s)", s.ref, strings.Join(branches, ", "))
}

// localRef is where the clone keeps the remote ref name: its own
// namespace, so remote branches and tags cannot collide.
func localRef(name string) string {
	return "refs/certctl/" + strings.TrimPrefix(name, "refs/")
}

// maxTagDepth bounds a chain of tags of tags.
const maxTagDepth = 10

// peelCommit returns the commit h names, through annotated tags.
func peelCommit(r *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range maxTagDepth {
		obj, err := r.Object(plumbing.AnyObject, h)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			h = o.Target
		default:
			return nil, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return nil, fmt.Errorf("%s: too many nested tags", h)
}

// redact replaces every credential in err's text by ***. The result
// matches what err matches under errors.Is (context.Canceled,
// transport.ErrAuthenticationRequired …) but does not unwrap to err,
// whose text may hold a credential.
func (s *Source) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	secrets := slices.Clone(s.secrets)
	// Longest first, so a secret that contains another goes whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, v := range secrets {
		if v == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, v, "***")
		if e := url.PathEscape(v); e != v {
			msg = strings.ReplaceAll(msg, e, "***")
		}
		if e := url.QueryEscape(v); e != v {
			msg = strings.ReplaceAll(msg, e, "***")
		}
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
