package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// Plan, Inventory, Refresh and Status need no certificate PEMs or keys:
// over a state.Summary they give what they give over a full Snapshot. And
// the writes of a deploy, made from records written back without their
// blobs, keep them.
func TestSummaryPlansLikeSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(dir)
	db := openQueue(t)
	exec := &recExec{}
	now := t0
	deps := Deps{Store: db, Now: func() time.Time { return now }, Exec: exec.exec}
	snap, _ := db.Snapshot(ctx)
	if _, err := Apply(ctx, Plan(cfg, snap, nil, now), cfg, deps); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	issued, _ := db.Snapshot(ctx)

	// Drift in one target, a metadata change and a renewal due elsewhere.
	stem := cfg.Certificates["www"].FileStem()
	if err := os.Remove(filepath.Join(dir, "out", stem+".key")); err != nil {
		t.Fatal(err)
	}
	cfg.Certificates["mail"].Owner = "bob"
	for _, at := range []time.Time{now, now.Add(70 * 24 * time.Hour)} {
		full, err := db.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := db.Summary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		obsFull, errFull := Refresh(ctx, cfg, full)
		obsSum, errSum := Refresh(ctx, cfg, sum)
		if !reflect.DeepEqual(obsFull, obsSum) || (errFull == nil) != (errSum == nil) {
			t.Errorf("Refresh(summary) = %v, %v; Refresh(snapshot) = %v, %v", obsSum, errSum, obsFull, errFull)
		}
		if got, want := Plan(cfg, sum, obsSum, at), Plan(cfg, full, obsFull, at); !reflect.DeepEqual(got, want) {
			t.Errorf("Plan(summary) at %v =\n%v\nwant\n%v", at, describe(got), describe(want))
		}
		if got, want := Inventory(cfg, sum, at), Inventory(cfg, full, at); !reflect.DeepEqual(got, want) {
			t.Errorf("Inventory(summary) = %+v, want %+v", got, want)
		}
		if got, want := Status(cfg, sum, at), Status(cfg, full, at); !reflect.DeepEqual(got, want) {
			t.Errorf("Status(summary) = %+v, want %+v", got, want)
		}
	}

	// Apply the drift repair and the update: every record keeps its
	// certificate and key.
	full, _ := db.Snapshot(ctx)
	obs, _ := Refresh(ctx, cfg, full)
	p := Plan(cfg, full, obs, now)
	if got := describe(p); len(p.Changes) != 2 {
		t.Fatalf("plan = %v, want a deploy and an update", got)
	}
	if _, err := Apply(ctx, p, cfg, deps); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	after, _ := db.Snapshot(ctx)
	for name, before := range issued.Certificates {
		got := after.Certificates[name]
		if len(got.CertPEM) == 0 || len(got.KeySealed) == 0 || !reflect.DeepEqual(got.CertPEM, before.CertPEM) ||
			!reflect.DeepEqual(got.ChainPEM, before.ChainPEM) || !reflect.DeepEqual(got.KeySealed, before.KeySealed) {
			t.Errorf("%s lost or changed its blobs after a deploy/update", name)
		}
	}
	if obs, _ := Refresh(ctx, cfg, after); !reflect.DeepEqual(obs["www"], map[string]string{"local": after.Certificates["www"].Deployments["local"].FilesDigest}) {
		t.Errorf("after the repair, Refresh(www) = %v", obs["www"])
	}
}
