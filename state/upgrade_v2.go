package state

import "go.etcd.io/bbolt"

// upgradeV2 adds the revocation buckets (schema 2 → 3). Nothing else
// changes: a schema 2 record reads as a schema 3 record that was never
// revoked.
func upgradeV2(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketRevocations, bucketCRLNumbers} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}
