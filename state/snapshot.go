package state

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"

	"go.etcd.io/bbolt"
)

// Snapshot reads the lineage, serial, every certificate, every issuer, the
// notification counts and the dead notifications in one read transaction,
// so the result is consistent. The result is a deep
// copy that the caller owns.
//
// Decoding dominates the cost, so entries are decoded by several goroutines
// while the transaction (and so the mmap the values point into) is open.
func (db *DB) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Snapshot{Certificates: map[string]*Certificate{}, Issuers: map[string]*Issuer{}}
	err := db.view(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			s.Lineage = string(meta.Get(metaLineage))
			s.Serial, _ = readU64(meta.Get(metaSerial))
		}
		s.NotificationCounts = countStatuses(tx)
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
		var keys, vals [][]byte // point into the mmap: valid only in this tx
		if err := b.ForEach(func(k, v []byte) error {
			keys, vals = append(keys, k), append(vals, v)
			return nil
		}); err != nil {
			return err
		}
		certs, err := decodeAll(ctx, db.path, keys, vals)
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
func decodeAll(ctx context.Context, path string, keys, vals [][]byte) ([]*Certificate, error) {
	out := make([]*Certificate, len(vals))
	workers := min(runtime.GOMAXPROCS(0), (len(vals)+255)/256)
	if workers <= 1 {
		for i, v := range vals {
			c, err := decodeCertificate(string(keys[i]), v)
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
				c, err := decodeCertificate(string(keys[i]), vals[i])
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
