package state

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Bucket names (see the layout in the package comment).
var (
	bucketMeta          = []byte("meta")
	bucketCertificates  = []byte("certificates")
	bucketCertBlobs     = []byte("certificate_blobs")
	bucketIssuers       = []byte("issuers")
	bucketNotifications = []byte("notifications")
	bucketNotifyDue     = []byte("notify_due")
	bucketNotifyStatus  = []byte("notify_status")
	bucketRevocations   = []byte("revocations")
	bucketCRLNumbers    = []byte("crl_numbers")
)

// allBuckets are created when the state is created, and by Open when a
// bucket added in a later release is missing.
var allBuckets = [][]byte{bucketMeta, bucketCertificates, bucketCertBlobs, bucketIssuers, bucketNotifications, bucketNotifyDue, bucketNotifyStatus, bucketRevocations, bucketCRLNumbers}

// Keys in the meta bucket.
var (
	metaApp      = []byte("app")
	metaVersion  = []byte("version")
	metaLineage  = []byte("lineage")
	metaSerial   = []byte("serial")
	metaSerialTx = []byte("serial_tx")
	metaKeyCheck = []byte("key_check")
)

// appMarker identifies a certctl state among bbolt files.
var appMarker = []byte("certctl-state")

// SchemaVersion is the layout this certctl writes. Open refuses a newer one
// and upgrades an older one with the functions in upgrades; a read-only
// Open reads an older one as it is (see DB.schema).
//
//	1: certificates/<name> holds the whole record, PEMs and sealed key
//	   included.
//	2: the PEMs and the sealed key moved to certificate_blobs/<name>, so
//	   that reading every record's metadata (plan, show, status) touches
//	   none of their pages.
//	3: revocations/ and crl_numbers/ record what local CAs revoked, and a
//	   certificate record may be marked revoked (RevokedAt): a schema 2
//	   certctl would neither publish the one nor reissue the other.
const SchemaVersion = 3

// entryVersion is the version of the JSON entries (the "v" field) of
// issuers and notifications. A reader refuses an entry newer than it knows.
const entryVersion = 1

// certEntryVersion is the version of certificate entries: 1 carried the
// blobs (schema 1), 2 does not (schema 2; blobs in certificate_blobs).
const certEntryVersion = 2

// blobEntryVersion is the first byte of a certificate_blobs value.
const blobEntryVersion = 1

// upgrades[n] migrates a state at schema n to schema n+1. It runs inside
// Open's write transaction, so a failed upgrade leaves the file untouched.
// Each new schema version adds exactly one function here and a test that
// opens a fixture written at the old version (testdata/v<n>.db).
var upgrades = map[uint64]func(tx *bbolt.Tx) error{
	1: upgradeV1,
	2: upgradeV2,
}

// upgrade runs the upgrade functions from version from up to SchemaVersion.
func upgrade(tx *bbolt.Tx, from uint64) error {
	for v := from; v < SchemaVersion; v++ {
		fn, ok := upgrades[v]
		if !ok {
			return fmt.Errorf("no upgrade from schema %d", v)
		}
		if err := fn(tx); err != nil {
			return fmt.Errorf("upgrading schema %d to %d: %w", v, v+1, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(metaVersion, u64(SchemaVersion))
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func readU64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// bumpSerial increments meta/serial once per write transaction. Batch runs
// several functions in one transaction (and may run one again alone), so
// each records the transaction ID it bumped in; a rolled-back transaction
// takes both keys back with it.
func bumpSerial(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("meta bucket missing")
	}
	id := u64(uint64(tx.ID()))
	if string(meta.Get(metaSerialTx)) == string(id) {
		return nil
	}
	serial, _ := readU64(meta.Get(metaSerial))
	if err := meta.Put(metaSerial, u64(serial+1)); err != nil {
		return err
	}
	return meta.Put(metaSerialTx, id)
}
