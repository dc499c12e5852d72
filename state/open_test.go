package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestOpenCreatesFilesPrivate(t *testing.T) {
	path := testPath(t)
	db := mustOpen(t, path, Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		mode fs.FileMode
	}{
		{filepath.Dir(path), fs.ModeDir | 0o700},
		{path, 0o600},
		{KeyFilePath(path), 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("mode of %s = %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
	// A state with looser permissions is tightened on a read-write open.
	os.Chmod(path, 0o644)
	mustOpen(t, path, Options{}).Close()
	if fi, _ := os.Stat(path); fi.Mode() != 0o600 {
		t.Errorf("mode after reopening a 0644 state = %v, want 0600", fi.Mode())
	}
	if got := filepath.Base(KeyFilePath(path)); got != "state.db.key" {
		t.Errorf("KeyFilePath base = %q, want state.db.key", got)
	}
	data, err := os.ReadFile(KeyFilePath(path))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(data) {
		t.Errorf("key file content is not 64 hex digits and a newline (%d bytes)", len(data))
	}
	// No temporary files are left beside the state.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("state dir holds %v, want state.db and state.db.key", names)
	}
}

func TestReopenKeepsRecords(t *testing.T) {
	path := testPath(t)
	db := mustOpen(t, path, Options{})
	want := map[string]*Certificate{}
	for i := range 5 {
		c := sampleCert(t, db, i)
		want[c.Name] = c
		if err := db.PutCertificate(bg, c); err != nil {
			t.Fatal(err)
		}
	}
	caKey, _ := db.Seal([]byte("ca key"))
	iss := &Issuer{Name: "internal", Type: "local_ca", Digest: "d", CertPEM: fakePEM("CERTIFICATE", 9, 700), KeySealed: caKey, CreatedAt: t0}
	if err := db.PutIssuer(bg, iss); err != nil {
		t.Fatal(err)
	}
	before, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpen(t, path, Options{})
	defer db.Close()
	after, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !snapshotsEqual(before, after) {
		t.Fatalf("snapshot after reopen differs:\nbefore %+v\nafter  %+v", before, after)
	}
	if len(after.Certificates) != 5 || len(after.Issuers) != 1 {
		t.Fatalf("got %d certificates, %d issuers; want 5, 1", len(after.Certificates), len(after.Issuers))
	}
	for name, w := range want {
		if got := after.Certificates[name]; !certsEqual(got, w) {
			t.Errorf("certificate %s = %+v, want %+v", name, got, w)
		}
	}
	if !issuersEqual(after.Issuers["internal"], iss) {
		t.Errorf("issuer = %+v, want %+v", after.Issuers["internal"], iss)
	}
	key, err := db.Unseal(after.Issuers["internal"].KeySealed)
	if err != nil || string(key) != "ca key" {
		t.Errorf("Unseal(issuer key) = %q, %v", key, err)
	}
	got, err := db.Certificate(bg, "svc-00003")
	if err != nil || !certsEqual(got, want["svc-00003"]) {
		t.Errorf("Certificate(svc-00003) = %+v, %v", got, err)
	}
	if _, err := db.Certificate(bg, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Certificate(nope) error = %v, want ErrNotFound", err)
	}
}

func TestLineageAndSerial(t *testing.T) {
	path := testPath(t)
	db := mustOpen(t, path, Options{})
	s0, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s0.Lineage) {
		t.Errorf("lineage = %q, want 32 hex digits", s0.Lineage)
	}
	for i := range 3 {
		if err := db.PutCertificate(bg, sampleCert(t, db, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteCertificate(bg, "svc-00001"); err != nil {
		t.Fatal(err)
	}
	s1, _ := db.Snapshot(bg)
	if s1.Serial != s0.Serial+4 {
		t.Errorf("serial after 4 sequential writes = %d, want %d", s1.Serial, s0.Serial+4)
	}
	if _, ok := s1.Certificates["svc-00001"]; ok || len(s1.Certificates) != 2 {
		t.Errorf("after delete: %d certificates, svc-00001 present %v", len(s1.Certificates), ok)
	}
	db.Close()

	// Reopening neither changes the lineage nor counts as a write.
	db = mustOpen(t, path, Options{})
	defer db.Close()
	s2, _ := db.Snapshot(bg)
	if s2.Lineage != s0.Lineage || s2.Serial != s1.Serial {
		t.Errorf("after reopen lineage, serial = %s, %d; want %s, %d", s2.Lineage, s2.Serial, s0.Lineage, s1.Serial)
	}
	// Another state has another lineage.
	other := openTemp(t)
	s3, _ := other.Snapshot(bg)
	if s3.Lineage == s0.Lineage {
		t.Error("two states share a lineage")
	}
}

func TestLockTimeout(t *testing.T) {
	path := testPath(t)
	db := mustOpen(t, path, Options{})
	defer db.Close()

	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := Open(path, Options{Timeout: 100 * time.Millisecond, ReadOnly: ro})
		want := fmt.Sprintf("state %s is locked: is another certctl process using it?", path)
		if err == nil || err.Error() != want || !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open(ReadOnly=%v) = %v, want %q (ErrLocked)", ro, err, want)
		}
		if d := time.Since(start); d < 40*time.Millisecond || d > 3*time.Second {
			t.Errorf("second Open took %v, want about the 100ms timeout", d)
		}
	}

	// Once the first closes, the file is free again.
	db.Close()
	db2 := mustOpen(t, path, Options{Timeout: 100 * time.Millisecond})
	db2.Close()
}

func TestReadOnly(t *testing.T) {
	path := testPath(t)
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing, ReadOnly) = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open created the state directory")
	}
	db := mustOpen(t, path, Options{})
	if err := db.PutCertificate(bg, sampleCert(t, db, 1)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Two readers at once are fine; neither may write.
	r1 := mustOpen(t, path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	defer r1.Close()
	r2 := mustOpen(t, path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	defer r2.Close()
	s, err := r2.Snapshot(bg)
	if err != nil || len(s.Certificates) != 1 {
		t.Fatalf("read-only Snapshot = %d certificates, %v", len(s.Certificates), err)
	}
	if err := r1.PutCertificate(bg, sampleCert(t, r1, 2)); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("PutCertificate on read-only state = %v, want a read-only error", err)
	}
}

func TestCancelledContext(t *testing.T) {
	db := openTemp(t)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := db.PutCertificate(ctx, sampleCert(t, db, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("PutCertificate(cancelled) = %v", err)
	}
	if _, err := db.Snapshot(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Snapshot(cancelled) = %v", err)
	}
}

// writeBolt makes a bbolt file at path and lets fn fill it.
func writeBolt(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNotAStateFile(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	cases := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"text file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("certificate \"www\" {\n  common_name = \"www\"\n}\n"), 0o600)
		}},
		{"one byte", func(t *testing.T, path string) { os.WriteFile(path, []byte{0}, 0o600) }},
		{"random 4 KiB", func(t *testing.T, path string) { os.WriteFile(path, random(4096), 0o600) }},
		{"random 64 KiB", func(t *testing.T, path string) { os.WriteFile(path, random(65536), 0o600) }},
		{"zeros 32 KiB", func(t *testing.T, path string) { os.WriteFile(path, make([]byte, 32768), 0o600) }},
		{"foreign bbolt", func(t *testing.T, path string) {
			writeBolt(t, path, func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucket([]byte("users"))
				if err != nil {
					return err
				}
				return b.Put([]byte("alice"), []byte("x"))
			})
		}},
		{"foreign bbolt with a meta bucket", func(t *testing.T, path string) {
			writeBolt(t, path, func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				return b.Put([]byte("version"), []byte("3"))
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := testPath(t)
			os.MkdirAll(filepath.Dir(path), 0o700)
			c.write(t, path)
			before, _ := os.ReadFile(path)
			for _, ro := range []bool{false, true} {
				db, err := Open(path, Options{ReadOnly: ro})
				if err == nil {
					db.Close()
					t.Fatalf("Open(ReadOnly=%v) succeeded", ro)
				}
				if !errors.Is(err, ErrNotState) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a certctl state file") {
					t.Errorf("Open(ReadOnly=%v) = %v, want ErrNotState naming the path", ro, err)
				}
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("Open changed a file that is not a certctl state")
			}
			if _, err := os.Stat(KeyFilePath(path)); err == nil {
				t.Error("Open created a key file for a file that is not a certctl state")
			}
		})
	}
}

// TestDamagedState damages a real state in ways that pass bbolt's meta
// page checks; whatever happens must be an error, never a panic or crash.
func TestDamagedState(t *testing.T) {
	build := func(t *testing.T) (string, []byte) {
		path := testPath(t)
		db := mustOpen(t, path, Options{})
		var recs []*Certificate
		for i := range 200 {
			recs = append(recs, sampleCert(t, db, i))
		}
		putMany(t, db, recs)
		db.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return path, data
	}
	cases := []struct {
		name   string
		damage func(data []byte) []byte
	}{
		{"truncated to half", func(d []byte) []byte { return d[:len(d)/2] }},
		{"truncated to 3 pages", func(d []byte) []byte { return d[:3*4096] }},
		{"data pages overwritten", func(d []byte) []byte {
			for i := 2 * 4096; i < len(d); i++ {
				d[i] = byte(i * 13)
			}
			return d
		}},
		{"data pages zeroed", func(d []byte) []byte {
			clear(d[2*4096:])
			return d
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, data := build(t)
			if err := os.WriteFile(path, c.damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := Open(path, Options{})
			if err == nil {
				_, err = db.Snapshot(bg)
				db.Close()
			}
			if err == nil {
				t.Fatal("damaged state opened and read without error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the state file", err)
			}
			t.Logf("%s: %v", c.name, err)
		})
	}
}

func TestSchemaVersion(t *testing.T) {
	setVersion := func(t *testing.T, path string, v uint64) {
		b, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaVersion, u64(v))
		}); err != nil {
			t.Fatal(err)
		}
	}
	path := testPath(t)
	mustOpen(t, path, Options{}).Close()

	setVersion(t, path, 99)
	_, err := Open(path, Options{})
	if err == nil || !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "state was written by a newer certctl (schema 99)") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open(schema 99) = %v, want ErrNewerSchema naming the path", err)
	}

	// An old version with no upgrade path fails cleanly, without writing.
	setVersion(t, path, 0)
	_, err = Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "no upgrade from schema 0") {
		t.Errorf("Open(schema 0) = %v, want 'no upgrade from schema 0'", err)
	}
}

// Every version below the current one has exactly one upgrade function.
func TestUpgradeTableComplete(t *testing.T) {
	for v := uint64(1); v < SchemaVersion; v++ {
		if upgrades[v] == nil {
			t.Errorf("no upgrade function from schema %d", v)
		}
	}
	for v := range upgrades {
		if v < 1 || v >= SchemaVersion {
			t.Errorf("upgrade function from schema %d, outside 1..%d", v, SchemaVersion-1)
		}
	}
}

// The file stays within growStep of what bbolt uses, small or large, with
// the map set up front (initialMmapSize), and a state that outgrew the
// first grows reads back whole, read-write and read-only.
func TestStateFileGrowsInSteps(t *testing.T) {
	path := testPath(t)
	db := mustOpen(t, path, Options{})
	fileWithin := func(what string) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		var used int64
		if err := db.bolt.View(func(tx *bbolt.Tx) error { used = tx.Size(); return nil }); err != nil {
			t.Fatal(err)
		}
		if fi.Size() < used || fi.Size() > used+growStep {
			t.Errorf("%s: file is %d bytes for %d in use, want at most %d more", what, fi.Size(), used, growStep)
		}
	}
	if err := db.PutCertificate(bg, sampleCert(t, db, 0)); err != nil {
		t.Fatal(err)
	}
	fileWithin("one certificate")
	const n = 1500 // some 5 MB: several grows
	for i := 1; i < n; i += 100 {
		recs := make([]*Certificate, 0, 100)
		for j := i; j < i+100 && j < n; j++ {
			recs = append(recs, sampleCert(t, db, j))
		}
		putMany(t, db, recs)
	}
	fileWithin("1,500 certificates")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		db := mustOpen(t, path, Options{ReadOnly: ro})
		snap, err := db.Snapshot(bg)
		if err != nil || len(snap.Certificates) != n {
			t.Errorf("Snapshot (read-only %v) = %d certificates, %v; want %d", ro, len(snap.Certificates), err, n)
		}
		db.Close()
	}
}
