// Package stepcatest runs a real smallstep step-ca for tests, on loopback
// with a free port, initialised from scratch without the step CLI: a root
// and an intermediate made here, a ca.json with one JWK provisioner whose
// private key is a password-encrypted JWE, a bbolt database (revocation)
// and a CRL regenerated on each revocation.
//
// Entry point: [Start], which returns a running [CA] with everything a
// `issuer "step_ca"` block needs (URL, RootPEM, Provisioner, EncryptedKey,
// Password). Everything started is stopped when the test ends.
//
// The step-ca binary is looked up on PATH, in GOBIN and in GOPATH/bin
// (.ci/tools installs it, [Version]); it is not built on the fly, as that
// takes minutes. When it is missing the test is skipped, except when the
// environment has CI=true: then it fails, so CI never passes by skipping.
package stepcatest
