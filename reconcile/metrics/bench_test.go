package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// bigState is a configuration of n certificates (for_each names, two
// issuers, two teams) and a snapshot in which each is issued, with ten dead
// notification rows among a thousand.
func bigState(n int) (*spec.Config, *state.Snapshot) {
	pol := &spec.Policy{Name: "standard", Validity: 90 * 24 * time.Hour, RenewBefore: spec.RenewBefore{Percent: 33}}
	cfg := &spec.Config{
		Policies: map[string]*spec.Policy{"standard": pol},
		Issuers: map[string]*spec.Issuer{
			"internal": {Type: "local_ca", Name: "internal"},
			"partner":  {Type: "local_ca", Name: "partner"},
		},
		Certificates: make(map[string]*spec.Certificate, n),
	}
	snap := &state.Snapshot{
		Certificates:       make(map[string]*state.Certificate, n),
		NotificationCounts: map[string]int{state.NotifySent: 990, state.NotifyDead: 10},
	}
	issuers, teams := []string{"internal", "partner"}, []string{"platform", "web"}
	for i := range n {
		name := fmt.Sprintf("hosts[%q]", fmt.Sprintf("host%05d", i))
		c := &spec.Certificate{Name: name, Issuer: issuers[i%2], Policy: "standard", Owner: "alice", Team: teams[i/2%2]}
		cfg.Certificates[name] = c
		nb := t0.Add(-time.Duration(i%80) * 24 * time.Hour)
		snap.Certificates[name] = &state.Certificate{
			Name: name, Issuer: c.Issuer, Owner: c.Owner, Team: c.Team, Status: state.StatusIssued,
			Fingerprint: fmt.Sprintf("%064x", i), Serial: fmt.Sprintf("%x", i+1),
			NotBefore: nb, NotAfter: nb.Add(pol.Validity),
		}
	}
	return cfg, snap
}

// heapInUse is the live heap after a full collection (two: the first
// moves sync.Pool contents to their victim caches).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkObserveState10k is one ObserveState over 10,000 certificates;
// retained-B is the heap the stored view keeps once the inputs are gone.
func BenchmarkObserveState10k(b *testing.B) {
	cfg, snap := bigState(10_000)
	m := New("bench")
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveState(cfg, snap, t0)
	}
	b.StopTimer()
	m.view.Store(nil)
	before := heapInUse()
	m.ObserveState(cfg, snap, t0)
	m.view.Load().encoded() // what the first scrape adds
	after := heapInUse()
	runtime.KeepAlive(m)
	runtime.KeepAlive(cfg) // the inputs stay: only the view counts
	runtime.KeepAlive(snap)
	b.ReportMetric(float64(after)-float64(before), "retained-B")
}

// discard is a ResponseWriter that counts and drops the body, so that the
// benchmark measures the handler, not a buffer.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// BenchmarkScrape10k serves /metrics over 10,000 certificates, in the
// text format, plain and gzipped as Prometheus asks for it by default.
func BenchmarkScrape10k(b *testing.B) {
	cfg, snap := bigState(10_000)
	m := New("bench")
	m.ObserveState(cfg, snap, t0)
	m.view.Load().encoded() // once per pass: BenchmarkEncodeState10k
	h := m.Handler()
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept", "text/plain;version=0.0.4")
			req.Header.Set("Accept-Encoding", enc)
			var w discard
			b.ReportAllocs()
			for b.Loop() {
				w = discard{h: http.Header{}}
				h.ServeHTTP(&w, req)
			}
			b.ReportMetric(float64(w.n), "body-B")
		})
	}
}

// BenchmarkEncodeState10k is the text encoding of 10,000 certificates'
// gauges, which the first scrape after each ObserveState does.
func BenchmarkEncodeState10k(b *testing.B) {
	cfg, snap := bigState(10_000)
	m := New("bench")
	m.ObserveState(cfg, snap, t0)
	v := m.view.Load()
	b.ReportAllocs()
	for b.Loop() {
		fresh := &stateView{certStatuses: v.certStatuses, notifyStatuses: v.notifyStatuses, certs: v.certs, dead: v.dead}
		fresh.encoded()
	}
}
