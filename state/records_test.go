package state

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestHistoryBound(t *testing.T) {
	db := openTemp(t)
	c := sampleCert(t, db, 1)
	c.History = nil
	for i := range MaxHistory + 5 {
		c.History = append(c.History, Version{Serial: fmt.Sprint(i), SupersededAt: t0.Add(time.Duration(i) * time.Hour), Reason: "renew"})
	}
	if err := db.PutCertificate(bg, c); err != nil {
		t.Fatal(err)
	}
	if len(c.History) != MaxHistory+5 {
		t.Errorf("PutCertificate modified the caller's history")
	}
	got, err := db.Certificate(bg, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.History) != MaxHistory || got.History[0].Serial != "5" || got.History[MaxHistory-1].Serial != fmt.Sprint(MaxHistory+4) {
		var serials []string
		for _, v := range got.History {
			serials = append(serials, v.Serial)
		}
		t.Errorf("history = %v, want the newest %d (5..%d)", serials, MaxHistory, MaxHistory+4)
	}
}

func TestConcurrentPutCertificate(t *testing.T) {
	db := openTemp(t)
	s0, _ := db.Snapshot(bg)
	const n = 100
	recs := make([]*Certificate, n)
	for i := range recs {
		recs[i] = sampleCert(t, db, i)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.PutCertificate(bg, recs[i])
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("PutCertificate(%d) = %v", i, err)
		}
	}
	s1, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.Certificates) != n {
		t.Fatalf("%d certificates landed, want %d", len(s1.Certificates), n)
	}
	for _, r := range recs {
		if !certsEqual(s1.Certificates[r.Name], r) {
			t.Errorf("certificate %s differs after concurrent put", r.Name)
		}
	}
	// The serial counts write transactions: fewer than n shows grouping.
	txs := s1.Serial - s0.Serial
	t.Logf("%d concurrent puts committed in %d transactions", n, txs)
	if txs == 0 || txs >= n {
		t.Errorf("%d concurrent puts took %d transactions, want 1..%d", n, txs, n-1)
	}
}

// A member of a group commit that fails makes the group roll back and run
// again member by member: the others still commit, the failing one gets
// its second chance alone, and the serial is bumped once per committed
// transaction. (A write that commits alone and fails is not retried: its
// caller gets the error.) A first write holds the group busy until the
// ten others have queued, so that they commit as one group.
func TestBatchRetrySerial(t *testing.T) {
	db := openTemp(t)
	s0, _ := db.Snapshot(bg)
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.batch(bumpsSerial, func(tx *bbolt.Tx) error {
			<-release
			return nil
		})
	}()
	waitQueued := func(n int) {
		for {
			db.group.mu.Lock()
			busy, queued := db.group.busy, len(db.group.queue)
			db.group.mu.Unlock()
			if busy && queued >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitQueued(0)
	var wg sync.WaitGroup
	calls := 0
	var mu sync.Mutex
	for i := range 10 {
		wg.Go(func() {
			err := db.batch(bumpsSerial, func(tx *bbolt.Tx) error {
				if i == 3 {
					mu.Lock()
					calls++
					first := calls == 1
					mu.Unlock()
					if first {
						return fmt.Errorf("transient")
					}
				}
				return tx.Bucket(bucketCertificates).Put([]byte(fmt.Sprint(i)), []byte(`{"v":2,"certificate":{}}`))
			})
			if err != nil {
				t.Errorf("batch %d: %v", i, err)
			}
		})
	}
	waitQueued(10)
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	s1, err := db.Summary(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.Certificates) != 10 {
		t.Errorf("%d records, want 10", len(s1.Certificates))
	}
	// The first write, then the failed group's ten members one by one.
	if d := s1.Serial - s0.Serial; d != 11 {
		t.Errorf("serial advanced by %d, want 11 (one per committed transaction)", d)
	}
	if calls != 2 {
		t.Errorf("the failing member ran %d times, want 2 (in the group, then alone)", calls)
	}
}

// A record read without its blobs never loses them when written back: it
// keeps the stored ones, or replaces all three when it carries new ones,
// and it is refused once the stored ones belong to another certificate.
func TestPutCertificateWithoutBlobs(t *testing.T) {
	db := openTemp(t)
	full := sampleCert(t, db, 1)
	if err := db.PutCertificate(bg, full); err != nil {
		t.Fatal(err)
	}
	sum, err := db.Summary(bg)
	if err != nil {
		t.Fatal(err)
	}
	rec := sum.Certificates[full.Name]
	if !rec.BlobsOmitted() || rec.CertPEM != nil || rec.KeySealed != nil {
		t.Fatalf("Summary record: omitted %v, %d cert bytes; want omitted, none", rec.BlobsOmitted(), len(rec.CertPEM))
	}

	// Metadata written back from the summary keeps the blobs.
	rec.Owner = "bob"
	if err := db.PutCertificate(bg, rec); err != nil {
		t.Fatal(err)
	}
	want := *full
	want.Owner = "bob"
	if got, _ := db.Certificate(bg, full.Name); !certsEqual(got, &want) {
		t.Errorf("after writing a summary record back: %+v, want the blobs kept and owner bob", got)
	}
	// So does a WithoutBlobs copy of a full record.
	want.Team = "security"
	if err := db.PutCertificate(bg, want.WithoutBlobs()); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Certificate(bg, full.Name); !certsEqual(got, &want) {
		t.Errorf("after writing WithoutBlobs: %+v, want the blobs kept and team security", got)
	}

	// A new certificate on a summary record (as apply's renewal does)
	// replaces the three.
	renewed := rec.WithoutBlobs()
	renewed.Fingerprint = "renewed"
	renewed.CertPEM = fakePEM("CERTIFICATE", 99, 1000)
	renewed.KeySealed, _ = db.Seal([]byte("new key"))
	if err := db.PutCertificate(bg, renewed); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Certificate(bg, full.Name)
	if got.Fingerprint != "renewed" || !bytes.Equal(got.CertPEM, renewed.CertPEM) || got.ChainPEM != nil || !bytes.Equal(got.KeySealed, renewed.KeySealed) {
		t.Errorf("after a renewal from a summary record: fingerprint %q, chain %d bytes; want the new blobs only", got.Fingerprint, len(got.ChainPEM))
	}

	// The old summary record is now stale: writing it would pair the old
	// fingerprint with the new certificate, and is refused.
	if err := db.PutCertificate(bg, rec); err == nil || !errors.Is(err, errBlobsMismatch) {
		t.Errorf("PutCertificate(stale summary record) = %v, want a mismatch error", err)
	}
	if again, _ := db.Certificate(bg, full.Name); !certsEqual(again, got) {
		t.Error("a refused write changed the record")
	}

	// A complete record without blobs stores none.
	bare := *got
	bare.CertPEM, bare.ChainPEM, bare.KeySealed = nil, nil, nil
	if err := db.PutCertificate(bg, &bare); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Certificate(bg, full.Name); got.CertPEM != nil || got.KeySealed != nil || got.BlobsOmitted() {
		t.Errorf("a complete record without blobs kept the old ones")
	}
	if n := countKeys(t, db, bucketCertBlobs); n != 0 {
		t.Errorf("%d blob entries left, want 0", n)
	}
}

// DeleteCertificate removes the blobs too.
func TestDeleteCertificateBlobs(t *testing.T) {
	db := openTemp(t)
	c := sampleCert(t, db, 1)
	if err := db.PutCertificate(bg, c); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCertificate(bg, c.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Certificate(bg, c.Name); !errors.Is(err, ErrNotFound) {
		t.Errorf("Certificate(deleted) = %v, want ErrNotFound", err)
	}
	for _, b := range [][]byte{bucketCertificates, bucketCertBlobs} {
		if n := countKeys(t, db, b); n != 0 {
			t.Errorf("%d keys left in %s, want 0", n, b)
		}
	}
}

// Summary does not read the blob values at all: damaged ones do not stop
// it, while Snapshot and Certificate report them.
func TestSummaryReadsNoBlobs(t *testing.T) {
	db := openTemp(t)
	var recs []*Certificate
	for i := range 20 {
		recs = append(recs, sampleCert(t, db, i))
	}
	putMany(t, db, recs)
	err := db.update(keepsSerial, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCertBlobs).Put([]byte(recs[3].Name), []byte{blobEntryVersion, 0xff})
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := db.Summary(bg)
	if err != nil || len(sum.Certificates) != len(recs) {
		t.Fatalf("Summary = %d certificates, %v; want %d", len(sum.Certificates), err, len(recs))
	}
	for _, r := range recs {
		if got := sum.Certificates[r.Name]; !certsEqual(got, r.WithoutBlobs()) {
			t.Errorf("Summary[%s] = %+v, want the record without blobs", r.Name, got)
		}
	}
	if _, err := db.Snapshot(bg); err == nil {
		t.Error("Snapshot with a damaged blob value succeeded")
	}
	if _, err := db.Certificate(bg, recs[3].Name); err == nil {
		t.Error("Certificate with a damaged blob value succeeded")
	}
}

func countKeys(t *testing.T, db *DB, bucket []byte) int {
	t.Helper()
	n := 0
	err := db.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A record and the rows of its events land in one transaction: together,
// with the serial bumped once and the rows indexed, or not at all.
func TestPutCertificateWithNotifications(t *testing.T) {
	db := openTemp(t)
	rec := sampleCert(t, db, 1)
	s0, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	rows := []*Notification{newRow(rec.Name, t0), newRow(rec.Name, t0)}
	if err := db.PutCertificateWithNotifications(bg, rec, rows...); err != nil {
		t.Fatal(err)
	}
	s1, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s1.Certificates[rec.Name]; !certsEqual(got, rec) {
		t.Errorf("record after the combined put = %+v", got)
	}
	if d := s1.Serial - s0.Serial; d != 1 {
		t.Errorf("serial moved by %d, want 1", d)
	}
	due, err := db.DueNotifications(bg, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	enqueued := map[string]bool{rows[0].ID: true, rows[1].ID: true}
	if len(due) != 2 || !enqueued[due[0].ID] || !enqueued[due[1].ID] || due[0].ID == due[1].ID || due[0].Status != NotifyPending {
		t.Errorf("due rows = %s, want the 2 enqueued (%s)", ids(due), ids(rows))
	}
	checkIndexes(t, db)

	// The rows fail (an ID that exists): the record is not written either.
	rec2 := sampleCert(t, db, 2)
	dup := newRow(rec2.Name, t0)
	dup.ID = rows[0].ID
	if err := db.PutCertificateWithNotifications(bg, rec2, newRow(rec2.Name, t0), dup); err == nil {
		t.Error("combined put with a duplicate row ID succeeded")
	}
	// The record fails (its blobs are another certificate's): no row lands.
	stale := rec.WithoutBlobs()
	stale.Fingerprint = "other"
	if err := db.PutCertificateWithNotifications(bg, stale, newRow(rec.Name, t0)); err == nil {
		t.Error("combined put of a mismatched record succeeded")
	}
	s2, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Serial != s1.Serial || s2.Certificates[rec2.Name] != nil || !certsEqual(s2.Certificates[rec.Name], rec) {
		t.Errorf("after failed combined puts: serial %d (want %d), %s present %v", s2.Serial, s1.Serial, rec2.Name, s2.Certificates[rec2.Name] != nil)
	}
	all, err := db.ListNotifications(bg, NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Errorf("rows after failed combined puts = %s, want only %s", ids(all), ids(rows))
	}
	checkIndexes(t, db)
}

func TestDeleteCertificateWithNotifications(t *testing.T) {
	db := openTemp(t)
	rec := sampleCert(t, db, 1)
	if err := db.PutCertificate(bg, rec); err != nil {
		t.Fatal(err)
	}
	row := newRow(rec.Name, t0)

	// The row fails (an ID that exists): the record stays.
	existing := newRow(rec.Name, t0)
	if err := db.EnqueueNotifications(bg, existing); err != nil {
		t.Fatal(err)
	}
	dup := newRow(rec.Name, t0)
	dup.ID = existing.ID
	if err := db.DeleteCertificateWithNotifications(bg, rec.Name, dup); err == nil {
		t.Error("combined delete with a duplicate row ID succeeded")
	}
	s, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Certificates[rec.Name] == nil {
		t.Fatal("record deleted although its event row failed")
	}

	// Both land together.
	if err := db.DeleteCertificateWithNotifications(bg, rec.Name, row); err != nil {
		t.Fatal(err)
	}
	s, err = db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Certificates[rec.Name] != nil {
		t.Error("record still there after the combined delete")
	}
	if _, err := db.Notification(bg, row.ID); err != nil {
		t.Errorf("event row after the combined delete: %v", err)
	}
	checkIndexes(t, db)
}
