package dirwatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests change a real directory and wait for the signal. The waits
// are bounds on what must (or must not) arrive, not measurements: a
// signal is given wait to arrive, and silence is checked for quiet.
const (
	wait  = 10 * time.Second
	quiet = time.Second
)

func start(t *testing.T, dir string, debounce time.Duration) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := Watch(ctx, dir, debounce)
	if err != nil {
		t.Fatalf("Watch(%s) = %v", dir, err)
	}
	return ch
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func expectSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed, want a signal", what)
		}
	case <-time.After(wait):
		t.Fatalf("%s: no signal within %v", what, wait)
	}
}

func expectQuiet(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: unexpected signal", what)
	case <-time.After(quiet):
	}
}

// A burst of writes (an editor's save, a git checkout) is one signal.
func TestDebounceCoalescesBurst(t *testing.T) {
	dir := t.TempDir()
	ch := start(t, dir, 500*time.Millisecond)
	for i := range 30 {
		write(t, filepath.Join(dir, "main.hcl"), strings.Repeat("#\n", i))
		write(t, filepath.Join(dir, "other.hcl.json"), "{}")
	}
	expectSignal(t, ch, "burst of writes")
	expectQuiet(t, ch, "after the burst")

	write(t, filepath.Join(dir, "main.hcl"), "# again\n")
	expectSignal(t, ch, "a later write")
}

// Changes made while nobody receives coalesce into one pending signal.
func TestPendingSignalCoalesces(t *testing.T) {
	dir := t.TempDir()
	ch := start(t, dir, 10*time.Millisecond)
	write(t, filepath.Join(dir, "a.hcl"), "")
	time.Sleep(300 * time.Millisecond) // the debounce fires, unreceived
	write(t, filepath.Join(dir, "b.hcl"), "")
	time.Sleep(300 * time.Millisecond)
	expectSignal(t, ch, "pending changes")
	expectQuiet(t, ch, "after the pending signal")
}

func TestEditorSaves(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.hcl")
	write(t, main, "# v1\n")
	ch := start(t, dir, 50*time.Millisecond)

	// Write a hidden temporary file, rename it over the original.
	tmp := filepath.Join(dir, ".main.hcl.tmp123")
	write(t, tmp, "# v2\n")
	mustRename(t, tmp, main)
	expectSignal(t, ch, "rename over main.hcl")

	// vim: move the original to a backup, write a new file.
	mustRename(t, main, main+"~")
	write(t, main, "# v3\n")
	expectSignal(t, ch, "backup and rewrite")

	if err := os.Remove(main); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, "remove main.hcl")
}

func TestIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "main.hcl"), "")
	ch := start(t, dir, 20*time.Millisecond)

	write(t, filepath.Join(dir, ".main.hcl.swp"), "x")
	write(t, filepath.Join(dir, ".hidden.hcl"), "x")
	write(t, filepath.Join(dir, "notes.txt"), "x")
	write(t, filepath.Join(dir, "main.hcl.bak"), "x")
	write(t, filepath.Join(dir, "sub", "nested.hcl"), "x")
	if err := os.Chmod(filepath.Join(dir, "main.hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(filepath.Dir(dir), "sibling.hcl"), "x")
	expectQuiet(t, ch, "changes to other files")

	write(t, filepath.Join(dir, "x.hcl.json"), "{}")
	expectSignal(t, ch, "x.hcl.json created")
}

// The directory moved aside and a new one put in its place: the signal,
// then the new directory's changes, not the old one's.
func TestDirectoryReplaced(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "certs")
	for _, d := range []string{dir, filepath.Join(parent, "next")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "main.hcl"), "")
	}
	ch := start(t, dir, 50*time.Millisecond)

	mustRename(t, dir, filepath.Join(parent, "old"))
	mustRename(t, filepath.Join(parent, "next"), dir)
	expectSignal(t, ch, "directory replaced")

	write(t, filepath.Join(parent, "old", "main.hcl"), "# old\n")
	expectQuiet(t, ch, "change in the old directory")
	write(t, filepath.Join(dir, "main.hcl"), "# new\n")
	expectSignal(t, ch, "change in the new directory")

	// Removed, then created again.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, "directory removed")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, "directory created")
	write(t, filepath.Join(dir, "main.hcl"), "")
	expectSignal(t, ch, "change in the re-created directory")
}

// A symbolic link swapped to a new target, as deployment tools and
// Kubernetes volumes publish configuration.
func TestSymlinkSwaps(t *testing.T) {
	parent := t.TempDir()
	for _, d := range []string{"v1", "v2"} {
		if err := os.Mkdir(filepath.Join(parent, d), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(parent, d, "main.hcl"), "# "+d+"\n")
	}
	link := filepath.Join(parent, "current")
	if err := os.Symlink("v1", link); err != nil {
		t.Fatal(err)
	}
	ch := start(t, link, 50*time.Millisecond)
	if err := os.Symlink("v2", link+".tmp"); err != nil {
		t.Fatal(err)
	}
	mustRename(t, link+".tmp", link)
	expectSignal(t, ch, "link swapped")
	write(t, filepath.Join(parent, "v2", "main.hcl"), "# v2 edited\n")
	expectSignal(t, ch, "change behind the new link")

	// Kubernetes: main.hcl -> ..data/main.hcl, ..data -> ..2026_1; an
	// update renames ..data_tmp over ..data.
	k8s := t.TempDir()
	for _, d := range []string{"..2026_1", "..2026_2"} {
		if err := os.Mkdir(filepath.Join(k8s, d), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(k8s, d, "main.hcl"), "# "+d+"\n")
	}
	if err := os.Symlink("..2026_1", filepath.Join(k8s, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/main.hcl", filepath.Join(k8s, "main.hcl")); err != nil {
		t.Fatal(err)
	}
	ch = start(t, k8s, 50*time.Millisecond)
	if err := os.Symlink("..2026_2", filepath.Join(k8s, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	mustRename(t, filepath.Join(k8s, "..data_tmp"), filepath.Join(k8s, "..data"))
	expectSignal(t, ch, "ConfigMap update")
}

func TestStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := Watch(ctx, dir, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "main.hcl"), "") // pending behind the hour
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a signal after cancel, want the channel closed")
		}
	case <-time.After(wait):
		t.Fatal("channel not closed after cancel")
	}
}

func TestWatchErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.hcl")
	write(t, file, "")
	for _, p := range []string{filepath.Join(dir, "missing"), file} {
		if _, err := Watch(context.Background(), p, 0); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Watch(%s) = %v, want an error naming it", p, err)
		}
	}
}
