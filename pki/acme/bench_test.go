package acme_test

import (
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/pki/acme/acmetest"
)

// benchOrders is the number of orders in one benchmark operation.
const benchOrders = 40

// issueAll issues every request with the given number of workers and
// returns the wall time.
func issueAll(tb testing.TB, iss *acme.Issuer, reqs []pki.IssueRequest, workers int) time.Duration {
	tb.Helper()
	work := make(chan pki.IssueRequest)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for r := range work {
				if _, err := iss.Issue(ctxT(tb), r); err != nil {
					tb.Errorf("Issue(%s) = %v", r.Name, err)
				}
			}
		})
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	return time.Since(start)
}

func benchIssue(b *testing.B, workers int) {
	p := acmetest.StartPebble(b, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	cfg.MaxConcurrency = workers
	iss, _ := newIssuer(b, cfg)
	reqs := make([]pki.IssueRequest, benchOrders)
	for i := range reqs {
		reqs[i] = request(b, "bench.example.com")
	}
	var total time.Duration
	for b.Loop() {
		total += issueAll(b, iss, reqs, workers)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N*benchOrders), "ms/order")
}

// BenchmarkIssueSerial issues benchOrders certificates one after another
// (pebble, ALWAYS_VALID).
func BenchmarkIssueSerial(b *testing.B) { benchIssue(b, 1) }

// BenchmarkIssueConcurrent issues the same with 8 orders in flight.
func BenchmarkIssueConcurrent(b *testing.B) { benchIssue(b, 8) }

// TestConcurrencySpeedup checks that orders in flight overlap: 8 workers
// must beat one by at least 3x (the goal, measured by the benchmarks, is
// 5x; the margin absorbs a loaded CI machine).
func TestConcurrencySpeedup(t *testing.T) {
	const orders = 24
	p := acmetest.StartPebble(t, acmetest.Options{AlwaysValid: true})
	cfg := pebbleConfig(p)
	cfg.MaxConcurrency = 8
	iss, _ := newIssuer(t, cfg)
	reqs := make([]pki.IssueRequest, orders)
	for i := range reqs {
		reqs[i] = request(t, "speed.example.com")
	}
	issueAll(t, iss, reqs[:2], 1) // warm up connections
	serial := issueAll(t, iss, reqs, 1)
	concurrent := issueAll(t, iss, reqs, 8)
	speedup := float64(serial) / float64(concurrent)
	t.Logf("%d orders: serial %v (%v/order), 8 in flight %v: %.1fx", orders, serial, serial/orders, concurrent, speedup)
	if speedup < 3 {
		t.Errorf("speedup with 8 in flight = %.1fx, want >= 3x", speedup)
	}
}
