package state

import (
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

// A batch member that fails is retried alone by bbolt; the others still
// commit, and the serial is bumped once per committed transaction.
func TestBatchRetrySerial(t *testing.T) {
	db := openTemp(t)
	s0, _ := db.Snapshot(bg)
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
				return tx.Bucket(bucketCertificates).Put([]byte(fmt.Sprint(i)), []byte(`{"v":1,"certificate":{}}`))
			})
			if err != nil {
				t.Errorf("batch %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	s1, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.Certificates) != 10 {
		t.Errorf("%d records, want 10", len(s1.Certificates))
	}
	if d := s1.Serial - s0.Serial; d < 1 || d > 10 {
		t.Errorf("serial advanced by %d for at most 10 transactions", d)
	}
}
