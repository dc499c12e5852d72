package state

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// BenchmarkSnapshot10k reads 10,000 certificate records of ~2 KB PEM each
// (plus a sealed key, history and a deployment) in one Snapshot.
func BenchmarkSnapshot10k(b *testing.B) { benchRead(b, (*DB).Snapshot) }

// BenchmarkSummary10k reads the same 10,000 records without their blobs,
// as plan, show and status do.
func BenchmarkSummary10k(b *testing.B) { benchRead(b, (*DB).Summary) }

func benchRead(b *testing.B, read func(*DB, context.Context) (*Snapshot, error)) {
	db := openTemp(b)
	recs := make([]*Certificate, 10000)
	for i := range recs {
		recs[i] = sampleCert(b, db, i)
	}
	putMany(b, db, recs)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := read(db, bg)
		if err != nil || len(s.Certificates) != len(recs) {
			b.Fatalf("read %d certificates, %v", len(s.Certificates), err)
		}
	}
}

// BenchmarkPutCertificateConcurrent commits records from many goroutines,
// as apply does. tx/op below 1 shows Batch grouping commits: one fsync
// serves many certificates.
func BenchmarkPutCertificateConcurrent(b *testing.B) {
	db := openTemp(b)
	proto := sampleCert(b, db, 1)
	s0, _ := db.Snapshot(bg)
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := *proto
			c.Name = proto.Name + "-" + strconv.FormatInt(n.Add(1), 10)
			if err := db.PutCertificate(bg, &c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	s1, _ := db.Snapshot(bg)
	b.ReportMetric(float64(s1.Serial-s0.Serial)/float64(b.N), "tx/op")
}

// BenchmarkPutCertificateSerial is the baseline: one caller, one fsync per
// record.
func BenchmarkPutCertificateSerial(b *testing.B) {
	db := openTemp(b)
	proto := sampleCert(b, db, 1)
	i := int64(0)
	for b.Loop() {
		c := *proto
		i++
		c.Name = proto.Name + "-" + strconv.FormatInt(i, 10)
		if err := db.PutCertificate(bg, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// fillNotifications stores total rows of which due are due at now: the
// rest are half failed with a retry in the future (so the due index is
// large too) and half sent.
func fillNotifications(b *testing.B, db *DB, total, due int, now time.Time) {
	b.Helper()
	const chunk = 10000
	for start := 0; start < total; start += chunk {
		err := db.update(bumpsSerial, func(tx *bbolt.Tx) error {
			nt, err := openNotifyTx(tx)
			if err != nil {
				return err
			}
			for i := start; i < min(start+chunk, total); i++ {
				n := newRow("c"+strconv.Itoa(i%1000), now.Add(-time.Hour+time.Duration(i)*time.Microsecond))
				n.ID, _ = NewNotificationID(n.CreatedAt)
				switch {
				case i < due:
					n.Status, n.RetryCount, n.NextRetryAt = NotifyFailed, 1, now.Add(-time.Minute)
				case i%2 == 0:
					n.Status, n.RetryCount, n.NextRetryAt = NotifyFailed, 2, now.Add(time.Duration(1+i)*time.Millisecond)
				default:
					n.Status, n.SentAt = NotifySent, now
				}
				val, err := encodeNotification(n)
				if err != nil {
					return err
				}
				if err := nt.put(nil, n, val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDueSweep reads the 100 due rows among 10k and 100k stored rows:
// the time per sweep must not grow with the total.
func BenchmarkDueSweep(b *testing.B) {
	for _, total := range []int{10000, 100000} {
		b.Run("rows="+strconv.Itoa(total), func(b *testing.B) {
			db := openTemp(b)
			now := t0
			fillNotifications(b, db, total, 100, now)
			b.ResetTimer()
			for b.Loop() {
				due, err := db.DueNotifications(bg, now, 1000)
				if err != nil || len(due) != 100 {
					b.Fatalf("DueNotifications = %d rows, %v", len(due), err)
				}
			}
		})
	}
}

// BenchmarkNotificationCounts counts 100k rows by status (index keys only).
func BenchmarkNotificationCounts(b *testing.B) {
	db := openTemp(b)
	fillNotifications(b, db, 100000, 100, t0)
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.NotificationCounts(bg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeCertificate encodes a realistic record's entry for a
// commit (sampleCert without its blobs, which are not JSON: history, a
// deployment): marshalCertEntry, and encoding/json for comparison.
func BenchmarkEncodeCertificate(b *testing.B) {
	db := openTemp(b)
	rec := sampleCert(b, db, 1).WithoutBlobs()
	for _, enc := range []struct {
		name    string
		marshal func(*Certificate) ([]byte, error)
	}{
		{"ours", func(c *Certificate) ([]byte, error) { return marshalCertEntry(certEntryVersion, c) }},
		{"std", func(c *Certificate) ([]byte, error) { return json.Marshal(certEntry{V: certEntryVersion, Cert: c}) }},
	} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.marshal(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
