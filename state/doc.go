// Package state records what certctl has issued, deployed and announced. The
// entry point is Open, which returns a *DB: the embedded bbolt implementation
// of Store (and of Notifications). A distributed backend implements the same
// interfaces later.
//
// A command opens the state for its own duration and closes it before it
// returns; bbolt holds an exclusive file lock while the file is open, so a
// long-running process (watch) must Open and Close around each pass and never
// hold the database while idle. That lets plan, status and requeue run while
// watch is alive. Open waits Options.Timeout for the lock and then fails with
// ErrLocked ("is another certctl process using it?").
//
// Layout of the bbolt file, schema version 3 (keys in <>, values after →;
// schema.go lists the versions, upgrade_v1.go turns 1 into 2 and
// upgrade_v2.go 2 into 3):
//
//	meta/
//	├── app        → "certctl-state" (tells our file from another bbolt file)
//	├── version    → uint64 big-endian schema version (upgrades: schema.go)
//	├── lineage    → 32 hex chars, random, fixed when the state is created
//	├── serial     → uint64 big-endian, +1 per write transaction that
//	│                changes certificates or issuers
//	├── serial_tx  → uint64 big-endian bbolt txid that last bumped serial
//	├── revision   → JSON Revision: the configuration revision last applied
//	└── key_check  → Seal(keyCheckPlaintext): proves the key on Open
//	certificates/  (everything but the blobs: what plan, show, status read)
//	└── <name>     → JSON {"v":2,"certificate":Certificate without CertPEM,
//	                 ChainPEM, KeySealed}
//	certificate_blobs/ (read only by Snapshot and Certificate, not Summary)
//	└── <name>     → 0x01, uvarint lengths of Fingerprint, CertPEM,
//	                 ChainPEM, KeySealed, then the four bytes; no key when
//	                 the record has none (see encodeBlobs)
//	issuers/
//	└── <name>     → JSON {"v":1,"issuer":Issuer}
//	notifications/
//	└── <id>       → JSON {"v":1,"notification":Notification}
//	notify_due/    (pending and failed rows, in due order; values empty)
//	└── <due unix-nano, 8 bytes big-endian><id, 32 hex chars> → ""
//	notify_status/ (every row, grouped by status; values empty)
//	└── <status>\x00<id> → ""
//	revocations/   (what issuers revoked; kept after the certificate expires)
//	└── <issuer>\x00<serial hex> → JSON {"v":1,"revocation":Revocation}
//	crl_numbers/
//	└── <issuer>   → uint64 big-endian, +1 per transaction that revokes
//	                 one of the issuer's certificates; it never decreases
//
// A certificate's two keys change together in one transaction, as do the
// notification buckets (see notifyTx.put), so the indexes always agree
// with the rows. A revocation, its issuer's counter, the certificate's
// record (removed or marked revoked) and the rows announcing it change
// together too (DB.Revoke).
//
// Summary reads certificates/ alone (a third of the bytes for a local CA's
// certificates): it neither reads nor copies a blob. A record read that way
// is marked BlobsOmitted, and PutCertificate keeps its stored blobs (see
// there). The certificate buckets fill their pages to 90% (certFillPercent),
// not bbolt's 50%: records arrive in name order and are rewritten in place.
//
// Private keys are stored only as Seal output (AES-256-GCM; see Seal). The
// 32-byte key comes from Options.Key, else from the environment variable
// CERTCTL_STATE_KEY (hex or base64), else from the key file beside the state
// (KeyFilePath: "<state path>.key", created mode 0600 on first use).
package state
