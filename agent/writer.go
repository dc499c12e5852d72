package agent

import (
	"context"
	"errors"
	"sync"

	"github.com/certctl/certctl/state"
)

// writer writes agents' CSRs and reports to the state. One goroutine
// takes the requests that arrived while it was busy as one batch, opens
// the state, applies the batch (one goroutine per certificate, so that
// bbolt's group commit makes few transactions, and the requests of one
// certificate in order, so none is lost), closes the state and asks the
// watcher for a pass. The state is thus held only while there is
// something to write, never while agents are idle, and a burst of 1,000
// CSRs costs a few opens, not 1,000.
type writer struct {
	s    *Server
	reqs chan *writeReq
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// writeReq changes one certificate record: mutate gets the stored record
// (nil if none) and returns the record to store and whether it changed.
type writeReq struct {
	path, name string
	mutate     func(*state.Certificate) (*state.Certificate, bool)
	done       chan error
}

// maxBatch bounds the requests of one batch.
const maxBatch = 4096

var errClosed = errors.New("the server is shutting down")

func newWriter(s *Server) *writer {
	w := &writer{s: s, reqs: make(chan *writeReq, maxBatch), quit: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

func (w *writer) close() {
	w.once.Do(func() { close(w.quit) })
	w.wg.Wait()
}

// do queues a change and waits until it is durable (or failed).
func (w *writer) do(ctx context.Context, path, name string, mutate func(*state.Certificate) (*state.Certificate, bool)) error {
	req := &writeReq{path: path, name: name, mutate: mutate, done: make(chan error, 1)}
	select {
	case w.reqs <- req:
	case <-w.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *writer) loop() {
	defer w.wg.Done()
	for {
		var batch []*writeReq
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-w.quit:
			w.drain()
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		if w.run(batch) && w.s.opts.Trigger != nil {
			w.s.opts.Trigger()
		}
	}
}

// drain fails the requests still queued at close.
func (w *writer) drain() {
	for {
		select {
		case r := <-w.reqs:
			r.done <- errClosed
		default:
			return
		}
	}
}

// run applies a batch and reports whether anything was written.
func (w *writer) run(batch []*writeReq) bool {
	byPath := map[string]map[string][]*writeReq{}
	for _, r := range batch {
		if byPath[r.path] == nil {
			byPath[r.path] = map[string][]*writeReq{}
		}
		byPath[r.path][r.name] = append(byPath[r.path][r.name], r)
	}
	wrote := false
	for path, byName := range byPath {
		if w.runPath(path, byName) {
			wrote = true
		}
	}
	return wrote
}

func (w *writer) runPath(path string, byName map[string][]*writeReq) bool {
	fail := func(err error) {
		for _, rs := range byName {
			for _, r := range rs {
				r.done <- err
			}
		}
	}
	db, err := state.Open(path, state.Options{Timeout: w.s.opts.StateTimeout})
	if err != nil {
		fail(err)
		return false
	}
	defer db.Close()
	ctx := context.Background()
	var wrote sync.Mutex
	changedAny := false
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for name, rs := range byName {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rec, err := db.Certificate(ctx, name)
			if errors.Is(err, state.ErrNotFound) {
				rec, err = nil, nil
			}
			if err == nil && rec != nil {
				rec = rec.WithoutBlobs() // written back without rewriting the PEMs
			}
			changed := false
			if err == nil {
				for _, r := range rs {
					var ch bool
					if next, c := r.mutate(rec); next != nil {
						rec, ch = next, c
					}
					changed = changed || ch
				}
				if changed {
					err = db.PutCertificate(ctx, rec)
				}
			}
			for _, r := range rs {
				r.done <- err
			}
			if err == nil && changed {
				wrote.Lock()
				changedAny = true
				wrote.Unlock()
			}
		})
	}
	wg.Wait()
	return changedAny
}
