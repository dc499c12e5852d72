package watch

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/spec/dirwatch"
)

// DirSource offers the configuration directory on disk. Its revision ID is
// a digest of the configuration files' names and contents, so that a
// change notification that changed nothing (an editor's save of the same
// bytes) starts no reload.
type DirSource struct {
	Dir string
	// Debounce is how long the directory must be quiet before a change
	// is reported (a burst of writes, an editor's rename-swap);
	// DefaultDebounce if zero.
	Debounce time.Duration
	// Now dates revisions; time.Now if nil.
	Now func() time.Time
}

// DefaultDebounce is DirSource's default quiet time.
const DefaultDebounce = 200 * time.Millisecond

var _ Source = (*DirSource)(nil)

func (d *DirSource) String() string { return "dir " + d.Dir }

// Load digests the configuration files. A file that vanishes between the
// listing and the read is a change still in progress: the error says so,
// and the next notification loads again.
func (d *DirSource) Load(ctx context.Context) (*Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	names, err := spec.ConfigFiles(d.Dir)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	var n [8]byte
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(d.Dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Join(d.Dir, name), err)
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	return &Revision{ID: "sha256:" + hex.EncodeToString(h.Sum(nil))[:16], Dir: d.Dir, Time: now().UTC()}, nil
}

// Watch reports changes to the directory's configuration files, debounced
// (see spec/dirwatch).
func (d *DirSource) Watch(ctx context.Context) (<-chan struct{}, error) {
	debounce := d.Debounce
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	return dirwatch.Watch(ctx, d.Dir, debounce)
}
