package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	fastjson "github.com/goccy/go-json"
)

// fill sets every exported field reachable from v to a non-zero value
// derived from seed, so that a field added to a record type later is
// covered by the round-trip tests below without editing them.
func fill(t *testing.T, v reflect.Value, seed int) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), seed)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(t0.Add(time.Duration(seed) * time.Minute)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), seed*7+i+1)
			}
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d \"quoted\" \\ \n é", seed))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(seed))
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(uint64(seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(fmt.Sprintf("bytes-%d\x00\x01\xff", seed)))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(t, s.Index(0), seed+1)
		fill(t, s.Index(1), seed+2)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for j := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(t, k, seed+10*j)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, e, seed+10*j+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		t.Fatalf("fill: add a case for %s", v.Type())
	}
}

func filledCert(t *testing.T, seed int) *Certificate {
	var c Certificate
	fill(t, reflect.ValueOf(&c).Elem(), seed)
	c.History = c.History[:1]
	return &c
}

// Every field of Certificate survives encodeCertificate/decodeCertificate,
// with blobs or without.
func TestCertificateCodecRoundTrip(t *testing.T) {
	db := &DB{schema: SchemaVersion}
	for seed := range 3 {
		c := filledCert(t, seed)
		meta, blobs, err := encodeCertificate(new(*c))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(meta, c.CertPEM) || bytes.Contains(meta, []byte("cert_pem")) || bytes.Contains(meta, []byte("key_sealed")) {
			t.Errorf("the certificate entry holds a blob: %s", meta)
		}
		got, err := db.decodeCertificate(c.Name, meta, blobs, true)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("decode(encode(c)) =\n%+v\nwant\n%+v", got, c)
		}
		// The blobs must not share capacity: appending to one must not
		// overwrite the next.
		got.CertPEM = append(got.CertPEM, 'x')
		if !reflect.DeepEqual(got.ChainPEM, c.ChainPEM) {
			t.Fatal("appending to CertPEM changed ChainPEM")
		}

		sum, err := db.decodeCertificate(c.Name, meta, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if !sum.BlobsOmitted() || sum.CertPEM != nil || sum.ChainPEM != nil || sum.KeySealed != nil {
			t.Errorf("decode without blobs = omitted %v, %d+%d+%d blob bytes; want omitted and none", sum.BlobsOmitted(), len(sum.CertPEM), len(sum.ChainPEM), len(sum.KeySealed))
		}
		if want := c.WithoutBlobs(); !reflect.DeepEqual(sum, want) {
			t.Errorf("decode without blobs =\n%+v\nwant\n%+v", sum, want)
		}
	}
	// A record without blobs has no blob value.
	c := filledCert(t, 5)
	c.CertPEM, c.ChainPEM, c.KeySealed = nil, nil, nil
	if _, blobs, _ := encodeCertificate(new(*c)); blobs != nil {
		t.Errorf("encodeCertificate(no blobs) made a blob value %q", blobs)
	}

	good := filledCert(t, 7)
	meta, blobs, _ := encodeCertificate(new(*good))
	other := *good
	other.Fingerprint = "another"
	_, otherBlobs, _ := encodeCertificate(&other)
	for name, bad := range map[string][2][]byte{
		"newer entry":      {[]byte(`{"v":3,"certificate":{}}`), nil},
		"schema 1 entry":   {[]byte(`{"v":1,"certificate":{}}`), nil},
		"not json":         {[]byte("garbage"), nil},
		"blob overrun":     {meta, append([]byte{blobEntryVersion, 0, 1, 2, 30}, "abc"...)},
		"blob left over":   {meta, append(slices.Clone(blobs), 'x')},
		"blob version":     {meta, append([]byte{9}, blobs[1:]...)},
		"blob header":      {meta, []byte{blobEntryVersion, 0x80}},
		"blobs of another": {meta, otherBlobs},
	} {
		if _, err := db.decodeCertificate("x", bad[0], bad[1], true); err == nil {
			t.Errorf("decodeCertificate(%s) succeeded", name)
		}
	}
}

// The fast decoder and encoding/json agree on everything we store.
func TestFastJSONMatchesStd(t *testing.T) {
	var iss Issuer
	fill(t, reflect.ValueOf(&iss).Elem(), 3)
	for _, v := range []any{certEntry{V: 2, Cert: filledCert(t, 1)}, certEntryV1{V: 1, Cert: filledCert(t, 2), Blobs: []int{1, 2, 3}}, issuerEntry{V: 1, Issuer: &iss}} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fast := reflect.New(reflect.TypeOf(v))
		if err := fastjson.Unmarshal(data, fast.Interface()); err != nil {
			t.Fatal(err)
		}
		std := reflect.New(reflect.TypeOf(v))
		if err := json.Unmarshal(data, std.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast.Interface(), std.Interface()) || !reflect.DeepEqual(fast.Elem().Interface(), v) {
			t.Errorf("%T: fast decode differs from encoding/json", v)
		}
	}
}

// certEntryCases are records for the encoder tests: every field filled
// (strings with quotes, backslashes, newlines and non-ASCII), every field
// empty, and the empty-but-not-nil and nil cases that omitempty and a
// slice without it treat apart.
func certEntryCases(t *testing.T) []*Certificate {
	zone := time.FixedZone("", -(9*3600 + 30*60))
	cases := []*Certificate{filledCert(t, 1), filledCert(t, 2), {}, {Name: "n"}}
	c := filledCert(t, 3)
	c.DNSNames, c.Usages, c.Labels, c.History, c.Deployments = []string{}, []string{}, map[string]string{}, []Version{}, map[string]Deployment{}
	c.Notified = &Notified{}
	cases = append(cases, c)
	c = filledCert(t, 4)
	c.Notified.Notices = []string{}
	c.NotBefore = time.Date(2026, 1, 2, 3, 4, 5, 123456000, zone)
	c.NotAfter = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	c.IssuedAt = time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC)
	c.UpdatedAt = time.Now() // a monotonic reading and the local zone
	c.Name = "<a&b> \u2028\u2029 \x00\x1f\x7f \xff\xfe ok \U0001F600 \t\r\b\f"
	c.Labels = map[string]string{"b": "2", "a": "1", "\xff": "<>", "": ""}
	cases = append(cases, c)
	for _, bad := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)),
	} {
		c := filledCert(t, 5)
		c.History[0].SupersededAt = bad
		cases = append(cases, c)
	}
	return cases
}

// marshalCertEntry writes what encoding/json writes, byte for byte, and
// fails where it fails.
func TestCertEntryEncoderMatchesStd(t *testing.T) {
	for i, c := range certEntryCases(t) {
		want, wantErr := json.Marshal(certEntry{V: certEntryVersion, Cert: c})
		got, err := marshalCertEntry(certEntryVersion, c)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("case %d: marshalCertEntry =\n%s, %v\nencoding/json:\n%s, %v", i, got, err, want, wantErr)
		}
	}
	want, _ := json.Marshal(certEntry{V: 1})
	if got, err := marshalCertEntry(1, nil); err != nil || !bytes.Equal(got, want) {
		t.Errorf("marshalCertEntry(nil) = %s, %v; want %s", got, err, want)
	}
}

// Any strings and times: the encoder and encoding/json agree.
func FuzzCertEntryEncoder(f *testing.F) {
	f.Add("www", "<a&b>\u2028", "\xff\x00\"\\", int64(1767225600), int64(123), int64(3600), 3)
	f.Add("", "", "", int64(-62135596800), int64(0), int64(0), 0)
	f.Add("é", "\x7f\t", "\U0001F600", int64(253402300800), int64(1), int64(86400), -1)
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, sec, nsec, off int64, n int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone(s3, int(off%(100*3600))))
		c := &Certificate{
			Name: s1, Digest: s2, Serial: s3, NotBefore: tm, NotAfter: tm.Add(time.Duration(nsec)),
			DNSNames: []string{s1, s2}, Labels: map[string]string{s1: s2, s2: s3, s3: s1}, LastError: s3,
			Failures: n, FailedAt: tm, RevokedReason: -n,
			History:     []Version{{Serial: s2, Reason: s1, SupersededAt: tm, IssuedAt: tm}},
			Deployments: map[string]Deployment{s3: {Fingerprint: s1, LastError: s2, DeployedAt: tm}},
			Notified:    &Notified{Fingerprint: s3, Notices: []string{s2}},
		}
		want, wantErr := json.Marshal(certEntry{V: n, Cert: c})
		got, err := marshalCertEntry(n, c)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("marshalCertEntry =\n%s, %v\nencoding/json:\n%s, %v", got, err, want, wantErr)
		}
	})
}
