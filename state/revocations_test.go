package state

import (
	"testing"
	"time"
)

func revocationOf(rec *Certificate, at time.Time, reason int) *Revocation {
	return &Revocation{Issuer: rec.Issuer, Serial: rec.Serial, Name: rec.Name, RevokedAt: at, Reason: reason, NotAfter: rec.NotAfter}
}

// A certificate that left the configuration: its record goes, its
// revocation and event row come, in one transaction; a failed row keeps
// everything as it was.
func TestRevokeRemoves(t *testing.T) {
	db := openTemp(t)
	rec := sampleCert(t, db, 1)
	if err := db.PutCertificate(bg, rec); err != nil {
		t.Fatal(err)
	}
	rev := revocationOf(rec, t0, 5)

	existing := newRow(rec.Name, t0)
	if err := db.EnqueueNotifications(bg, existing); err != nil {
		t.Fatal(err)
	}
	dup := newRow(rec.Name, t0)
	dup.ID = existing.ID
	if err := db.Revoke(bg, rev, nil, dup); err == nil {
		t.Error("Revoke with a duplicate row ID succeeded")
	}
	s, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Certificates[rec.Name] == nil || len(s.Revocations) != 0 || len(s.CRLNumbers) != 0 {
		t.Fatalf("a failed Revoke changed the state: record %v, revocations %v, numbers %v", s.Certificates[rec.Name] != nil, s.Revocations, s.CRLNumbers)
	}
	serial := s.Serial

	row := newRow(rec.Name, t0)
	if err := db.Revoke(bg, rev, nil, row); err != nil {
		t.Fatal(err)
	}
	s, err = db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Certificates[rec.Name] != nil {
		t.Error("record still there after Revoke")
	}
	if got := s.Revocations["internal"]; len(got) != 1 || *got[0] != *rev {
		t.Errorf("Revocations = %v, want [%v]", got, rev)
	}
	if s.CRLNumbers["internal"] != 1 || s.Serial != serial+1 {
		t.Errorf("CRL number %d serial %d, want 1 and %d", s.CRLNumbers["internal"], s.Serial, serial+1)
	}
	if _, err := db.Notification(bg, row.ID); err != nil {
		t.Errorf("event row after Revoke: %v", err)
	}
	checkIndexes(t, db)
}

// A declared certificate: the record is rewritten (marked revoked) with
// the revocation. A second revocation of the same serial keeps the first
// time and reason, and the CRL number still grows.
func TestRevokeKeeps(t *testing.T) {
	db := openTemp(t)
	rec := sampleCert(t, db, 2)
	if err := db.PutCertificate(bg, rec); err != nil {
		t.Fatal(err)
	}
	marked := *rec
	marked.RevokedAt, marked.RevokedReason = t0, 1
	if err := db.Revoke(bg, revocationOf(rec, t0, 1), &marked); err != nil {
		t.Fatal(err)
	}
	if err := db.Revoke(bg, revocationOf(rec, t0.Add(time.Hour), 4), &marked); err != nil {
		t.Fatal(err)
	}
	other := sampleCert(t, db, 3)
	other.Issuer = "other"
	if err := db.Revoke(bg, revocationOf(other, t0, 0), nil); err != nil {
		t.Fatal(err)
	}
	s, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Certificates[rec.Name]
	if got == nil || !got.RevokedAt.Equal(t0) || got.RevokedReason != 1 || !certsEqual(got, &marked) {
		t.Errorf("record after Revoke = %+v, want it marked revoked", got)
	}
	if r := s.Revocations["internal"]; len(r) != 1 || r[0].Reason != 1 || !r[0].RevokedAt.Equal(t0) {
		t.Errorf("revocations of internal = %v, want the first one only", r)
	}
	if s.CRLNumbers["internal"] != 2 || s.CRLNumbers["other"] != 1 || len(s.Revocations["other"]) != 1 {
		t.Errorf("CRL numbers %v, revocations of other %v", s.CRLNumbers, s.Revocations["other"])
	}
	if sum, err := db.Summary(bg); err != nil || len(sum.Revocations["internal"]) != 1 {
		t.Errorf("Summary revocations = %v, %v", sum.Revocations, err)
	}

	for _, bad := range []*Revocation{nil, {Issuer: "internal", Name: "x"}, {Issuer: "a\x00b", Serial: "01", Name: "x"}} {
		if err := db.Revoke(bg, bad, nil); err == nil {
			t.Errorf("Revoke(%+v) succeeded", bad)
		}
	}
	if err := db.Revoke(bg, revocationOf(rec, t0, 1), other); err == nil {
		t.Error("Revoke with the record of another name succeeded")
	}
}

func TestIssuedSerials(t *testing.T) {
	s := &Snapshot{Certificates: map[string]*Certificate{
		"a": {Issuer: "internal", Serial: "0a", History: []Version{{Serial: "01"}, {Serial: "02", Issuer: "acme"}}},
		"b": {Issuer: "acme", Serial: "0b"},
		"c": {Issuer: "internal", Status: StatusPending},
	}}
	got := s.IssuedSerials("internal")
	if len(got) != 2 || got["0a"] != "a" || got["01"] != "a" {
		t.Errorf("IssuedSerials(internal) = %v, want 0a and 01 of a", got)
	}
}
