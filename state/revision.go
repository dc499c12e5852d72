package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// metaRevision holds the last applied configuration revision (JSON
// Revision). It is a meta key, not a bucket: an older certctl ignores it.
var metaRevision = []byte("revision")

// Revision identifies the configuration a pass applied: a git commit, or
// a digest of a directory's files.
type Revision struct {
	// ID is the commit SHA (git) or "sha256:…" over the files (directory).
	ID string `json:"id"`
	// Author is the commit's author ("Name <email>"); empty for a
	// directory.
	Author string `json:"author,omitempty"`
	// Source says where it came from: a redacted git URL and ref, or a
	// directory path.
	Source    string    `json:"source,omitempty"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
}

// PutRevision records rev as the last applied revision, durably.
func (db *DB) PutRevision(ctx context.Context, rev *Revision) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rev == nil || rev.ID == "" {
		return fmt.Errorf("recording revision: no revision ID")
	}
	v, err := json.Marshal(rev)
	if err != nil {
		return fmt.Errorf("recording revision %s: %w", rev.ID, err)
	}
	return db.update(false, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaRevision, v)
	})
}

// readRevision decodes the meta revision key; a missing or unreadable one
// is nil (the revision is informative: it never stops a read).
func readRevision(meta *bbolt.Bucket) *Revision {
	v := meta.Get(metaRevision)
	if v == nil {
		return nil
	}
	var r Revision
	if json.Unmarshal(v, &r) != nil {
		return nil
	}
	return &r
}

// NextNotificationDue returns when the earliest pending or failed
// notification row falls due (the first key of the due index), and false
// when no row waits. A long-running reconciler sleeps until then.
func (db *DB) NextNotificationDue(ctx context.Context) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	var at time.Time
	var ok bool
	err := db.view(func(tx *bbolt.Tx) error {
		due, rows := tx.Bucket(bucketNotifyDue), tx.Bucket(bucketNotifications)
		if due == nil || rows == nil {
			return nil
		}
		c := due.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) < 8 || rows.Get(bytes.Clone(k[8:])) == nil {
				continue // an index entry whose row is gone
			}
			at, ok = time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC(), true
			return nil
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, wrapRead(db.path, err)
	}
	return at, ok, nil
}
