package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Default file modes of a file target.
const (
	DefaultFileMode fs.FileMode = 0o644
	DefaultKeyMode  fs.FileMode = 0o600
)

// DefaultExecTimeout bounds a target's validate or reload command.
const DefaultExecTimeout = 2 * time.Minute

// ExecFunc runs a target's validate or reload command with dir as the
// working directory. Its error should carry what the command printed, so
// that an operator can act on it; it must be safe for concurrent use.
type ExecFunc func(ctx context.Context, dir, command string) error

// ShellExec returns an ExecFunc that runs `sh -c COMMAND` in dir and kills
// it after timeout (DefaultExecTimeout if zero). The error quotes the
// command and the end of its combined output.
func ShellExec(timeout time.Duration) ExecFunc {
	if timeout <= 0 {
		timeout = DefaultExecTimeout
	}
	return func(ctx context.Context, dir, command string) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Dir = dir
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		if o := tail(out, 1024); o != "" {
			return fmt.Errorf("%q: %w: %s", command, err, o)
		}
		return fmt.Errorf("%q: %w", command, err)
	}
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return strings.ReplaceAll(string(b), "\n", "; ")
}

// fileTarget is one local directory receiving a certificate's files.
type fileTarget struct {
	dir               string
	stem              string
	fileMode, keyMode fs.FileMode
	validate, reload  string
	exec              ExecFunc
}

// write puts f in place and runs the target's commands:
//
//  1. each file is written atomically (a temporary file in the same
//     directory is written, synced and renamed over the old one), then
//     the directory is synced, so a crash leaves old or new files, never a
//     torn one;
//  2. validate runs; if it fails (or a write fails) the previous files are put back (or the
//     new ones removed, if there were none) so that a later reload of the
//     service does not pick up files its own check rejected;
//  3. reload runs.
//
// The error says which step failed; it never contains file contents.
func (t *fileTarget) write(ctx context.Context, f *files) error {
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return err
	}
	// The previous files are kept to put back: a write that fails half-way
	// (disk full, a path that is not a file) must not leave a new key
	// beside an old certificate, and neither may a failed validate.
	var old files
	var had [len(fileSuffixes)]bool
	for i, suffix := range fileSuffixes {
		b, err := os.ReadFile(filepath.Join(t.dir, t.stem+suffix))
		if err == nil {
			old[i], had[i] = b, true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	defer clear(old[keyFile])
	if err := t.writeAll(f, nil); err != nil {
		if rerr := t.writeAll(&old, &had); rerr != nil {
			return fmt.Errorf("writing files: %w; restoring the previous files also failed: %v", err, rerr)
		}
		return fmt.Errorf("writing files (previous files restored): %w", err)
	}
	if t.validate != "" {
		if err := t.exec(ctx, t.dir, t.validate); err != nil {
			if rerr := t.writeAll(&old, &had); rerr != nil {
				return fmt.Errorf("validate failed: %w; restoring the previous files also failed: %v", err, rerr)
			}
			return fmt.Errorf("validate failed (previous files restored): %w", err)
		}
	}
	if t.reload != "" {
		if err := t.exec(ctx, t.dir, t.reload); err != nil {
			return fmt.Errorf("reload failed: %w", err)
		}
	}
	return nil
}

// writeAll writes the files of f whose present entry is true (all if
// present is nil) and removes the others, then syncs the directory.
// The key is written first, so that a reader never sees a new certificate
// beside a key that does not match it for longer than the rename takes.
func (t *fileTarget) writeAll(f *files, present *[len(fileSuffixes)]bool) error {
	for _, i := range [...]int{keyFile, 0, 1, 2} {
		path := filepath.Join(t.dir, t.stem+fileSuffixes[i])
		if present != nil && !present[i] {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		mode := t.fileMode
		if i == keyFile {
			mode = t.keyMode
		}
		if err := writeFileAtomic(t.dir, filepath.Base(path), f[i], mode); err != nil {
			return err
		}
	}
	return syncDir(t.dir)
}

// writeFileAtomic replaces dir/name with data and mode: temporary file in
// dir, write, fsync, rename. The caller syncs dir afterwards.
func writeFileAtomic(dir, name string, data []byte, mode fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600; Chmod sets the mode exactly,
	// whatever the umask, before any secret is written.
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// FileTarget is a directory that receives a certificate's files, for a
// writer other than Apply (an agent on its host): the same files, modes,
// commands and rollback as a local target.
type FileTarget struct {
	Dir, Stem         string
	FileMode, KeyMode fs.FileMode // 0 for DefaultFileMode, DefaultKeyMode
	Validate, Reload  string      // "" for none
	Exec              ExecFunc    // ShellExec(0) if nil
}

// WriteFiles writes NAME.crt, NAME.chain.crt, NAME.fullchain.crt and
// NAME.key to t atomically, runs its validate command (putting the
// previous files back if it fails) and its reload command, and returns
// the files' digest as state.Deployment.FilesDigest records it. The
// error never contains file contents.
func WriteFiles(ctx context.Context, t FileTarget, certPEM, chainPEM, keyPEM []byte) (string, error) {
	exec := t.Exec
	if exec == nil {
		exec = ShellExec(0)
	}
	ft := fileTarget{
		dir: t.Dir, stem: t.Stem,
		fileMode: cmpMode(t.FileMode, DefaultFileMode), keyMode: cmpMode(t.KeyMode, DefaultKeyMode),
		validate: t.Validate, reload: t.Reload, exec: exec,
	}
	f := files{certPEM, chainPEM, append(slices.Clip(certPEM), chainPEM...), keyPEM}
	if err := ft.write(ctx, &f); err != nil {
		return "", err
	}
	return f.digest(), nil
}

// FilesDigest digests the four files of stem in dir as WriteFiles does;
// "" if one is missing.
func FilesDigest(dir, stem string) (string, error) { return readDigest(dir, stem) }

func cmpMode(m, def fs.FileMode) fs.FileMode {
	if m == 0 {
		return def
	}
	return m & fs.ModePerm
}

// WriteFileAtomic replaces path with data and mode (temporary file,
// fsync, rename, directory fsync): a crash leaves the old file or the
// new one.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := writeFileAtomic(dir, filepath.Base(path), data, mode); err != nil {
		return err
	}
	return syncDir(dir)
}
