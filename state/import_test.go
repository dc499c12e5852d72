package state

import (
	"errors"
	"testing"
)

// TestImportCertificates: all records land in one transaction, or none
// when one name is taken.
func TestImportCertificates(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	cert := func(name string, i int) *Certificate {
		c := sampleCert(t, db, i)
		c.Name = name
		return c
	}
	if err := db.PutCertificate(ctx, cert("taken", 1)); err != nil {
		t.Fatal(err)
	}
	before, err := db.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}

	err = db.ImportCertificates(ctx, []*Certificate{cert("a", 2), cert("taken", 3)})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("ImportCertificates(taken name) = %v, want ErrExists", err)
	}
	after, err := db.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Certificates) != 1 || after.Serial != before.Serial || after.Certificates["taken"].Serial != before.Certificates["taken"].Serial {
		t.Fatalf("a refused import changed the state: %d records, serial %d -> %d", len(after.Certificates), before.Serial, after.Serial)
	}

	if err := db.ImportCertificates(ctx, []*Certificate{cert("a", 2), cert("b", 4)}); err != nil {
		t.Fatalf("ImportCertificates() = %v", err)
	}
	snap, err := db.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Certificates) != 3 || snap.Serial != before.Serial+1 || len(snap.Certificates["b"].CertPEM) == 0 {
		t.Errorf("after import: %d records, serial %d (want %d), b has %d bytes of PEM", len(snap.Certificates), snap.Serial, before.Serial+1, len(snap.Certificates["b"].CertPEM))
	}

	if err := db.DeleteCertificates(ctx, []string{"a", "b", "missing"}); err != nil {
		t.Fatalf("DeleteCertificates() = %v", err)
	}
	if snap, _ = db.Snapshot(ctx); len(snap.Certificates) != 1 {
		t.Errorf("after DeleteCertificates: %d records, want 1", len(snap.Certificates))
	}
}
