package gitsrc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeFS is the fs.FS of one git tree. Trees and blobs are read from the
// object store on first use, so a revision of a large repository costs only
// the files that are read. go-git's object storage and decoded trees are
// not safe for concurrent use, so every read takes mu, which is shared by
// all the revisions of one repository; spec.LoadWith reads files from
// several goroutines, and they queue only for the (short) object read,
// not for parsing.
type treeFS struct {
	mu      *sync.Mutex
	objects storer.EncodedObjectStorer
	modTime time.Time // every file's ModTime: the commit's time

	// dirs caches the directories decoded so far, by path ("." is the
	// root). Guarded by mu.
	dirs map[string]*treeDir
}

// treeDir is one decoded tree: its entries in git order, and their
// positions by name.
type treeDir struct {
	entries []object.TreeEntry
	index   map[string]int
}

// maxSymlinks bounds how many symbolic links one lookup follows, as the
// kernel's ELOOP does.
const maxSymlinks = 40

var (
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

func newTreeFS(mu *sync.Mutex, objects storer.EncodedObjectStorer, root *object.Tree, modTime time.Time) *treeFS {
	t := &treeFS{mu: mu, objects: objects, modTime: modTime, dirs: map[string]*treeDir{}}
	t.dirs["."] = newTreeDir(root)
	return t
}

func newTreeDir(t *object.Tree) *treeDir {
	d := &treeDir{entries: t.Entries, index: make(map[string]int, len(t.Entries))}
	for i, e := range t.Entries {
		d.index[e.Name] = i
	}
	return d
}

// Open opens name: a directory, or a file whose content is read whole.
func (t *treeFS) Open(name string) (fs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	clean, e, err := t.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e.Mode == filemode.Dir {
		d, err := t.dir(clean, e.Hash)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dirFile{fsys: t, name: clean, info: t.info(e, -1), dir: d}, nil
	}
	b, err := t.blob(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &blobFile{info: t.info(e, int64(len(b))), r: bytes.NewReader(b)}, nil
}

// ReadFile returns the content of the file name.
func (t *treeFS) ReadFile(name string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, e, err := t.lookup("read", name)
	if err != nil {
		return nil, err
	}
	if e.Mode == filemode.Dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b, err := t.blob(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir lists the directory name, sorted by name.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	clean, e, err := t.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if e.Mode != filemode.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	d, err := t.dir(clean, e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return t.dirEntries(d), nil
}

// Stat describes name. A file's size costs reading its object's header.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, e, err := t.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return t.statEntry(e)
}

// statEntry describes e; t.mu is held.
func (t *treeFS) statEntry(e object.TreeEntry) (fs.FileInfo, error) {
	if e.Mode == filemode.Dir {
		return t.info(e, -1), nil
	}
	obj, err := t.objects.EncodedObject(plumbing.BlobObject, e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: e.Name, Err: err}
	}
	return t.info(e, obj.Size()), nil
}

// checkRoot reports an error if an object that the root directory lists
// cannot be read: the sign of a damaged clone, found before a load trips
// over it. The configuration files are read whole (the load reads them
// next, from the object cache); the other entries are only looked up.
// t.mu is held.
func (t *treeFS) checkRoot() error {
	for _, e := range t.dirs["."].entries {
		var err error
		switch {
		case e.Mode == filemode.Submodule:
			continue
		case e.Mode.IsFile() && (strings.HasSuffix(e.Name, ".hcl") || strings.HasSuffix(e.Name, ".hcl.json")):
			_, err = t.blob(e.Hash)
		default:
			_, err = t.objects.EncodedObject(plumbing.AnyObject, e.Hash)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.Name, err)
		}
	}
	return nil
}

// dirEntries lists d sorted by name (git orders a directory "a" as "a/",
// which is not fs.ReadDir's order).
func (t *treeFS) dirEntries(d *treeDir) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(d.entries))
	for _, e := range d.entries {
		if e.Mode == filemode.Submodule {
			continue // a commit of another repository: nothing to read here
		}
		out = append(out, &dirEntry{fsys: t, e: e})
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// lookup finds name, following symbolic links that stay inside the tree,
// and returns its clean path (after links) and entry; the root is a
// directory entry named ".". t.mu is held.
func (t *treeFS) lookup(op, name string) (string, object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return "", object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p := name
	for hops := 0; ; hops++ {
		if hops > maxSymlinks {
			return "", object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
		}
		resolved, e, link, err := t.walk(p)
		if err != nil {
			return "", object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if link == "" {
			return resolved, e, nil
		}
		p = link
	}
}

// walk looks p up one component at a time. If it meets a symbolic link it
// returns, as link, the path to look up instead. t.mu is held.
func (t *treeFS) walk(p string) (resolved string, e object.TreeEntry, link string, err error) {
	root := object.TreeEntry{Name: ".", Mode: filemode.Dir}
	if p == "." {
		return ".", root, "", nil
	}
	parts := strings.Split(p, "/")
	dirPath := "."
	d := t.dirs["."]
	for i, part := range parts {
		idx, ok := d.index[part]
		if !ok {
			return "", e, "", fs.ErrNotExist
		}
		e = d.entries[idx]
		here := path.Join(dirPath, part)
		switch e.Mode {
		case filemode.Symlink:
			target, err := t.blob(e.Hash)
			if err != nil {
				return "", e, "", err
			}
			next := path.Join(dirPath, string(target), path.Join(parts[i+1:]...))
			if path.IsAbs(string(target)) || !fs.ValidPath(next) {
				return "", e, "", fmt.Errorf("symbolic link %s points outside the directory", here)
			}
			return "", e, next, nil
		case filemode.Submodule:
			return "", e, "", fmt.Errorf("%s is a git submodule, which is not read", here)
		}
		if i == len(parts)-1 {
			return here, e, "", nil
		}
		if e.Mode != filemode.Dir {
			return "", e, "", fs.ErrNotExist
		}
		if d, err = t.dir(here, e.Hash); err != nil {
			return "", e, "", err
		}
		dirPath = here
	}
	panic("unreachable")
}

// dir returns the decoded tree at p, reading it on first use. t.mu is held.
func (t *treeFS) dir(p string, h plumbing.Hash) (*treeDir, error) {
	if d, ok := t.dirs[p]; ok {
		return d, nil
	}
	tree, err := object.GetTree(t.objects, h)
	if err != nil {
		return nil, err
	}
	d := newTreeDir(tree)
	t.dirs[p] = d
	return d, nil
}

// blob reads a blob whole. t.mu is held.
func (t *treeFS) blob(h plumbing.Hash) ([]byte, error) {
	obj, err := t.objects.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := make([]byte, 0, obj.Size())
	buf := bytes.NewBuffer(b)
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (t *treeFS) info(e object.TreeEntry, size int64) *fileInfo {
	return &fileInfo{name: path.Base(e.Name), mode: e.Mode, size: size, modTime: t.modTime}
}

// fileInfo describes a tree entry. Directories have size 0.
type fileInfo struct {
	name    string
	mode    filemode.FileMode
	size    int64
	modTime time.Time
}

func (i *fileInfo) Name() string { return i.name }
func (i *fileInfo) Size() int64 {
	if i.size < 0 {
		return 0
	}
	return i.size
}
func (i *fileInfo) ModTime() time.Time { return i.modTime }
func (i *fileInfo) IsDir() bool        { return i.mode == filemode.Dir }
func (i *fileInfo) Sys() any           { return nil }
func (i *fileInfo) Mode() fs.FileMode {
	switch i.mode {
	case filemode.Dir:
		return fs.ModeDir | 0o755
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Executable:
		return 0o755
	}
	return 0o644
}

// dirEntry is a directory listing's entry; Info reads the object's header.
type dirEntry struct {
	fsys *treeFS
	e    object.TreeEntry
}

func (d *dirEntry) Name() string      { return d.e.Name }
func (d *dirEntry) IsDir() bool       { return d.e.Mode == filemode.Dir }
func (d *dirEntry) Type() fs.FileMode { return (&fileInfo{mode: d.e.Mode}).Mode().Type() }
func (d *dirEntry) Info() (fs.FileInfo, error) {
	d.fsys.mu.Lock()
	defer d.fsys.mu.Unlock()
	return d.fsys.statEntry(d.e)
}

// blobFile is an open file; its content was read at Open.
type blobFile struct {
	info *fileInfo
	r    *bytes.Reader
}

func (f *blobFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *blobFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *blobFile) Close() error               { return nil }

// dirFile is an open directory.
type dirFile struct {
	fsys *treeFS
	name string
	info *fileInfo
	dir  *treeDir
	list []fs.DirEntry // the rest of the listing, once ReadDir was called
	read bool
}

func (f *dirFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *dirFile) Close() error               { return nil }
func (f *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: f.name, Err: errors.New("is a directory")}
}

// ReadDir follows fs.ReadDirFile: n > 0 returns at most n entries and
// io.EOF at the end; n <= 0 returns the rest.
func (f *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !f.read {
		f.fsys.mu.Lock()
		f.list = f.fsys.dirEntries(f.dir)
		f.fsys.mu.Unlock()
		f.read = true
	}
	if n <= 0 {
		out := f.list
		f.list = nil
		return out, nil
	}
	if len(f.list) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(f.list))
	out := f.list[:n:n]
	f.list = f.list[n:]
	return out, nil
}
