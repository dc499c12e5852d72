package state

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// testPath returns a state path in a fresh temp dir, in a directory Open
// must create, with CERTCTL_STATE_KEY unset so the key file is used.
func testPath(tb testing.TB) string {
	tb.Helper()
	tb.Setenv(KeyEnv, "")
	return filepath.Join(tb.TempDir(), ".certctl", "state.db")
}

func mustOpen(tb testing.TB, path string, opts Options) *DB {
	tb.Helper()
	db, err := Open(path, opts)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", path, err)
	}
	return db
}

func openTemp(tb testing.TB) *DB {
	tb.Helper()
	db := mustOpen(tb, testPath(tb), Options{})
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakePEM returns a PEM-shaped block of about n bytes.
func fakePEM(kind string, seed, n int) []byte {
	raw := make([]byte, n*3/4)
	for i := range raw {
		raw[i] = byte(seed*31 + i*7)
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	var sb strings.Builder
	sb.WriteString("-----BEGIN " + kind + "-----\n")
	for len(b64) > 64 {
		sb.WriteString(b64[:64] + "\n")
		b64 = b64[64:]
	}
	sb.WriteString(b64 + "\n-----END " + kind + "-----\n")
	return []byte(sb.String())
}

// sampleCert returns a realistic record: ~2 KB of certificate and chain
// PEM, a sealed key, some history and a deployment.
func sampleCert(tb testing.TB, db *DB, i int) *Certificate {
	tb.Helper()
	key, err := db.Seal(fakePEM("PRIVATE KEY", i, 180))
	if err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("svc-%05d", i)
	return &Certificate{
		Name:         name,
		Digest:       fmt.Sprintf("%064x", i),
		Serial:       fmt.Sprintf("%032x", i+1),
		NotBefore:    t0,
		NotAfter:     t0.Add(90 * 24 * time.Hour),
		Fingerprint:  fmt.Sprintf("%064x", i*7),
		Issuer:       "internal",
		CommonName:   name + ".example.com",
		DNSNames:     []string{name + ".example.com", "alt." + name + ".example.com"},
		KeyAlgorithm: "ecdsa-p256",
		Usages:       []string{"server_auth"},
		// Odd records have an empty subject, so round trips cover the flag.
		NoSubjectCommonName: i%2 == 1,
		Owner:               "alice",
		Team:                "platform",
		Labels:              map[string]string{"env": "prod"},
		CertPEM:             fakePEM("CERTIFICATE", i, 1100),
		ChainPEM:            fakePEM("CERTIFICATE", -i, 900),
		KeySealed:           key,
		Status:              StatusIssued,
		IssuedAt:            t0,
		UpdatedAt:           t0,
		History: []Version{
			{Serial: "01", NotBefore: t0.Add(-90 * 24 * time.Hour), NotAfter: t0, Fingerprint: "aa", Digest: "d0", SupersededAt: t0, Reason: "renew"},
		},
		Deployments: map[string]Deployment{
			"web": {Fingerprint: fmt.Sprintf("%064x", i*7), FilesDigest: "ff", DeployedAt: t0},
		},
	}
}

var bg = context.Background()

func certsEqual(a, b *Certificate) bool  { return reflect.DeepEqual(a, b) }
func issuersEqual(a, b *Issuer) bool     { return reflect.DeepEqual(a, b) }
func snapshotsEqual(a, b *Snapshot) bool { return reflect.DeepEqual(a, b) }

// putMany writes records in one transaction, bypassing Batch: fast setup
// for tests and benchmarks of reads.
func putMany(tb testing.TB, db *DB, recs []*Certificate) {
	tb.Helper()
	err := db.update(bumpsSerial, func(tx *bbolt.Tx) error {
		for _, c := range recs {
			cc := *c
			meta, blobs, err := encodeCertificate(&cc)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketCertificates).Put([]byte(c.Name), meta); err != nil {
				return err
			}
			if blobs != nil {
				if err := tx.Bucket(bucketCertBlobs).Put([]byte(c.Name), blobs); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}
