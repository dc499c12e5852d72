package stepca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/stepca"
	"github.com/certctl/certctl/pki/stepca/stepcatest"
	"github.com/go-jose/go-jose/v4"
)

// BenchmarkIssue is one certificate from a real step-ca: token, CSR
// upload, signature and the checks of the answer (the CSR is made once).
func BenchmarkIssue(b *testing.B) {
	ca := stepcatest.Start(b, stepcatest.Options{})
	iss, err := stepca.New(stepca.Config{URL: ca.URL, RootPEM: ca.RootPEM, Provisioner: ca.Provisioner, ProvisionerKey: []byte(ca.EncryptedKey), Password: []byte(ca.Password)})
	if err != nil {
		b.Fatal(err)
	}
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	csr, _, err := pki.NewCSR(key, pki.CSRSubject{CommonName: "bench.example.test"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := iss.Issue(ctx, pki.IssueRequest{Name: "bench", CSR: csr, Usages: []string{"server_auth"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew decrypts a provisioner key encrypted as step encrypts it
// (PBES2 with 600000 PBKDF2 rounds): the cost an apply pays once per
// step_ca issuer.
func BenchmarkNew(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	plain, err := (&jose.JSONWebKey{Key: k, Algorithm: "ES256"}).MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.PBES2_HS256_A128KW, Key: []byte("pw"), PBES2Count: 600000}, nil)
	if err != nil {
		b.Fatal(err)
	}
	obj, err := enc.Encrypt(plain)
	if err != nil {
		b.Fatal(err)
	}
	jwe, err := obj.CompactSerialize()
	if err != nil {
		b.Fatal(err)
	}
	cfg := stepca.Config{URL: "https://127.0.0.1:9", RootPEM: selfSigned(b), Provisioner: "p", ProvisionerKey: []byte(jwe), Password: []byte("pw")}
	for b.Loop() {
		if _, err := stepca.New(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
