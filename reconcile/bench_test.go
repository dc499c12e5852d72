package reconcile

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// bigConfig has n certificates (for_each style names, two DNS names, one
// local target each, labels), state fully applied and every target
// observed intact.
func bigConfig(n int) (*spec.Config, *state.Snapshot, Observed) {
	cfg := testConfig("/srv/certctl")
	cfg.Certificates = make(map[string]*spec.Certificate, n)
	for i := range n {
		key := fmt.Sprintf("host%05d", i)
		name := fmt.Sprintf("hosts[%q]", key)
		cfg.Certificates[name] = &spec.Certificate{
			Name: name, Label: "hosts", Key: key, CommonName: key + ".example.com",
			DNSNames: []string{key + ".example.com", key + ".internal.example.com"},
			Issuer:   "internal", Policy: "standard", Owner: "alice", Team: "platform",
			Targets: []string{"local"}, Labels: map[string]string{"env": "prod", "shard": key[:6]},
			KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
		}
	}
	snap := appliedSnapshot(cfg)
	return cfg, snap, observedAll(cfg)
}

func BenchmarkPlan10k(b *testing.B) {
	cfg, snap, obs := bigConfig(10_000)
	b.ReportAllocs()
	for b.Loop() {
		p := Plan(cfg, snap, obs, t0)
		if p.HasChanges() {
			b.Fatalf("Plan over a fully applied state has %d changes", len(p.Changes))
		}
	}
}

func BenchmarkPlan1k(b *testing.B) {
	cfg, snap, obs := bigConfig(1_000)
	b.ReportAllocs()
	for b.Loop() {
		Plan(cfg, snap, obs, t0)
	}
}

func BenchmarkConfigDigest10k(b *testing.B) {
	cfg, _, _ := bigConfig(10_000)
	b.ReportAllocs()
	for b.Loop() {
		ConfigDigest(cfg)
	}
}

// BenchmarkApplyLocalCA1k applies 1,000 new ecdsa-p256 certificates (no
// targets) to a real state file: the in-process half of certctl-bench's
// apply/crypto ratio, without process start, load and plan. Compare one
// op with 1,000 ops of pki's BenchmarkIssueECDSAP256Parallel.
func BenchmarkApplyLocalCA1k(b *testing.B) {
	cfg, _, _ := bigConfig(1_000)
	for _, c := range cfg.Certificates {
		c.Targets = nil
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		db, err := state.Open(filepath.Join(b.TempDir(), "state.db"), state.Options{Key: make([]byte, 32)})
		if err != nil {
			b.Fatal(err)
		}
		snap, err := db.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p := Plan(cfg, snap, Observed{}, time.Now())
		b.StartTimer()
		res, err := Apply(ctx, p, cfg, Deps{Store: db, Parallelism: 10, Notifications: db})
		if err != nil || res.Created != 1_001 { // and the CA
			b.Fatalf("Apply: %v (%d created)", err, res.Created)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}
