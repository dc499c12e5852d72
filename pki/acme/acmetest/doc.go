// Package acmetest runs a real ACME server for tests: pebble, and
// pebble-challtestsrv as the DNS server pebble's validation uses, both on
// loopback with free ports, for this module's tests of ACME issuance
// (pki/acme, reconcile, cmd/certctl).
//
// Entry points: [StartPebble] (Options select fast "always valid" mode,
// nonce faults, EAB, the DNS server to validate through) and
// [StartChallTestSrv] (DNS answering 127.0.0.1, TXT records set through
// SetTXT or, for lego's httpreq provider, HTTPReqEndpoint). A typical real
// validation setup:
//
//	cts := acmetest.StartChallTestSrv(t)
//	p := acmetest.StartPebble(t, acmetest.Options{DNSServer: cts.DNSAddr})
//	// issuer: directory p.DirectoryURL, ca_bundle p.RootsPEM,
//	// http01 { port = p.HTTPPort } or dns01 via cts.HTTPReqEndpoint(t)
//
// Everything started is stopped when the test ends.
//
// The binaries are looked up on PATH, in GOBIN and in GOPATH/bin; when
// missing they are built with `go install ...@PebbleVersion` (about 40 s
// cold). If that fails the test is skipped, except when the environment
// has CI=true: then it fails, so CI never passes by skipping.
package acmetest
