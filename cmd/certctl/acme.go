package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// lego logs every step of every order; certctl reports outcomes itself.
// CERTCTL_ACME_LOG=1 shows lego's log on stderr, for debugging a CA.
func init() {
	if os.Getenv("CERTCTL_ACME_LOG") == "" {
		acme.SetLogger(nil)
	} else {
		acme.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	}
}

// refreshRenewalInfo asks the ACME CAs for the renewal windows (ARI) that
// are due for a check and returns the snapshot to plan from, read again
// when a window was recorded. A CA that does not answer is a warning: the
// plan then uses the windows recorded before, and apply reports the CA's
// failure on the certificates that need it.
func (e *env) refreshRenewalInfo(cfg *spec.Config, db *state.DB, snap *state.Snapshot, pool *reconcile.ACMEPool) (*state.Snapshot, error) {
	n, err := reconcile.RefreshRenewalInfo(e.ctx, cfg, snap, reconcile.Deps{Store: db, ACME: pool, Now: time.Now})
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(e.stderr, "Warning: %s\n", line)
		}
	}
	if n == 0 {
		return snap, nil
	}
	return db.Snapshot(e.ctx)
}
