package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultTimeout is how long Open waits for another process's lock.
const DefaultTimeout = 5 * time.Second

// Options configure Open. The zero value is what a command wants.
type Options struct {
	// Timeout bounds the wait for the file lock held by another process.
	// Zero means DefaultTimeout; negative means wait forever.
	Timeout time.Duration
	// Key is the 32-byte AES-256 state key. If nil, CERTCTL_STATE_KEY is
	// used, else the key file KeyFilePath(path), created on first use.
	Key []byte
	// ReadOnly takes a shared lock (several readers may hold it, no writer)
	// and never creates, initialises or upgrades anything. Writes fail.
	ReadOnly bool
}

// DB is the bbolt Store. It is safe for concurrent use; it holds the file's
// lock from Open until Close, so keep it open only while a command (or one
// watch pass) runs.
type DB struct {
	path     string
	bolt     *bbolt.DB
	sealer   *sealer
	readOnly bool
	// schema is the file's schema version: SchemaVersion, except in a
	// read-only open of an older state, which is read as it is (writes
	// upgrade it first, and a read-only open never writes).
	schema uint64
	group  groupCommit // joins concurrent writes (commit.go)
}

var _ Store = (*DB)(nil)

// Open opens (creating if needed, unless opts.ReadOnly) the state at path
// and proves the state key against it. It creates path's directory (0700),
// the file (0600) and, when it creates the state and the key comes from the
// key file, the key file (0600).
//
// Errors name the path and match ErrLocked, ErrNotState, ErrNewerSchema,
// ErrKeyMismatch or ErrKeyMissing; a missing file in read-only mode matches
// fs.ErrNotExist. Open never panics on a damaged file.
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("opening state: empty path")
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0 // bbolt: wait forever
	}
	if opts.ReadOnly {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("opening state %s: %w", path, err)
		}
		if fi.Size() == 0 {
			return nil, newError(fs.ErrNotExist, nil, fmt.Sprintf("state %s is empty (nothing applied yet)", path))
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}

	if err := checkHeader(path); err != nil {
		return nil, err
	}
	bdb, err := openBolt(path, &bbolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly, InitialMmapSize: initialMmapSize})
	if err != nil {
		return nil, err
	}
	if initialMmapSize > 0 {
		bdb.AllocSize = growStep
	}
	if !opts.ReadOnly {
		// A state copied in with looser permissions is tightened: it holds
		// the inventory, and sealed keys are still keys.
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(path, 0o600)
		}
	}
	db := &DB{path: path, bolt: bdb, readOnly: opts.ReadOnly}
	if err := db.init(opts.Key); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return db, nil
}

// initialMmapSize is the address space bbolt maps at open. By default
// bbolt maps the file's size rounded up to a power of two and remaps
// whenever a write outgrows the map: each remap waits for readers, copies
// the nodes of the running transaction out of the old map, unmaps it, and
// the file's pages fault in again. Applying 1,000 certificates to a new
// state remapped eight times on the way to 4 MB; mapping 128 MB at once
// saved some 2.5 ms of the apply's 230 ms of CPU. Mapping past the end of
// the file costs address space, not memory; a larger state remaps as
// before. On Windows bbolt would make the file as large as the map, and
// 32-bit platforms are short of address space: both keep bbolt's default.
var initialMmapSize = func() int {
	if runtime.GOOS == "windows" || ^uint(0)>>32 == 0 {
		return 0
	}
	return 128 << 20
}()

// growStep is how far bbolt extends the file (truncate, then fsync) when
// a write needs room. Once the map is larger than bbolt's AllocSize, as
// initialMmapSize makes it, the file grows by AllocSize at a time; at
// bbolt's default of 16 MB a state of one certificate would be a 16 MB
// file (sparse, but ls shows 16 MB). 1 MB keeps the file within 1 MB of
// its data, for one grow per MB written.
const growStep = 1 << 20

// openBolt is bbolt.Open with its errors and panics turned into ours. bbolt
// validates the meta pages itself (magic, version, checksum), so a text file
// or random bytes give ErrInvalid; a file with valid meta pages and damaged
// data pages can make bbolt panic or fault on the mmap, which we recover.
func openBolt(path string, bo *bbolt.Options) (bdb *bbolt.DB, err error) {
	var files []*os.File
	var mu sync.Mutex
	bo.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, 0o600)
		if f != nil {
			mu.Lock()
			files = append(files, f)
			mu.Unlock()
		}
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			for _, f := range files { // release the lock bbolt took
				_ = f.Close()
			}
			bdb, err = nil, damaged(path, r)
		}
	}()
	bdb, err = bbolt.Open(path, 0o600, bo)
	switch {
	case err == nil:
		return bdb, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, newError(ErrLocked, err, fmt.Sprintf("state %s is locked: is another certctl process using it?", path))
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, newError(ErrNotState, err, fmt.Sprintf("state %s is not a certctl state file (not a bbolt database, or damaged: %v)", path, err))
	case isOSError(err):
		return nil, fmt.Errorf("opening state %s: %w", path, err)
	default: // e.g. "file size too small": a damaged bbolt file
		return nil, newError(ErrNotState, err, fmt.Sprintf("state %s is not a certctl state file (damaged bbolt database: %v)", path, err))
	}
}

func isOSError(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno)
}

// boltMagic marks a bbolt meta page; it is at offset 16 of pages 0 and 1,
// in the machine's byte order.
const boltMagic = 0xED0CDAED

// checkHeader rejects a non-empty file that has the bbolt magic in neither
// meta page, before bbolt sees it. (An empty file is a new state.) The
// second meta page is looked for at every page size bbolt supports, so a
// file whose first page is damaged still reaches bbolt's own recovery.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening state %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening state %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return nil
	}
	var buf [20]byte
	for _, off := range append([]int64{0}, pageSizes()...) {
		if off+int64(len(buf)) > fi.Size() {
			break
		}
		if _, err := f.ReadAt(buf[:], off); err != nil {
			return fmt.Errorf("opening state %s: %w", path, err)
		}
		if binary.NativeEndian.Uint32(buf[16:]) == boltMagic {
			return nil
		}
	}
	return newError(ErrNotState, nil, fmt.Sprintf("state %s is not a certctl state file (not a bbolt database)", path))
}

func pageSizes() []int64 {
	var s []int64
	for i := range 15 {
		s = append(s, 1024<<i)
	}
	return s
}

// wrapRead adds the state path to a read error unless it already names it.
func wrapRead(path string, err error) error {
	if errors.Is(err, ErrNotState) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("reading state %s: %w", path, err)
}

func damaged(path string, r any) error {
	return newError(ErrNotState, nil, fmt.Sprintf("state %s is damaged (%v); restore it from a backup", path, r))
}

// inspection is what init learns from the file before deciding what to do.
type inspection struct {
	fresh    bool // no buckets at all: a new (or never initialised) file
	foreign  bool // buckets, but not ours
	version  uint64
	keyCheck []byte // copied out of the transaction
	missing  bool   // one of allBuckets or a meta key is missing
}

func (db *DB) inspect() (inspection, error) {
	var in inspection
	err := db.view(func(tx *bbolt.Tx) error {
		names := 0
		_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { names++; return nil })
		meta := tx.Bucket(bucketMeta)
		switch {
		case names == 0:
			in.fresh = true
			return nil
		case meta == nil || !bytes.Equal(meta.Get(metaApp), appMarker):
			in.foreign = true
			return nil
		}
		v, ok := readU64(meta.Get(metaVersion))
		if !ok {
			in.foreign = true
			return nil
		}
		in.version = v
		in.keyCheck = bytes.Clone(meta.Get(metaKeyCheck))
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				in.missing = true
			}
		}
		if meta.Get(metaLineage) == nil || meta.Get(metaSerial) == nil || in.keyCheck == nil {
			in.missing = true
		}
		return nil
	})
	return in, err
}

// init checks the file is ours and of a schema we read, resolves and proves
// the key, and (read-write only) creates or upgrades what is missing in one
// transaction.
func (db *DB) init(optKey []byte) error {
	in, err := db.inspect()
	if err != nil {
		return err
	}
	switch {
	case in.foreign:
		return newError(ErrNotState, nil, fmt.Sprintf("state %s is not a certctl state file (a bbolt database without certctl's meta bucket)", db.path))
	case in.version > SchemaVersion:
		return newError(ErrNewerSchema, nil, fmt.Sprintf("state %s: state was written by a newer certctl (schema %d); this certctl reads schema %d", db.path, in.version, SchemaVersion))
	case in.fresh && db.readOnly:
		return newError(fs.ErrNotExist, nil, fmt.Sprintf("state %s is empty (nothing applied yet)", db.path))
	case !in.fresh && in.version < 1:
		return fmt.Errorf("state %s: no upgrade from schema %d", db.path, in.version)
	}
	db.schema = SchemaVersion
	if db.readOnly && !in.fresh {
		db.schema = in.version
	}

	src, err := findKey(db.path, optKey)
	if err != nil {
		return fmt.Errorf("state %s: %w", db.path, err)
	}
	if src.key == nil {
		if in.keyCheck != nil {
			return newError(ErrKeyMissing, nil, fmt.Sprintf("state key file %s is missing, but state %s holds data sealed with it: restore the file or set %s", src.file, db.path, KeyEnv))
		}
		if db.readOnly {
			return newError(ErrKeyMissing, nil, fmt.Sprintf("state key file %s is missing", src.file))
		}
		if src.key, err = createKeyFile(src.file); err != nil {
			return fmt.Errorf("state %s: %w", db.path, err)
		}
	}
	if db.sealer, err = newSealer(src.key); err != nil {
		return fmt.Errorf("state %s: %w", db.path, err)
	}
	if in.keyCheck != nil {
		if p, err := db.sealer.open(in.keyCheck); err != nil || !bytes.Equal(p, keyCheckPlaintext) {
			return newError(ErrKeyMismatch, nil, fmt.Sprintf("state key does not match (%s) for state %s", src.desc, db.path))
		}
	}

	if db.readOnly || (!in.fresh && !in.missing && in.version == SchemaVersion) {
		return nil
	}
	return db.update(keepsSerial, func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if in.fresh {
			lineage := make([]byte, 16)
			if _, err := rand.Read(lineage); err != nil {
				return err
			}
			for k, v := range map[string][]byte{
				string(metaApp):     appMarker,
				string(metaVersion): u64(SchemaVersion),
				string(metaLineage): []byte(hex.EncodeToString(lineage)),
				string(metaSerial):  u64(0),
			} {
				if err := meta.Put([]byte(k), v); err != nil {
					return err
				}
			}
		} else if in.version < SchemaVersion {
			if err := upgrade(tx, in.version); err != nil {
				return fmt.Errorf("state %s: %w", db.path, err)
			}
		}
		if meta.Get(metaKeyCheck) == nil {
			check, err := db.sealer.seal(keyCheckPlaintext)
			if err != nil {
				return err
			}
			if err := meta.Put(metaKeyCheck, check); err != nil {
				return err
			}
		}
		return nil
	})
}

// Path returns the state file's path as given to Open.
func (db *DB) Path() string { return db.path }

// Close releases the file and its lock. Pending batched writes finish first.
func (db *DB) Close() error { return db.bolt.Close() }

// Seal encrypts plaintext (a private key PEM) with the state key:
// AES-256-GCM with a random 12-byte nonce, prefixed by a format byte.
func (db *DB) Seal(plaintext []byte) ([]byte, error) { return db.sealer.seal(plaintext) }

// Unseal reverses Seal. Its errors never contain key or plaintext bytes.
func (db *DB) Unseal(sealed []byte) ([]byte, error) { return db.sealer.open(sealed) }

// view runs a read transaction; a panic or memory fault from a damaged file
// becomes an ErrNotState error.
func (db *DB) view(fn func(tx *bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = damaged(db.path, r)
		}
	}()
	return db.bolt.View(fn)
}

// Serial policy: writes of certificates and issuers bump meta/serial, the
// number a saved plan is checked against; notification rows and Open's own
// initialisation or upgrade do not, so a retry sweep in watch does not make
// every saved plan stale.
const (
	bumpsSerial = true
	keepsSerial = false
)

// update runs fn in its own write transaction.
func (db *DB) update(serial bool, fn func(tx *bbolt.Tx) error) (err error) {
	if db.readOnly {
		return fmt.Errorf("state %s is open read-only", db.path)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = damaged(db.path, r)
		}
	}()
	return db.bolt.Update(withSerial(serial, fn))
}

// batch is update with concurrent callers grouped into shared
// transactions (see groupCommit): each returns only once its write is
// durable. fn may run more than once (a failed group is re-run member by
// member), so it must only put precomputed values.
func (db *DB) batch(serial bool, fn func(tx *bbolt.Tx) error) error {
	if db.readOnly {
		return fmt.Errorf("state %s is open read-only", db.path)
	}
	return db.group.do(db.runBatch, withSerial(serial, fn))
}

func withSerial(serial bool, fn func(tx *bbolt.Tx) error) func(tx *bbolt.Tx) error {
	if !serial {
		return fn
	}
	return func(tx *bbolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return bumpSerial(tx)
	}
}
