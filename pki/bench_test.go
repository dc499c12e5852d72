package pki

import (
	"context"
	"testing"
	"time"
)

// BenchmarkIssueECDSAP256 is issuing on a CSR, as for an agent's key: per
// op, an ecdsa-p256 key is generated and PEM-encoded, a CSR made, and the
// leaf signed by an ecdsa-p256 CA and PEM-encoded (Issue does that).
// Multiply ns/op by 1,000 for the "1,000 certificates" figure.
func BenchmarkIssueECDSAP256(b *testing.B) {
	ca, err := NewLocalCA(CAConfig{Name: "bench", KeyAlgorithm: ECDSAP256}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	subj := CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}}
	b.ReportAllocs()
	for b.Loop() {
		issueOne(ctx, b, ca, now, subj)
	}
}

// BenchmarkIssueECDSAP256Parallel is BenchmarkIssueECDSAP256 from
// GOMAXPROCS goroutines sharing one CA, as a concurrent apply does.
func BenchmarkIssueECDSAP256Parallel(b *testing.B) {
	ca, err := NewLocalCA(CAConfig{Name: "bench", KeyAlgorithm: ECDSAP256}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	subj := CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			issueOne(context.Background(), b, ca, now, subj)
		}
	})
}

// BenchmarkIssueForKey is what apply does per certificate for a local CA,
// by leaf key algorithm (the CA's is ecdsa-p256): generate the key, sign
// it with IssueForKey (no CSR) and PEM-encode the key, from GOMAXPROCS
// goroutines sharing one CA.
func BenchmarkIssueForKey(b *testing.B) {
	for _, alg := range []string{ECDSAP256, RSA2048} {
		b.Run(alg, func(b *testing.B) {
			ca, err := NewLocalCA(CAConfig{Name: "bench", KeyAlgorithm: ECDSAP256}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			subj := CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key, err := GenerateKey(alg)
					if err != nil {
						b.Fatal(err)
					}
					req := IssueRequest{Name: "www", PublicKey: key.Public(), Subject: subj, Usages: []string{UsageServerAuth}, Validity: 90 * 24 * time.Hour, Now: now}
					if _, err := ca.IssueForKey(context.Background(), req); err != nil {
						b.Fatal(err)
					}
					if _, err := MarshalPrivateKeyPEM(key); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func issueOne(ctx context.Context, b *testing.B, ca *LocalCA, now time.Time, subj CSRSubject) {
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := MarshalPrivateKeyPEM(key); err != nil {
		b.Fatal(err)
	}
	csr, _, err := NewCSR(key, subj)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ca.Issue(ctx, IssueRequest{Name: "www", CSR: csr, Usages: []string{UsageServerAuth}, Validity: 90 * 24 * time.Hour, Now: now}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLocalCAIssue is Issue alone, on a prepared CSR, by CA key
// algorithm: what the CA costs per certificate.
func BenchmarkLocalCAIssue(b *testing.B) {
	for _, caAlg := range []string{ECDSAP256, ECDSAP384, RSA2048, Ed25519} {
		b.Run(caAlg, func(b *testing.B) {
			ca, err := NewLocalCA(CAConfig{Name: "bench", KeyAlgorithm: caAlg}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			csr, _, err := NewCSR(testKey(b, ECDSAP256), CSRSubject{CommonName: "www.example.com"})
			if err != nil {
				b.Fatal(err)
			}
			req := IssueRequest{Name: "www", CSR: csr, Usages: []string{UsageServerAuth}, Validity: 90 * 24 * time.Hour, Now: time.Now()}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ca.Issue(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
