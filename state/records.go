package state

import (
	"context"
	"encoding/binary"
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
// A certificate is two values under its name (schema 2): its certEntry in
// certificates/, JSON without CertPEM, ChainPEM and KeySealed, and those
// three in certificate_blobs/ (see encodeBlobs). Plan, show and status read
// only the first (DB.Summary), a third of the bytes; apply reads both.
type certEntry struct {
	V    int          `json:"v"`
	Cert *Certificate `json:"certificate"`
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
//
// A record read without its blobs (BlobsOmitted: DB.Summary, WithoutBlobs)
// keeps the stored CertPEM, ChainPEM and KeySealed when it carries none of
// them, and is refused if those belong to another certificate than
// rec.Fingerprint; when it carries any, the three are replaced. A complete
// record is written as it is: no blobs means none are stored.
func (db *DB) PutCertificate(ctx context.Context, rec *Certificate) error {
	return db.PutCertificateWithNotifications(ctx, rec)
}

// PutCertificateWithNotifications is PutCertificate that also enqueues rows
// (as EnqueueNotifications does: IDs and statuses filled in, both indexes
// kept) in the same transaction, so the record and the rows of the events
// it reports are durable together or not at all. Like PutCertificate it
// bumps the serial; it shares the group commit of both.
func (db *DB) PutCertificateWithNotifications(ctx context.Context, rec *Certificate, rows ...*Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec == nil || rec.Name == "" {
		return errors.New("putting certificate: empty name")
	}
	put, err := db.prepareCertificate(rec)
	if err != nil {
		return fmt.Errorf("putting certificate %s: %w", rec.Name, err)
	}
	enqueue := func(*bbolt.Tx) error { return nil }
	if len(rows) > 0 {
		if enqueue, err = prepareNotifications(rows); err != nil {
			return fmt.Errorf("putting certificate %s: %w", rec.Name, err)
		}
	}
	err = db.batch(bumpsSerial, func(tx *bbolt.Tx) error {
		if err := put(tx); err != nil {
			return err
		}
		return enqueue(tx)
	})
	if err != nil {
		return fmt.Errorf("putting certificate %s: %w", rec.Name, err)
	}
	return nil
}

// prepareCertificate checks and encodes rec (see PutCertificate) and
// returns the function that writes it in a transaction. Encoding comes
// first: the batched function may run twice and must only put these bytes.
func (db *DB) prepareCertificate(rec *Certificate) (func(tx *bbolt.Tx) error, error) {
	if len(rec.KeySealed) > 0 {
		if err := db.sealer.checkSealed(rec.KeySealed); err != nil {
			return nil, err
		}
	}
	c := *rec
	if n := len(c.History); n > MaxHistory {
		c.History = c.History[n-MaxHistory:]
	}
	meta, blobs, err := encodeCertificate(&c)
	if err != nil {
		return nil, err
	}
	keep := rec.blobsOmitted && blobs == nil
	key := []byte(rec.Name)
	fingerprint := rec.Fingerprint
	return func(tx *bbolt.Tx) error {
		b, bb := certBuckets(tx)
		switch {
		case keep:
			if fp := blobFingerprint(bb.Get(key)); fp != fingerprint {
				return fmt.Errorf("%w: the record was read without its certificate and key, which are now those of fingerprint %q, not %q", errBlobsMismatch, fp, fingerprint)
			}
		case blobs != nil:
			if err := bb.Put(key, blobs); err != nil {
				return err
			}
		default:
			if err := bb.Delete(key); err != nil {
				return err
			}
		}
		return b.Put(key, meta)
	}, nil
}

// certFillPercent is how full bbolt fills the pages of the certificate
// buckets when it splits them (its default is half). Records arrive mostly
// in name order (apply works through a sorted plan) and are rewritten in
// place, so fuller pages hold: the file is smaller, and Summary reads fewer
// pages.
const certFillPercent = 0.9

// certBuckets returns the certificates and certificate_blobs buckets of a
// write transaction, set to fill their pages to certFillPercent.
func certBuckets(tx *bbolt.Tx) (certs, blobs *bbolt.Bucket) {
	certs, blobs = tx.Bucket(bucketCertificates), tx.Bucket(bucketCertBlobs)
	certs.FillPercent, blobs.FillPercent = certFillPercent, certFillPercent
	return certs, blobs
}

// errBlobsMismatch: a record's blobs are not those of its fingerprint.
var errBlobsMismatch = errors.New("certificate and key do not match the record")

// DeleteCertificate removes the record for name, durably. Deleting a name
// that has no record is not an error.
func (db *DB) DeleteCertificate(ctx context.Context, name string) error {
	return db.DeleteCertificateWithNotifications(ctx, name)
}

// DeleteCertificateWithNotifications removes the record of name and
// enqueues rows (as EnqueueNotifications does) in one transaction: a crash
// keeps both the record and no rows, or neither. It is how a revocation
// removes a certificate and announces it.
func (db *DB) DeleteCertificateWithNotifications(ctx context.Context, name string, rows ...*Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	enqueue := func(*bbolt.Tx) error { return nil }
	if len(rows) > 0 {
		var err error
		if enqueue, err = prepareNotifications(rows); err != nil {
			return fmt.Errorf("deleting certificate %s: %w", name, err)
		}
	}
	key := []byte(name)
	err := db.batch(bumpsSerial, func(tx *bbolt.Tx) error {
		if err := deleteCertKeys(tx, key); err != nil {
			return err
		}
		return enqueue(tx)
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

// Certificate returns the whole record for name, blobs included, or an
// error matching ErrNotFound.
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
		key := []byte(name)
		v := b.Get(key)
		if v == nil {
			return nil
		}
		var err error
		c, err = db.decodeCertificate(name, v, blobsOf(tx, key), true) // copies out of the mmap
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

// blobsOf is the certificate_blobs value of key, nil if there is none (or
// no such bucket: schema 1).
func blobsOf(tx *bbolt.Tx, key []byte) []byte {
	if bb := tx.Bucket(bucketCertBlobs); bb != nil {
		return bb.Get(key)
	}
	return nil
}

// encodeCertificate returns the certificates/ value of c and its
// certificate_blobs/ value, nil when c has no blobs. c is a copy the caller
// may change; its blob fields are cleared here.
func encodeCertificate(c *Certificate) (meta, blobs []byte, err error) {
	blobs = encodeBlobs(c)
	c.CertPEM, c.ChainPEM, c.KeySealed = nil, nil, nil
	meta, err = marshalCertEntry(certEntryVersion, c) // encode.go
	return meta, blobs, err
}

// A certificate_blobs value is binary, not JSON (encoding/json would
// base64 the PEMs and check every byte of them again): the version byte
// blobEntryVersion, then the lengths of the fingerprint the blobs belong
// to, CertPEM, ChainPEM and KeySealed as uvarints, then those four. The
// fingerprint lets a write of a record read without blobs check that the
// stored blobs are its own.
const maxBlobHeader = 1 + 4*binary.MaxVarintLen64

func encodeBlobs(c *Certificate) []byte {
	parts := [4][]byte{[]byte(c.Fingerprint), c.CertPEM, c.ChainPEM, c.KeySealed}
	if len(parts[1])+len(parts[2])+len(parts[3]) == 0 {
		return nil
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	val := make([]byte, 0, maxBlobHeader+n)
	val = append(val, blobEntryVersion)
	for _, p := range parts {
		val = binary.AppendUvarint(val, uint64(len(p)))
	}
	for _, p := range parts {
		val = append(val, p...)
	}
	return val
}

// splitBlobs parses a certificate_blobs value into the fingerprint and
// the three blobs, which point into v.
func splitBlobs(v []byte) (parts [4][]byte, err error) {
	if len(v) == 0 || v[0] != blobEntryVersion {
		if len(v) == 0 {
			return parts, errors.New("empty blob entry")
		}
		return parts, fmt.Errorf("blob entry version %d not supported (want %d)", v[0], blobEntryVersion)
	}
	rest := v[1:]
	var lens [4]uint64
	for i := range lens {
		n, k := binary.Uvarint(rest)
		if k <= 0 {
			return parts, errors.New("bad blob entry header")
		}
		lens[i], rest = n, rest[k:]
	}
	for i, n := range lens {
		if n > uint64(len(rest)) {
			return parts, fmt.Errorf("blob lengths %v do not match %d bytes", lens, len(rest))
		}
		parts[i], rest = rest[:n:n], rest[n:]
	}
	if len(rest) != 0 {
		return parts, fmt.Errorf("blob lengths %v do not match: %d bytes left over", lens, len(rest))
	}
	return parts, nil
}

// blobFingerprint is the fingerprint a blob value belongs to, "" for no
// value (or one too damaged to say).
func blobFingerprint(v []byte) string {
	if v == nil {
		return ""
	}
	parts, err := splitBlobs(v)
	if err != nil {
		return "(damaged)"
	}
	return string(parts[0])
}

// decodeCertificate decodes a certificate of this state's schema from its
// certificates/ value and, when blobs is true, its certificate_blobs/
// value bv (nil if it has none). Without blobs the record is marked
// BlobsOmitted. Everything is copied (json.Unmarshal copies what it keeps,
// and the blobs get their own buffer), so the result stays valid after the
// transaction ends.
func (db *DB) decodeCertificate(name string, v, bv []byte, blobs bool) (*Certificate, error) {
	if db.schema == 1 {
		return decodeCertificateV1(name, v, blobs) // a read-only open of an old state
	}
	var e certEntry
	if err := unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("certificate %q: %w", name, err)
	}
	if e.V != certEntryVersion {
		return nil, fmt.Errorf("certificate %q: entry version %d not supported (want %d)", name, e.V, certEntryVersion)
	}
	if e.Cert == nil {
		return nil, fmt.Errorf("certificate %q: empty entry", name)
	}
	c := e.Cert
	c.CertPEM, c.ChainPEM, c.KeySealed = nil, nil, nil // never in the JSON, but be sure
	if !blobs {
		c.blobsOmitted = true
		return c, nil
	}
	if bv == nil {
		return c, nil
	}
	parts, err := splitBlobs(bv)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", name, err)
	}
	if fp := string(parts[0]); fp != c.Fingerprint {
		return nil, fmt.Errorf("certificate %q: %w (blobs of fingerprint %q, record %q)", name, errBlobsMismatch, fp, c.Fingerprint)
	}
	c.CertPEM, c.ChainPEM, c.KeySealed = cloneBlobs(parts[1], parts[2], parts[3])
	return c, nil
}

// cloneBlobs copies three blobs into one allocation; their capacities keep
// them apart, so appending to one never overwrites the next.
func cloneBlobs(a, b, c []byte) (ra, rb, rc []byte) {
	buf := make([]byte, len(a)+len(b)+len(c))
	out := [3][]byte{a, b, c}
	off := 0
	for i, p := range out {
		if len(p) == 0 {
			out[i] = nil
			continue
		}
		n := copy(buf[off:], p)
		out[i] = buf[off : off+n : off+n]
		off += n
	}
	return out[0], out[1], out[2]
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

// ErrExists is returned by ImportCertificates when a name already has a
// record.
var ErrExists = errors.New("already in the state")

// ImportCertificates writes recs in one transaction, durably: all of them
// or, on any error, none. A name that already has a record is refused
// (ErrExists, naming it): an import adds certificates and never replaces
// what an apply recorded. Records are checked as PutCertificate checks
// them; they must carry their blobs (none may be BlobsOmitted).
func (db *DB) ImportCertificates(ctx context.Context, recs []*Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	puts := make([]func(tx *bbolt.Tx) error, len(recs))
	for i, rec := range recs {
		if rec == nil || rec.Name == "" {
			return errors.New("importing certificates: empty name")
		}
		if rec.blobsOmitted {
			return fmt.Errorf("importing certificate %s: the record has no blobs", rec.Name)
		}
		put, err := db.prepareCertificate(rec)
		if err != nil {
			return fmt.Errorf("importing certificate %s: %w", rec.Name, err)
		}
		puts[i] = put
	}
	return db.update(bumpsSerial, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCertificates)
		for i, put := range puts {
			if b.Get([]byte(recs[i].Name)) != nil {
				return fmt.Errorf("importing certificate %s: %w", recs[i].Name, ErrExists)
			}
			if err := put(tx); err != nil {
				return fmt.Errorf("importing certificate %s: %w", recs[i].Name, err)
			}
		}
		return nil
	})
}

// DeleteCertificates removes the records of names in one transaction; a
// name without a record is not an error. It undoes an ImportCertificates
// whose configuration could not be written.
func (db *DB) DeleteCertificates(ctx context.Context, names []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.update(bumpsSerial, func(tx *bbolt.Tx) error {
		for _, n := range names {
			if err := tx.Bucket(bucketCertBlobs).Delete([]byte(n)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketCertificates).Delete([]byte(n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteCertKeys removes a certificate's record and its blobs: its two
// keys always change together (see the package comment).
func deleteCertKeys(tx *bbolt.Tx, key []byte) error {
	if err := tx.Bucket(bucketCertBlobs).Delete(key); err != nil {
		return err
	}
	return tx.Bucket(bucketCertificates).Delete(key)
}
