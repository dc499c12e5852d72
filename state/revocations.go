package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
)

type revocationEntry struct {
	V          int         `json:"v"`
	Revocation *Revocation `json:"revocation"`
}

// revocationKey is <issuer>\x00<serial>: an issuer's revocations are one
// run of keys, in serial order for serials of one length. A name of the
// configuration never holds a NUL.
func revocationKey(issuer, serial string) []byte {
	return []byte(issuer + "\x00" + serial)
}

// Revoke records rev durably and, in the same transaction, the
// certificate it revokes and the rows (as EnqueueNotifications takes
// them) that announce it:
//
//   - rec nil: the record named rev.Name is removed (a certificate that
//     left the configuration with on_remove = "revoke");
//   - rec set: rec is written as PutCertificate writes it, normally
//     marked RevokedAt so the next plan replaces it (certctl revoke of a
//     declared certificate).
//
// rev.Issuer's CRL number grows by one. A serial already revoked by the
// issuer keeps its first revocation (time and reason); the record and
// rows are still written. A crash keeps all of it or none.
func (db *DB) Revoke(ctx context.Context, rev *Revocation, rec *Certificate, rows ...*Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rev == nil || rev.Issuer == "" || rev.Serial == "" || rev.Name == "" {
		return errors.New("recording revocation: issuer, serial and name are required")
	}
	if strings.ContainsRune(rev.Issuer, 0) {
		return fmt.Errorf("recording revocation: issuer %q holds a NUL", rev.Issuer)
	}
	wrap := func(err error) error {
		return fmt.Errorf("recording revocation of %s (serial %s): %w", rev.Name, rev.Serial, err)
	}
	if rec != nil && rec.Name != rev.Name {
		return wrap(fmt.Errorf("the record is %q", rec.Name))
	}
	val, err := json.Marshal(revocationEntry{V: entryVersion, Revocation: rev})
	if err != nil {
		return wrap(err)
	}
	put := func(*bbolt.Tx) error { return nil }
	if rec != nil {
		if put, err = db.prepareCertificate(rec); err != nil {
			return wrap(err)
		}
	}
	enqueue := func(*bbolt.Tx) error { return nil }
	if len(rows) > 0 {
		if enqueue, err = prepareNotifications(rows); err != nil {
			return wrap(err)
		}
	}
	key := []byte(rev.Name)
	err = db.update(bumpsSerial, func(tx *bbolt.Tx) error {
		revs := tx.Bucket(bucketRevocations)
		rk := revocationKey(rev.Issuer, rev.Serial)
		if revs.Get(rk) == nil {
			if err := revs.Put(rk, val); err != nil {
				return err
			}
		}
		nums := tx.Bucket(bucketCRLNumbers)
		n, _ := readU64(nums.Get([]byte(rev.Issuer)))
		if err := nums.Put([]byte(rev.Issuer), u64(n+1)); err != nil {
			return err
		}
		if rec != nil {
			if err := put(tx); err != nil {
				return err
			}
		} else if err := deleteCertKeys(tx, key); err != nil {
			return err
		}
		return enqueue(tx)
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// readRevocations fills s.Revocations and s.CRLNumbers from tx (empty
// maps for a schema that has neither bucket).
func readRevocations(tx *bbolt.Tx, s *Snapshot) error {
	s.Revocations, s.CRLNumbers = map[string][]*Revocation{}, map[string]uint64{}
	if b := tx.Bucket(bucketCRLNumbers); b != nil {
		if err := b.ForEach(func(k, v []byte) error {
			n, ok := readU64(v)
			if !ok {
				return fmt.Errorf("CRL number of issuer %q: %d bytes, want 8", k, len(v))
			}
			s.CRLNumbers[string(k)] = n
			return nil
		}); err != nil {
			return err
		}
	}
	b := tx.Bucket(bucketRevocations)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var e revocationEntry
		if err := unmarshal(v, &e); err != nil { // copies out of the mmap
			return fmt.Errorf("revocation %q: %w", k, err)
		}
		if err := checkEntryVersion(e.V, "revocation", string(k)); err != nil {
			return err
		}
		if e.Revocation == nil {
			return fmt.Errorf("revocation %q: empty entry", k)
		}
		r := e.Revocation
		s.Revocations[r.Issuer] = append(s.Revocations[r.Issuer], r)
		return nil
	})
}
