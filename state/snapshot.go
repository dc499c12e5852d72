package state

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"sync"

	"go.etcd.io/bbolt"
)

// Snapshot reads the lineage, serial, every certificate, every issuer, the
// notification counts, the dead notifications and the revocations in one
// read transaction,
// so the result is consistent. The result is a deep copy that the caller
// owns.
//
// Decoding dominates the cost, so entries are decoded by several goroutines
// while the transaction (and so the mmap the values point into) is open.
func (db *DB) Snapshot(ctx context.Context) (*Snapshot, error) {
	return db.snapshot(ctx, true)
}

// Summary is Snapshot without the certificates' CertPEM, ChainPEM and
// KeySealed: every record is marked BlobsOmitted. It is what planning,
// show and status need (issuers are read whole: the plan parses a local
// CA's root), and it reads none of the certificate_blobs/ values, which
// are most of the bytes. A record of a Summary may be written back (see
// PutCertificate).
func (db *DB) Summary(ctx context.Context) (*Snapshot, error) {
	return db.snapshot(ctx, false)
}

func (db *DB) snapshot(ctx context.Context, blobs bool) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Snapshot{Certificates: map[string]*Certificate{}, Issuers: map[string]*Issuer{}}
	err := db.view(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			s.Lineage = string(meta.Get(metaLineage))
			s.Serial, _ = readU64(meta.Get(metaSerial))
			s.Revision = readRevision(meta)
		}
		s.NotificationCounts = countStatuses(tx)
		if err := readRevocations(tx, s); err != nil {
			return err
		}
		if s.NotificationCounts[NotifyDead] > 0 {
			dead, err := listByStatus(tx, NotifyDead)
			if err != nil {
				return err
			}
			s.DeadNotifications = dead
		}
		if b := tx.Bucket(bucketIssuers); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				iss, err := decodeIssuer(string(k), v)
				if err == nil {
					s.Issuers[string(k)] = iss
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketCertificates)
		if b == nil {
			return nil
		}
		// These point into the mmap: valid only in this transaction.
		var keys, vals, bvals [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			keys, vals = append(keys, k), append(vals, v)
			return nil
		}); err != nil {
			return err
		}
		if bb := tx.Bucket(bucketCertBlobs); blobs && bb != nil {
			// Both buckets are keyed by name: one walk of each pairs them.
			bvals = make([][]byte, len(keys))
			cur := bb.Cursor()
			bk, bv := cur.First()
			for i, k := range keys {
				for bk != nil && bytes.Compare(bk, k) < 0 {
					bk, bv = cur.Next()
				}
				if bk != nil && bytes.Equal(bk, k) {
					bvals[i] = bv
				}
			}
		}
		certs, err := db.decodeAll(ctx, keys, vals, bvals, blobs)
		if err != nil {
			return err
		}
		for i, c := range certs {
			s.Certificates[string(keys[i])] = c
		}
		return nil
	})
	if err != nil {
		return nil, wrapRead(db.path, err)
	}
	return s, nil
}

// decodeAll decodes certificate entries in parallel; it returns only after
// every worker has stopped touching vals.
// bvals[i], if bvals is not nil, is the blob value of keys[i].
func (db *DB) decodeAll(ctx context.Context, keys, vals, bvals [][]byte, blobs bool) ([]*Certificate, error) {
	path := db.path
	decode := func(i int) (*Certificate, error) {
		var bv []byte
		if bvals != nil {
			bv = bvals[i]
		}
		return db.decodeCertificate(string(keys[i]), vals[i], bv, blobs)
	}
	out := make([]*Certificate, len(vals))
	workers := min(runtime.GOMAXPROCS(0), (len(vals)+255)/256)
	if workers <= 1 {
		for i := range vals {
			c, err := decode(i)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// vals point into the mmap: a damaged file must not crash us
			// from this goroutine either (see DB.view).
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					errs[w] = damaged(path, r)
				}
			}()
			for i := w; i < len(vals); i += workers {
				if i%512 == 0 && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				c, err := decode(i)
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = c
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
