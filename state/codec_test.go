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
