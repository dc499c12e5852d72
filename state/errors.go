package state

import "errors"

// Error kinds. Errors returned by this package carry a message written for an
// operator (naming the state file) and match one of these with errors.Is, so
// callers can choose an exit code or a hint without parsing text.
var (
	// ErrLocked: another process holds the state file's lock.
	ErrLocked = errors.New("state is locked")
	// ErrNotState: the file is not a certctl state (garbage, another
	// program's file, or a damaged one).
	ErrNotState = errors.New("not a certctl state file")
	// ErrNewerSchema: the state was written by a newer certctl.
	ErrNewerSchema = errors.New("state schema is newer than this certctl")
	// ErrKeyMismatch: the state key does not open the state's key check.
	ErrKeyMismatch = errors.New("state key does not match")
	// ErrKeyMissing: the state holds sealed data but no key is available.
	ErrKeyMissing = errors.New("state key is missing")
	// ErrNotFound: no record with that name or ID.
	ErrNotFound = errors.New("not found")
	// ErrNotDead: Requeue was asked to revive a row that is not dead.
	ErrNotDead = errors.New("notification is not dead")
)

// stateError is an error with an operator-facing message and a kind for
// errors.Is; cause (if any) is kept for errors.Is/As but not repeated in the
// message unless the message includes it.
type stateError struct {
	msg   string
	kind  error
	cause error
}

func (e *stateError) Error() string { return e.msg }

func (e *stateError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func newError(kind, cause error, msg string) error {
	return &stateError{msg: msg, kind: kind, cause: cause}
}
