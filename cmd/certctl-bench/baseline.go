package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/certctl/certctl/pki"
)

// newBaselineCA creates the local CA the crypto baseline signs with: the
// key algorithm the generated configs give their issuer.
func newBaselineCA(alg string) (*pki.LocalCA, time.Duration, error) {
	start := time.Now()
	ca, err := pki.NewLocalCA(pki.CAConfig{Name: "bench", CommonName: "certctl bench CA", KeyAlgorithm: alg, Validity: 3650 * 24 * time.Hour}, time.Now())
	return ca, time.Since(start), err
}

// cryptoBaseline times the bare crypto of issuing n certificates in this
// process, with workers goroutines taking certificates one at a time as
// apply's workers do: per certificate, generate a key of alg, make a CSR
// for the same names the generated configs use, have ca sign it (Issue
// checks the CSR signature, signs, parses and PEM-encodes the leaf), and
// PEM-encode the private key. Nothing is stored or written. It returns
// the wall time and the CPU time this process used meanwhile (-1 if
// unknown).
func cryptoBaseline(ca *pki.LocalCA, alg string, n, workers int) (wall, cpu time.Duration, err error) {
	ctx := context.Background()
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
				if err := issueOne(ctx, ca, alg, i, now); err != nil {
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
		return 0, 0, fmt.Errorf("crypto baseline: %w", err)
	default:
	}
	return wall, cpu, nil
}

func issueOne(ctx context.Context, ca *pki.LocalCA, alg string, i int, now time.Time) error {
	name := certName(i)
	key, err := pki.GenerateKey(alg)
	if err != nil {
		return err
	}
	csr, _, err := pki.NewCSR(key, pki.CSRSubject{
		CommonName: name + ".example.com",
		DNSNames:   []string{name + ".example.com", name + ".internal.example.com"},
	})
	if err != nil {
		return err
	}
	if _, err := ca.Issue(ctx, pki.IssueRequest{Name: name, CSR: csr, Usages: []string{pki.UsageServerAuth}, Validity: 90 * 24 * time.Hour, Now: now}); err != nil {
		return err
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	clear(keyPEM)
	return nil
}
