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
// Layout of the bbolt file, schema version 1 (keys in <>, values after →):
//
//	meta/
//	├── app        → "certctl-state" (tells our file from another bbolt file)
//	├── version    → uint64 big-endian schema version (upgrades: schema.go)
//	├── lineage    → 32 hex chars, random, fixed when the state is created
//	├── serial     → uint64 big-endian, +1 per write transaction that
//	│                changes certificates or issuers
//	├── serial_tx  → uint64 big-endian bbolt txid that last bumped serial
//	└── key_check  → Seal(keyCheckPlaintext): proves the key on Open
//	certificates/
//	└── <name>     → JSON {"v":1,"certificate":Certificate}
//	issuers/
//	└── <name>     → JSON {"v":1,"issuer":Issuer}
//	notifications/
//	└── <id>       → JSON {"v":1,"notification":Notification}
//	notify_due/    (pending and failed rows, in due order; values empty)
//	└── <due unix-nano, 8 bytes big-endian><id, 32 hex chars> → ""
//	notify_status/ (every row, grouped by status; values empty)
//	└── <status>\x00<id> → ""
//
// The notification buckets change together in one transaction (see
// notifyTx.put), so the indexes always agree with the rows.
//
// Private keys are stored only as Seal output (AES-256-GCM; see Seal). The
// 32-byte key comes from Options.Key, else from the environment variable
// CERTCTL_STATE_KEY (hex or base64), else from the key file beside the state
// (KeyFilePath: "<state path>.key", created mode 0600 on first use).
package state
