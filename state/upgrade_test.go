package state

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// testdata/v1.db is a schema 1 state written by certctl before schema 2:
// `certctl apply` of examples/quickstart (a local CA and five certificates
// deployed to a file target), then, with the schema 1 code, a failed
// record that was never issued (no blobs), a record in the older plain
// JSON form (blobs inline, base64; with history, ARI window, notices and
// on_remove) and two notification rows (one sent, one dead).
// testdata/v1.golden.json is what that code read from it: Snapshot and
// ListNotifications. Its key is fixtureKey.
const fixtureKey = "0000000000000000000000000000000000000000000000000000000000000001"

type fixtureDump struct {
	Snapshot      *Snapshot
	Notifications []*Notification
}

func loadGolden(t *testing.T) fixtureDump {
	return loadGoldenOf(t, "testdata/v1.golden.json")
}

// loadGoldenOf reads a golden file written before schema 3: no
// revocations, which reads now as empty maps.
func loadGoldenOf(t *testing.T, path string) fixtureDump {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d fixtureDump
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	d.Snapshot.Revocations, d.Snapshot.CRLNumbers = map[string][]*Revocation{}, map[string]uint64{}
	return d
}

// copyFixture copies testdata/v1.db to a temp dir and returns its path.
func copyFixture(t *testing.T) (string, []byte) {
	return copyFixtureOf(t, "testdata/v1.db")
}

func copyFixtureOf(t *testing.T, fixture string) (string, []byte) {
	t.Helper()
	t.Setenv(KeyEnv, "")
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func fixtureOptions(t *testing.T, readOnly bool) Options {
	key, err := hex.DecodeString(fixtureKey)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Key: key, ReadOnly: readOnly}
}

// sameJSON compares what got and want encode to, which is what the store
// keeps of them (time zones, nil versus empty).
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s differs from the golden file:\n%s\nwant\n%s", what, g, w)
	}
}

// readAll reads db as the golden file recorded it, and checks Certificate
// and Summary against it too.
func checkAgainstGolden(t *testing.T, db *DB, golden fixtureDump) {
	t.Helper()
	snap, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	all, err := db.ListNotifications(bg, NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "Snapshot and notifications", fixtureDump{snap, all}, golden)

	sum, err := db.Summary(bg)
	if err != nil {
		t.Fatal(err)
	}
	want := *golden.Snapshot
	want.Certificates = map[string]*Certificate{}
	for name, c := range golden.Snapshot.Certificates {
		want.Certificates[name] = c.WithoutBlobs()
		if !sum.Certificates[name].BlobsOmitted() {
			t.Errorf("Summary: %s is not marked BlobsOmitted", name)
		}
		one, err := db.Certificate(bg, name)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "Certificate("+name+")", one, c)
	}
	sameJSON(t, "Summary", sum, &want)
}

// A schema 1 state is upgraded by a read-write Open and reads back exactly
// as schema 1 code read it; a read-only Open reads it as it is, without
// writing.
func TestUpgradeV1Fixture(t *testing.T) {
	golden := loadGolden(t)
	if n := len(golden.Snapshot.Certificates); n != 7 {
		t.Fatalf("golden file has %d certificates, want 7", n)
	}
	path, before := copyFixture(t)

	ro := mustOpen(t, path, fixtureOptions(t, true))
	if ro.schema != 1 {
		t.Errorf("read-only Open of the fixture: schema %d, want 1", ro.schema)
	}
	checkAgainstGolden(t, ro, golden)
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a read-only Open of a schema 1 state changed the file")
	}

	db := mustOpen(t, path, fixtureOptions(t, false))
	checkAgainstGolden(t, db, golden)
	db.Close()

	// The file is of this schema now: blobs only in certificate_blobs,
	// and the serial (saved plans) untouched by the upgrade.
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = b.View(func(tx *bbolt.Tx) error {
		if v, _ := readU64(tx.Bucket(bucketMeta).Get(metaVersion)); v != SchemaVersion {
			t.Errorf("schema after upgrade = %d, want %d", v, SchemaVersion)
		}
		if s, _ := readU64(tx.Bucket(bucketMeta).Get(metaSerial)); s != golden.Snapshot.Serial {
			t.Errorf("serial after upgrade = %d, want %d", s, golden.Snapshot.Serial)
		}
		blobs := 0
		_ = tx.Bucket(bucketCertBlobs).ForEach(func(k, v []byte) error { blobs++; return nil })
		if blobs != 6 {
			t.Errorf("%d blob entries after upgrade, want 6 (every certificate but failed-new)", blobs)
		}
		return tx.Bucket(bucketCertificates).ForEach(func(k, v []byte) error {
			c := golden.Snapshot.Certificates[string(k)]
			if bytes.Contains(v, []byte("BEGIN")) || bytes.Contains(v, []byte("cert_pem")) || bytes.IndexByte(v, 0) >= 0 || (len(c.KeySealed) > 0 && bytes.Contains(v, c.KeySealed)) {
				t.Errorf("certificates/%s still holds a blob after the upgrade", k)
			}
			if !strings.HasPrefix(string(v), `{"v":2,`) {
				t.Errorf("certificates/%s = %.20s…, want an entry of version 2", k, v)
			}
			return nil
		})
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}

	// Opened again: no second upgrade, same contents.
	db = mustOpen(t, path, fixtureOptions(t, false))
	defer db.Close()
	checkAgainstGolden(t, db, golden)
}

// An upgrade that fails leaves the file as it was.
func TestUpgradeV1FailsCleanly(t *testing.T) {
	path, _ := copyFixture(t)
	writeBoltAt(t, path, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCertificates).Put([]byte("broken"), []byte(`{"v":1,"certificate":{},"blobs":[1,2,30]}`+"\x00abc"))
	})
	before, _ := os.ReadFile(path)
	_, err := Open(path, fixtureOptions(t, false))
	if err == nil || !strings.Contains(err.Error(), "upgrading schema 1 to 2") || !strings.Contains(err.Error(), `"broken"`) {
		t.Errorf("Open(fixture with a damaged record) = %v, want an upgrade error naming it", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a failed upgrade changed the file")
	}
}

func writeBoltAt(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// testdata/v2.db is a schema 2 state written by certctl before schema 3
// (`certctl apply` of examples/quickstart: a local CA and five
// certificates); testdata/v2.golden.json is what that code read from it.
// Its key is fixtureKey. A read-write Open upgrades it to schema 3 with
// empty revocation buckets and reads it back exactly; a read-only Open
// reads it as it is.
func TestUpgradeV2Fixture(t *testing.T) {
	golden := loadGoldenOf(t, "testdata/v2.golden.json")
	if n := len(golden.Snapshot.Certificates); n != 5 {
		t.Fatalf("golden file has %d certificates, want 5", n)
	}
	path, before := copyFixtureOf(t, "testdata/v2.db")

	ro := mustOpen(t, path, fixtureOptions(t, true))
	if ro.schema != 2 {
		t.Errorf("read-only Open of the fixture: schema %d, want 2", ro.schema)
	}
	checkAgainstGolden(t, ro, golden)
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a read-only Open of a schema 2 state changed the file")
	}

	db := mustOpen(t, path, fixtureOptions(t, false))
	checkAgainstGolden(t, db, golden)
	// The upgraded state takes a revocation.
	rec, err := db.Certificate(bg, "www")
	if err != nil {
		t.Fatal(err)
	}
	rev := &Revocation{Issuer: rec.Issuer, Serial: rec.Serial, Name: rec.Name, RevokedAt: t0, Reason: 1, NotAfter: rec.NotAfter}
	if err := db.Revoke(bg, rev, nil); err != nil {
		t.Fatalf("Revoke after the upgrade: %v", err)
	}
	snap, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Revocations["internal"]; len(got) != 1 || *got[0] != *rev || snap.CRLNumbers["internal"] != 1 {
		t.Errorf("after Revoke: revocations %v, CRL number %d", got, snap.CRLNumbers["internal"])
	}
	db.Close()

	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_ = b.View(func(tx *bbolt.Tx) error {
		if v, _ := readU64(tx.Bucket(bucketMeta).Get(metaVersion)); v != 3 {
			t.Errorf("schema after upgrade = %d, want 3", v)
		}
		return nil
	})
}

// The upgrade to schema 3 records the URLs that a local CA's certificates
// carry, and nothing for an ACME CA's.
func TestUpgradeV2ReadsURLs(t *testing.T) {
	path := testPath(t)
	db := mustOpen(t, path, Options{})
	leaf := func(urls bool) []byte {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: t0, NotAfter: t0.Add(time.Hour)}
		if urls {
			tmpl.IssuingCertificateURL = []string{"http://pki.example.com/ca"}
			tmpl.OCSPServer = []string{"http://pki.example.com/ocsp"}
			tmpl.CRLDistributionPoints = []string{"http://pki.example.com/crl"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	for _, is := range []*Issuer{{Name: "internal", Type: "local_ca"}, {Name: "le", Type: "acme"}} {
		if err := db.PutIssuer(bg, is); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*Certificate{
		"local":   {Issuer: "internal", CertPEM: leaf(true)},
		"nourls":  {Issuer: "internal", CertPEM: leaf(false)},
		"acme":    {Issuer: "le", CertPEM: leaf(true)},
		"pending": {Issuer: "internal", Status: StatusPending},
	} {
		c.Name, c.Fingerprint = name, "fp-"+name
		if err := db.PutCertificate(bg, c); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	writeBoltAt(t, path, func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketRevocations); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaVersion, u64(2))
	})

	db = mustOpen(t, path, Options{})
	defer db.Close()
	snap, err := db.Snapshot(bg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]string{
		"local":   {"http://pki.example.com/ca", "http://pki.example.com/ocsp", "http://pki.example.com/crl"},
		"nourls":  {},
		"acme":    {},
		"pending": {},
	}
	for name, w := range want {
		c := snap.Certificates[name]
		if got := [3]string{c.IssuerURL, c.OCSPURL, c.CRLURL}; got != w {
			t.Errorf("%s after the upgrade: URLs %q, want %q", name, got, w)
		}
	}
	if len(snap.Revocations) != 0 || db.schema != SchemaVersion {
		t.Errorf("after the upgrade: revocations %v, schema %d", snap.Revocations, db.schema)
	}
}
