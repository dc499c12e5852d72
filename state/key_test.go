package state

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealUnseal(t *testing.T) {
	db := openTemp(t)
	plain := []byte("-----BEGIN PRIVATE KEY-----\nsecretsecret\n-----END PRIVATE KEY-----\n")
	a, err := db.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := db.Seal(plain)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are equal (nonce reused)")
	}
	if a[0] != sealVersion || len(a) != sealOverhead+len(plain) || bytes.Contains(a, []byte("secret")) {
		t.Errorf("sealed form: version %d, len %d (plaintext %d)", a[0], len(a), len(plain))
	}
	got, err := db.Unseal(a)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Unseal(Seal(p)) = %q, %v", got, err)
	}

	// Flipping any single bit is detected, and no error leaks anything.
	for i := range a {
		bad := bytes.Clone(a)
		bad[i] ^= 0x01
		p, err := db.Unseal(bad)
		if err == nil {
			t.Fatalf("Unseal with byte %d flipped succeeded", i)
		}
		if p != nil || strings.Contains(err.Error(), "secret") {
			t.Fatalf("Unseal error leaks: %v", err)
		}
	}
	for _, bad := range [][]byte{nil, {}, {sealVersion}, a[:sealOverhead-1], append([]byte{9}, a[1:]...)} {
		if _, err := db.Unseal(bad); err == nil {
			t.Errorf("Unseal(%d bytes) succeeded", len(bad))
		}
	}

	// Another state's key does not open it.
	other := openTemp(t)
	if _, err := other.Unseal(a); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Unseal with another key = %v", err)
	}
}

func TestPutRefusesClearKeys(t *testing.T) {
	db := openTemp(t)
	other := openTemp(t)
	foreign, _ := other.Seal([]byte("k"))
	for name, key := range map[string][]byte{
		"PEM":                 []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI...\n-----END EC PRIVATE KEY-----\n"),
		"DER":                 {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25},
		"sealed by other key": foreign,
	} {
		c := sampleCert(t, db, 1)
		c.KeySealed = key
		if err := db.PutCertificate(bg, c); err == nil {
			t.Errorf("PutCertificate with %s key succeeded", name)
		} else if strings.Contains(err.Error(), "MHcC") {
			t.Errorf("error leaks key: %v", err)
		}
		if err := db.PutIssuer(bg, &Issuer{Name: "ca", KeySealed: key}); err == nil {
			t.Errorf("PutIssuer with %s key succeeded", name)
		}
	}
	s, _ := db.Snapshot(bg)
	if len(s.Certificates)+len(s.Issuers) != 0 {
		t.Errorf("refused records were stored")
	}
}

func TestKeySources(t *testing.T) {
	t.Run("env key, hex and base64", func(t *testing.T) {
		path := testPath(t)
		key, _ := NewKey()
		t.Setenv(KeyEnv, hex.EncodeToString(key))
		db := mustOpen(t, path, Options{})
		sealed, _ := db.Seal([]byte("x"))
		db.Close()
		if _, err := os.Stat(KeyFilePath(path)); err == nil {
			t.Error("key file created although CERTCTL_STATE_KEY is set")
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key), " " + hex.EncodeToString(key) + "\n"} {
			t.Setenv(KeyEnv, enc)
			db := mustOpen(t, path, Options{})
			if p, err := db.Unseal(sealed); err != nil || string(p) != "x" {
				t.Errorf("Unseal with key %q = %q, %v", enc, p, err)
			}
			db.Close()
		}
		// Options.Key wins over the environment.
		t.Setenv(KeyEnv, "not a key")
		mustOpen(t, path, Options{Key: key}).Close()
	})

	t.Run("env key malformed", func(t *testing.T) {
		path := testPath(t)
		t.Setenv(KeyEnv, "hunter2-hunter2")
		_, err := Open(path, Options{})
		if err == nil || !strings.Contains(err.Error(), KeyEnv) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open with malformed key = %v; want an error naming %s and not echoing the value", err, KeyEnv)
		}
		if _, err := Open(path, Options{Key: []byte("short")}); err == nil {
			t.Error("Open with a 5-byte Options.Key succeeded")
		}
	})

	t.Run("wrong env key", func(t *testing.T) {
		path := testPath(t)
		mustOpen(t, path, Options{}).Close() // key file
		wrong, _ := NewKey()
		t.Setenv(KeyEnv, hex.EncodeToString(wrong))
		_, err := Open(path, Options{})
		if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "state key does not match (CERTCTL_STATE_KEY)") {
			t.Errorf("Open with wrong env key = %v", err)
		}
	})

	t.Run("wrong key file", func(t *testing.T) {
		path := testPath(t)
		mustOpen(t, path, Options{}).Close()
		wrong, _ := NewKey()
		os.WriteFile(KeyFilePath(path), []byte(hex.EncodeToString(wrong)), 0o600)
		_, err := Open(path, Options{})
		want := "state key does not match (key file " + KeyFilePath(path) + ")"
		if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open with wrong key file = %v, want %q", err, want)
		}
		if _, err := Open(path, Options{Key: wrong}); !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("Open with wrong Options.Key = %v", err)
		}
	})

	t.Run("key file missing", func(t *testing.T) {
		path := testPath(t)
		mustOpen(t, path, Options{}).Close()
		os.Remove(KeyFilePath(path))
		for _, ro := range []bool{false, true} {
			_, err := Open(path, Options{ReadOnly: ro})
			if !errors.Is(err, ErrKeyMissing) || !strings.Contains(err.Error(), "state key file "+KeyFilePath(path)+" is missing") {
				t.Errorf("Open(ReadOnly=%v) without key file = %v", ro, err)
			}
		}
		if _, err := os.Stat(KeyFilePath(path)); err == nil {
			t.Error("Open replaced the missing key file with a new key")
		}
	})

	t.Run("key file garbage", func(t *testing.T) {
		path := testPath(t)
		mustOpen(t, path, Options{}).Close()
		os.WriteFile(KeyFilePath(path), []byte("password123\n"), 0o600)
		_, err := Open(path, Options{})
		if err == nil || !strings.Contains(err.Error(), KeyFilePath(path)) || strings.Contains(err.Error(), "password123") {
			t.Errorf("Open with garbage key file = %v", err)
		}
	})

	t.Run("existing key file is used for a new state", func(t *testing.T) {
		path := testPath(t)
		key, _ := NewKey()
		os.MkdirAll(filepath.Dir(path), 0o700)
		os.WriteFile(KeyFilePath(path), []byte(base64.StdEncoding.EncodeToString(key)), 0o600)
		db := mustOpen(t, path, Options{})
		sealed, _ := db.Seal([]byte("x"))
		db.Close()
		db = mustOpen(t, path, Options{Key: key})
		defer db.Close()
		if _, err := db.Unseal(sealed); err != nil {
			t.Errorf("state did not use the existing key file: %v", err)
		}
	})
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, KeySize)
	for _, s := range []string{hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)), base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key), base64.URLEncoding.EncodeToString(key)} {
		if got, err := ParseKey(s); err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "abc", hex.EncodeToString(key[:16]), base64.StdEncoding.EncodeToString(key[:31])} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) succeeded", s)
		}
	}
}
