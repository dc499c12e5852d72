package main

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/certctl/certctl/pki"
)

// newBaselineCA creates the local CA the crypto floor signs with: the key
// algorithm the generated configs give their issuer.
func newBaselineCA(alg string) (*floorCA, time.Duration, error) {
	start := time.Now()
	ca, err := pki.NewLocalCA(pki.CAConfig{Name: "bench", CommonName: "certctl bench CA", KeyAlgorithm: alg, Validity: 3650 * 24 * time.Hour}, time.Now())
	d := time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return nil, 0, err
	}
	key, err := pki.ParsePrivateKeyPEM(keyPEM)
	clear(keyPEM)
	if err != nil {
		return nil, 0, err
	}
	return &floorCA{cert: ca.Certificate(), key: key}, d, nil
}

// floorCA is the CA certificate and key the floor signs with directly.
type floorCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// floorWork is what the floor does per certificate.
type floorWork int

const (
	// floorIssue is the bare work of issuing a certificate with a key
	// made on the spot: generate the key, sign a leaf shaped like
	// certctl's (x509.CreateCertificate, which checks its own signature),
	// PEM-encode the certificate and the PKCS #8 key. No CSR, no parsing,
	// no storage: what any tool that issues must do.
	floorIssue floorWork = iota
	// floorKeygen is key generation alone: for RSA, nearly all of the
	// cost, and the limit on any issuer's throughput.
	floorKeygen
)

// anyPolicy is the certificate policy certctl's TLS leaves assert.
var anyPolicy = func() x509.OID {
	oid, err := x509.ParseOID("2.5.29.32.0")
	if err != nil {
		panic(err)
	}
	return oid
}()

// cryptoFloor times work for n certificates of key algorithm alg in this
// process, with workers goroutines taking certificates one at a time as
// apply's signers do. It returns the wall time and the CPU time this
// process used meanwhile (-1 if unknown).
func cryptoFloor(ca *floorCA, alg string, work floorWork, n, workers int) (wall, cpu time.Duration, err error) {
	now := time.Now()
	runtime.GC() // start from a clean heap, as a fresh process does
	settle()     // and from flushed file systems, as the applies do
	cpu0 := selfCPU()
	start := time.Now()
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := floorOne(ca, alg, work, i, now); err != nil {
					errs <- err
					for range next { // drain so the sender never blocks
					}
					return
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	wall = time.Since(start)
	if cpu = selfCPU(); cpu >= 0 && cpu0 >= 0 {
		cpu -= cpu0
	} else {
		cpu = -1
	}
	select {
	case err := <-errs:
		return 0, 0, fmt.Errorf("crypto floor: %w", err)
	default:
	}
	return wall, cpu, nil
}

// floorOne does the floor's work for the i-th certificate.
func floorOne(ca *floorCA, alg string, work floorWork, i int, now time.Time) error {
	if work == floorKeygen {
		_, err := pki.GenerateKey(alg)
		return err
	}
	_, err := floorSign(ca, alg, i, now)
	return err
}

// floorSign generates a key of alg and returns the i-th certificate
// signed for it: the names the generated configs give it, and the
// extensions certctl's leaves have. The certificate and the key are
// PEM-encoded, as apply does, and the PEM dropped.
func floorSign(ca *floorCA, alg string, i int, now time.Time) ([]byte, error) {
	key, err := pki.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	var sn [16]byte
	if _, err := rand.Read(sn[:]); err != nil {
		return nil, err
	}
	sn[0] &= 0x7f
	name := certName(i)
	ku := x509.KeyUsageDigitalSignature
	if strings.HasPrefix(alg, "rsa-") {
		ku |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sn[:]),
		Subject:               pkix.Name{CommonName: name + ".example.com"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(90 * 24 * time.Hour),
		KeyUsage:              ku,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
		DNSNames:              []string{name + ".example.com", name + ".internal.example.com"},
		Policies:              []x509.OID{anyPolicy},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, fmt.Errorf("empty PEM for %s", name)
	}
	clear(keyPEM)
	return der, nil
}
