package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	fastjson "github.com/goccy/go-json"
	"go.etcd.io/bbolt"
)

// Entries wrap each record with its entry version, so a reader can refuse
// (or an upgrade function convert) a record written in another shape.
//
// A certificate value is its JSON entry, a NUL byte, then CertPEM, ChainPEM
// and KeySealed raw, their lengths in the entry's "blobs". encoding/json
// validates and unquotes every byte of a string, so keeping the ~2 KB of
// PEM out of the JSON makes Snapshot several times faster. JSON never
// contains a raw NUL, so the first one ends it. A value without a NUL is a
// plain JSON entry (blobs inline), which the decoder also accepts.
type certEntry struct {
	V     int          `json:"v"`
	Cert  *Certificate `json:"certificate"`
	Blobs []int        `json:"blobs,omitempty"`
}

type issuerEntry struct {
	V      int     `json:"v"`
	Issuer *Issuer `json:"issuer"`
}

func checkEntryVersion(v int, kind, name string) error {
	if v < 1 || v > entryVersion {
		return fmt.Errorf("%s %q: entry version %d not supported (want 1..%d)", kind, name, v, entryVersion)
	}
	return nil
}

// PutCertificate writes rec under rec.Name, replacing any earlier record,
// and returns once it is durable. Concurrent calls share one transaction
// and one fsync. History is trimmed to the newest MaxHistory versions (the
// caller appends, so the newest are last); rec itself is not modified.
// A KeySealed that is not sealed with this state's key is refused.
func (db *DB) PutCertificate(ctx context.Context, rec *Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec == nil || rec.Name == "" {
		return errors.New("putting certificate: empty name")
	}
	if len(rec.KeySealed) > 0 {
		if err := db.sealer.checkSealed(rec.KeySealed); err != nil {
			return fmt.Errorf("putting certificate %s: %w", rec.Name, err)
		}
	}
	c := *rec
	if n := len(c.History); n > MaxHistory {
		c.History = c.History[n-MaxHistory:]
	}
	// Encode before Batch: the batched function may run twice and must
	// only put these bytes.
	val, err := encodeCertificate(&c)
	if err != nil {
		return fmt.Errorf("putting certificate %s: %w", rec.Name, err)
	}
	key := []byte(rec.Name)
	err = db.batch(bumpsSerial, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCertificates).Put(key, val)
	})
	if err != nil {
		return fmt.Errorf("putting certificate %s: %w", rec.Name, err)
	}
	return nil
}

// DeleteCertificate removes the record for name, durably. Deleting a name
// that has no record is not an error.
func (db *DB) DeleteCertificate(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := []byte(name)
	err := db.batch(bumpsSerial, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCertificates).Delete(key)
	})
	if err != nil {
		return fmt.Errorf("deleting certificate %s: %w", name, err)
	}
	return nil
}

// PutIssuer writes rec under rec.Name durably. A KeySealed that is not
// sealed with this state's key is refused.
func (db *DB) PutIssuer(ctx context.Context, rec *Issuer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec == nil || rec.Name == "" {
		return errors.New("putting issuer: empty name")
	}
	if len(rec.KeySealed) > 0 {
		if err := db.sealer.checkSealed(rec.KeySealed); err != nil {
			return fmt.Errorf("putting issuer %s: %w", rec.Name, err)
		}
	}
	val, err := json.Marshal(issuerEntry{V: entryVersion, Issuer: rec})
	if err != nil {
		return fmt.Errorf("putting issuer %s: %w", rec.Name, err)
	}
	err = db.update(bumpsSerial, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketIssuers).Put([]byte(rec.Name), val)
	})
	if err != nil {
		return fmt.Errorf("putting issuer %s: %w", rec.Name, err)
	}
	return nil
}

// Certificate returns the record for name, or an error matching
// ErrNotFound.
func (db *DB) Certificate(ctx context.Context, name string) (*Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var c *Certificate
	err := db.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCertificates)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(name))
		if v == nil {
			return nil
		}
		var err error
		c, err = decodeCertificate(name, v) // copies out of the mmap
		return err
	})
	if err != nil {
		return nil, wrapRead(db.path, err)
	}
	if c == nil {
		return nil, fmt.Errorf("certificate %s: %w", name, ErrNotFound)
	}
	return c, nil
}

// encodeCertificate builds the value for c (see certEntry). c is a copy the
// caller may change; its blob fields are cleared here.
func encodeCertificate(c *Certificate) ([]byte, error) {
	blobs := [3][]byte{c.CertPEM, c.ChainPEM, c.KeySealed}
	c.CertPEM, c.ChainPEM, c.KeySealed = nil, nil, nil
	e := certEntry{V: entryVersion, Cert: c, Blobs: make([]int, len(blobs))}
	n := 0
	for i, b := range blobs {
		e.Blobs[i] = len(b)
		n += len(b)
	}
	js, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	val := make([]byte, 0, len(js)+1+n)
	val = append(append(val, js...), 0)
	for _, b := range blobs {
		val = append(val, b...)
	}
	return val, nil
}

// decodeCertificate decodes one value. Everything is copied (json.Unmarshal
// copies what it keeps, and the blobs get their own buffer), so the result
// stays valid after the transaction ends.
func decodeCertificate(name string, v []byte) (*Certificate, error) {
	js, raw := v, []byte(nil)
	if i := bytes.IndexByte(v, 0); i >= 0 {
		js, raw = v[:i], v[i+1:]
	}
	var e certEntry
	if err := unmarshal(js, &e); err != nil {
		return nil, fmt.Errorf("certificate %q: %w", name, err)
	}
	if err := checkEntryVersion(e.V, "certificate", name); err != nil {
		return nil, err
	}
	if e.Cert == nil {
		return nil, fmt.Errorf("certificate %q: empty entry", name)
	}
	if e.Blobs == nil && raw == nil {
		return e.Cert, nil
	}
	total := 0
	for _, n := range e.Blobs {
		if n < 0 {
			return nil, fmt.Errorf("certificate %q: bad blob length", name)
		}
		total += n
	}
	if len(e.Blobs) != 3 || total != len(raw) {
		return nil, fmt.Errorf("certificate %q: blob lengths %v do not match %d bytes", name, e.Blobs, len(raw))
	}
	buf := bytes.Clone(raw) // one allocation for the three; caps keep them apart
	var out [3][]byte
	off := 0
	for i, n := range e.Blobs {
		if n > 0 {
			out[i] = buf[off : off+n : off+n]
		}
		off += n
	}
	e.Cert.CertPEM, e.Cert.ChainPEM, e.Cert.KeySealed = out[0], out[1], out[2]
	return e.Cert, nil
}

// unmarshal decodes JSON written by encoding/json. It uses goccy/go-json,
// about 3x faster than encoding/json on our records (Snapshot of 10k
// certificates is dominated by decoding), and falls back to encoding/json
// on any error so that a decoder difference can never lose a record:
// TestFastJSONMatchesStd checks that both decode our types the same.
func unmarshal(data []byte, v any) error {
	if fastjson.Unmarshal(data, v) == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero() // drop what the fast decoder filled
	return json.Unmarshal(data, v)
}

func decodeIssuer(name string, v []byte) (*Issuer, error) {
	var e issuerEntry
	if err := unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("issuer %q: %w", name, err)
	}
	if err := checkEntryVersion(e.V, "issuer", name); err != nil {
		return nil, err
	}
	if e.Issuer == nil {
		return nil, fmt.Errorf("issuer %q: empty entry", name)
	}
	return e.Issuer, nil
}
