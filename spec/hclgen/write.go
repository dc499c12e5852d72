package hclgen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Staged is a new file written under a temporary name beside its own,
// synced, and not yet in place: Link puts it there, Discard drops it.
// Writers that must commit something else first (certctl import commits
// state records) stage the file, commit, then link.
type Staged struct {
	path, tmp string
}

// Stage writes data with mode to a temporary file in path's directory. It
// fails with an error wrapping fs.ErrExist when path exists already.
func Stage(path string, data []byte, mode fs.FileMode) (*Staged, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	s := &Staged{path: path, tmp: f.Name()}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	err = errors.Join(werr, serr, cerr)
	if err == nil {
		err = os.Chmod(s.tmp, mode)
	}
	if err != nil {
		s.Discard()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return s, nil
}

// Link puts the file in place. It fails (wrapping fs.ErrExist) rather than
// replace a file that appeared at the path since Stage; either way the
// temporary name is gone afterwards.
func (s *Staged) Link() error {
	defer s.Discard()
	if err := os.Link(s.tmp, s.path); err != nil {
		return fmt.Errorf("writing %s: %w", s.path, err)
	}
	// Make the new directory entry durable; failing that only weakens
	// durability.
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Discard removes the temporary file; the path is untouched.
func (s *Staged) Discard() { _ = os.Remove(s.tmp) }

// WriteNew writes a file that must not exist (Stage, then Link).
func WriteNew(path string, data []byte, mode fs.FileMode) error {
	s, err := Stage(path, data, mode)
	if err != nil {
		return err
	}
	return s.Link()
}
