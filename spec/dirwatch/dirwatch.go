// Package dirwatch tells when the configuration files of a directory
// change, so that `certctl watch` reloads the configuration. The entry
// point is Watch:
//
//	changed, err := dirwatch.Watch(ctx, dir, 0)
//	for range changed {
//		cfg, parser, diags := spec.Load(dir) // a bad file: keep the last good config
//	}
//
// Only the files spec.Load reads count: *.hcl and *.hcl.json directly in
// the directory, not hidden (a leading "."). Editors that save by writing
// a temporary file and renaming it over the original are seen through the
// rename. Files that file() reads, and subdirectories, are not watched.
package dirwatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits for a burst of changes to settle
// when it is given no debounce: long enough for an editor's
// write-rename-chmod, or a git checkout of many files, to finish.
const DefaultDebounce = 200 * time.Millisecond

// kubernetesData is the symbolic link that a Kubernetes ConfigMap or Secret
// volume swaps (by renaming "..data_tmp" over it) to publish new content
// at once; the configuration files are links through it. It is hidden,
// but its change is a change of every file.
const kubernetesData = "..data"

// Watch watches dir and returns a channel that receives a value once a
// change to its configuration files has been followed by debounce (<= 0
// means DefaultDebounce) without further changes. The channel holds at
// most one pending value: changes made while the receiver is busy
// coalesce into one signal, which is all a reload needs since it reads the
// whole directory.
//
// A change is a configuration file created, written, removed or renamed,
// or dir itself being removed, renamed or replaced (moved aside and a new
// directory, or a symbolic link to one, put in its place); the watch
// follows the new directory. Watch errors only when dir cannot be watched
// at all; later errors of the watcher (such as a dropped event queue) are
// signalled as a change, since a reload is always safe. When ctx is done
// the watch stops and the channel is closed.
func Watch(ctx context.Context, dir string, debounce time.Duration) (<-chan struct{}, error) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("watching %s: not a directory", dir)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	if err := w.Add(abs); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	// The parent shows dir being replaced. Without it (dir is "/", or
	// the parent is not readable) the files are still watched.
	if parent := filepath.Dir(abs); parent != abs {
		_ = w.Add(parent)
	}
	out := make(chan struct{}, 1)
	wt := &watch{w: w, dir: abs, out: out}
	go wt.loop(ctx, debounce)
	return out, nil
}

type watch struct {
	w   *fsnotify.Watcher
	dir string
	out chan struct{}
}

// loop runs until ctx is done. It is the only goroutine that touches the
// watcher after Watch returns.
func (wt *watch) loop(ctx context.Context, debounce time.Duration) {
	defer close(wt.out)
	defer wt.w.Close()
	timer := time.NewTimer(debounce)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-wt.w.Events:
			if !ok {
				return
			}
			if wt.relevant(ev) {
				timer.Reset(debounce)
			}
		case _, ok := <-wt.w.Errors:
			if !ok {
				return
			}
			// Events may have been lost: reload to be sure.
			timer.Reset(debounce)
		case <-timer.C:
			select {
			case wt.out <- struct{}{}:
			default: // one is already pending
			}
		}
	}
}

// relevant reports whether ev changes the configuration, and follows dir
// when it is replaced.
func (wt *watch) relevant(ev fsnotify.Event) bool {
	if ev.Name == wt.dir {
		switch {
		case ev.Has(fsnotify.Create):
			// A new directory (or link) in dir's place: watch it. It
			// may be a file or gone again, and then the reload reports
			// that.
			_ = wt.w.Remove(wt.dir)
			_ = wt.w.Add(wt.dir)
			return true
		case ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename):
			// The watch followed the old directory, wherever it went;
			// its changes are no longer the configuration's.
			_ = wt.w.Remove(wt.dir)
			return true
		}
		return false
	}
	if filepath.Dir(ev.Name) != wt.dir {
		return false // another entry of the parent
	}
	if ev.Op == fsnotify.Chmod {
		return false // attributes only; the content is the same
	}
	name := filepath.Base(ev.Name)
	if name == kubernetesData {
		return true
	}
	if strings.HasPrefix(name, ".") {
		return false
	}
	return strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, ".hcl.json")
}
