package state

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyEnv names the environment variable that holds the state key: 32 bytes
// written as 64 hex digits or as base64 (standard or URL alphabet, padded or
// not). It takes precedence over the key file.
const KeyEnv = "CERTCTL_STATE_KEY"

// KeySize is the length of the state key in bytes (AES-256).
const KeySize = 32

// Sealed values are sealVersion || nonce || AES-256-GCM(ciphertext || tag).
// The version byte lets a later format coexist, and lets PutCertificate and
// PutIssuer refuse a clear-text key cheaply (PEM starts with '-', DER with
// 0x30).
const (
	sealVersion   byte = 1
	sealNonceSize      = 12
	sealOverhead       = 1 + sealNonceSize + 16
)

// sealAAD binds sealed values to this use, so a blob sealed elsewhere with
// the same key does not open here.
var sealAAD = []byte("certctl state v1")

// keyCheckPlaintext is sealed into meta/key_check when the state is created;
// Open unseals it to tell a wrong key at once rather than at first use.
var keyCheckPlaintext = []byte("certctl state key check v1")

// KeyFilePath returns the key file used for the state at statePath when
// neither Options.Key nor CERTCTL_STATE_KEY is set: "<statePath>.key", e.g.
// ".certctl/state.db.key". It holds the key as 64 hex digits and a newline.
func KeyFilePath(statePath string) string { return statePath + ".key" }

// NewKey returns a fresh random state key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generating state key: %w", err)
	}
	return k, nil
}

// ParseKey decodes a state key written as 64 hex digits or as base64 of 32
// bytes. The error never repeats the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, errors.New("not a 32-byte key written as 64 hex digits or base64")
}

// sealer holds the AEAD for one key. It is safe for concurrent use.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("state key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+sealNonceSize, sealOverhead+len(plaintext))
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	return s.aead.Seal(out, out[1:1+sealNonceSize], plaintext, sealAAD), nil
}

// errUnseal is deliberately vague: it must not help an attacker, and it must
// never carry key or plaintext bytes.
var errUnseal = errors.New("unsealing: authentication failed (wrong state key, or the sealed data was altered)")

func (s *sealer) open(sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, errors.New("unsealing: data too short to be sealed")
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("unsealing: unknown seal format %d", sealed[0])
	}
	p, err := s.aead.Open(nil, sealed[1:1+sealNonceSize], sealed[1+sealNonceSize:], sealAAD)
	if err != nil {
		return nil, errUnseal
	}
	return p, nil
}

// checkSealed is the guard that keeps clear-text private keys out of the
// state: b must be sealed with this state's key.
func (s *sealer) checkSealed(b []byte) error {
	if len(b) < sealOverhead || b[0] != sealVersion {
		return errors.New("key_sealed is not sealed (refusing to store a private key in clear; use Seal)")
	}
	p, err := s.open(b)
	clear(p) // a private key: do not leave it on the heap
	if err != nil {
		return errors.New("key_sealed does not open with this state's key")
	}
	return nil
}

// keySource is where the state key came from; desc names it in errors.
type keySource struct {
	key  []byte // nil when the key file does not exist yet
	desc string // "CERTCTL_STATE_KEY", "key file .certctl/state.db.key", ...
	file string // the key file path, when the key comes (or will come) from it
}

// findKey resolves the key in precedence order: opts.Key, $CERTCTL_STATE_KEY,
// the key file. A missing key file is not an error here: Open decides
// whether to create it (new state) or to fail (state with sealed data).
func findKey(statePath string, optKey []byte) (keySource, error) {
	if optKey != nil {
		if len(optKey) != KeySize {
			return keySource{}, fmt.Errorf("state key must be %d bytes, got %d", KeySize, len(optKey))
		}
		return keySource{key: bytes.Clone(optKey), desc: "the key passed to Open"}, nil
	}
	if v := os.Getenv(KeyEnv); strings.TrimSpace(v) != "" {
		k, err := ParseKey(v)
		if err != nil {
			return keySource{}, fmt.Errorf("%s: %w", KeyEnv, err)
		}
		return keySource{key: k, desc: KeyEnv}, nil
	}
	file := KeyFilePath(statePath)
	src := keySource{desc: "key file " + file, file: file}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return src, nil
	}
	if err != nil {
		return keySource{}, fmt.Errorf("reading state key file: %w", err)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		return keySource{}, fmt.Errorf("state key file %s: %w", file, err)
	}
	src.key = k
	return src, nil
}

// createKeyFile writes a new random key to path, mode 0600, atomically: the
// key is written and synced to a temporary file which is then hard-linked to
// path, which fails if path exists, so no reader ever sees a partial key and
// a key file is never overwritten. If another process won the race, its key
// is returned.
func createKeyFile(path string) ([]byte, error) {
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("creating state key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing state key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			data, rerr := os.ReadFile(path)
			if rerr != nil {
				return nil, fmt.Errorf("reading state key file: %w", rerr)
			}
			k, perr := ParseKey(string(data))
			if perr != nil {
				return nil, fmt.Errorf("state key file %s: %w", path, perr)
			}
			return k, nil
		}
		return nil, fmt.Errorf("creating state key file: %w", err)
	}
	syncDir(dir)
	return key, nil
}

// syncDir makes a new directory entry durable. Best effort: some platforms
// cannot open or sync directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
