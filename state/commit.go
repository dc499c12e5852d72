package state

import (
	"sync"

	"go.etcd.io/bbolt"
)

// groupCommit joins concurrent writes into shared transactions without
// waiting on a timer: the first writer commits at once, alone; writers
// that arrive while a transaction runs queue up, and the first of them
// commits the whole queue in one transaction (one fsync) as soon as the
// running one ends. Under load N writers cost about N/queue-length
// fsyncs; alone, a writer never waits for company.
//
// bbolt's Batch does the grouping too, but holds every batch open for
// MaxBatchDelay, which idles the workers of a CPU-bound apply.
type groupCommit struct {
	mu    sync.Mutex
	busy  bool // a transaction is running or about to
	queue []*commitCall
}

type commitCall struct {
	fn   func(tx *bbolt.Tx) error
	done chan error         // the call's outcome, once durable or failed
	lead chan []*commitCall // handed the next batch to commit
}

// do runs c.fn in a group transaction through run and returns its error.
func (g *groupCommit) do(run func([]*commitCall), fn func(tx *bbolt.Tx) error) error {
	c := &commitCall{fn: fn, done: make(chan error, 1), lead: make(chan []*commitCall, 1)}
	g.mu.Lock()
	if g.busy {
		g.queue = append(g.queue, c)
		g.mu.Unlock()
		select {
		case err := <-c.done:
			return err
		case batch := <-c.lead:
			g.commit(run, batch)
			return <-c.done
		}
	}
	g.busy = true
	g.mu.Unlock()
	g.commit(run, []*commitCall{c})
	return <-c.done
}

// commit runs batch, then hands whatever queued meanwhile to the first of
// those callers, who commits it; the caller itself returns right away.
func (g *groupCommit) commit(run func([]*commitCall), batch []*commitCall) {
	run(batch)
	g.mu.Lock()
	next := g.queue
	g.queue = nil
	if len(next) == 0 {
		g.busy = false
	}
	g.mu.Unlock()
	if len(next) > 0 {
		next[0].lead <- next
	}
}

// runBatch commits every call of batch in one write transaction. If it
// fails, each call is run again alone, so that one bad write fails only
// its own caller. Each fn must be idempotent (it only puts precomputed
// values), since it may run twice.
func (db *DB) runBatch(batch []*commitCall) {
	err := db.update(keepsSerial, func(tx *bbolt.Tx) error {
		for _, c := range batch {
			if err := c.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, c := range batch {
			c.done <- err
		}
		return
	}
	for _, c := range batch {
		c.done <- db.update(keepsSerial, c.fn)
	}
}
