package state

import (
	"bytes"
	"fmt"

	"go.etcd.io/bbolt"
)

// Schema 1 kept a certificate whole in certificates/<name>: its JSON entry
// (entry version 1), then either nothing (CertPEM, ChainPEM and KeySealed
// inline in the JSON, base64) or a NUL byte and the three raw, their
// lengths in the entry's "blobs". JSON never contains a raw NUL, so the
// first one ends it.
type certEntryV1 struct {
	V     int          `json:"v"`
	Cert  *Certificate `json:"certificate"`
	Blobs []int        `json:"blobs,omitempty"`
}

// decodeCertificateV1 decodes a schema 1 certificate value; without blobs
// it leaves CertPEM, ChainPEM and KeySealed out and marks the record
// BlobsOmitted. The result is a copy (see decodeCertificate).
func decodeCertificateV1(name string, v []byte, blobs bool) (*Certificate, error) {
	js, raw := v, []byte(nil)
	if i := bytes.IndexByte(v, 0); i >= 0 {
		js, raw = v[:i], v[i+1:]
	}
	var e certEntryV1
	if err := unmarshal(js, &e); err != nil {
		return nil, fmt.Errorf("certificate %q: %w", name, err)
	}
	if e.V != 1 {
		return nil, fmt.Errorf("certificate %q: entry version %d not supported in schema 1 (want 1)", name, e.V)
	}
	if e.Cert == nil {
		return nil, fmt.Errorf("certificate %q: empty entry", name)
	}
	c := e.Cert
	if e.Blobs != nil || raw != nil {
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
		if blobs {
			n0, n1 := e.Blobs[0], e.Blobs[0]+e.Blobs[1]
			c.CertPEM, c.ChainPEM, c.KeySealed = cloneBlobs(raw[:n0], raw[n0:n1], raw[n1:])
		}
	}
	if !blobs {
		c.CertPEM, c.ChainPEM, c.KeySealed = nil, nil, nil
		c.blobsOmitted = true
	}
	return c, nil
}

// upgradeV1 moves every certificate's CertPEM, ChainPEM and KeySealed out
// of certificates/<name> into certificate_blobs/<name> (schema 1 → 2).
// The records are otherwise unchanged.
//
// Both buckets are written anew, in name order, rather than rewritten in
// place: each then fills a run of full pages of its own (see
// certFillPercent), where rewriting would leave certificates/ spread over
// as many half-empty pages as before, and Summary would touch them all.
func upgradeV1(tx *bbolt.Tx) error {
	old := tx.Bucket(bucketCertificates)
	if old == nil {
		_, err := tx.CreateBucketIfNotExists(bucketCertBlobs)
		return err
	}
	// Decode everything first: decodeCertificateV1 copies out of the
	// mmap, and the bucket is dropped below. ForEach walks in key order.
	var keys []string
	var certs []*Certificate
	if err := old.ForEach(func(k, v []byte) error {
		c, err := decodeCertificateV1(string(k), v, true)
		if err != nil {
			return err
		}
		keys, certs = append(keys, string(k)), append(certs, c)
		return nil
	}); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketCertificates, bucketCertBlobs} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	b, bb := certBuckets(tx)
	for i, c := range certs {
		meta, blobs, err := encodeCertificate(c)
		if err != nil {
			return fmt.Errorf("certificate %q: %w", keys[i], err)
		}
		key := []byte(keys[i])
		if err := b.Put(key, meta); err != nil {
			return err
		}
		if blobs != nil {
			if err := bb.Put(key, blobs); err != nil {
				return err
			}
		}
	}
	return nil
}
