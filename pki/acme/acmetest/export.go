package acmetest

import (
	"net/http"
	"testing"
)

// The process harness, shared with the harnesses of other real CAs
// (pki/stepca/stepcatest), so that every server a test starts is started,
// awaited, logged and stopped the same way.

// Process is a server a test started with StartProcess.
type Process struct{ p *proc }

// StartProcess starts bin with env and args, logs its output when t fails
// and stops it when t ends.
func StartProcess(t testing.TB, name string, env []string, bin string, args ...string) *Process {
	t.Helper()
	return &Process{startProc(t, name, env, bin, args...)}
}

// WaitReady polls ready every 25 ms until it succeeds; it fails t when the
// process exits first or 30 s pass.
func (p *Process) WaitReady(t testing.TB, ready func() error) {
	t.Helper()
	p.p.waitReady(t, ready)
}

// Stop stops the process now; calling it again does nothing.
func (p *Process) Stop() { p.p.stop() }

// Logs is the process's output so far.
func (p *Process) Logs() string { return p.p.log.String() }

// FreePort returns a free TCP port on 127.0.0.1 (released: start the
// server that takes it right away).
func FreePort(t testing.TB) int {
	t.Helper()
	return freePort(t, false)
}

// LookBinary returns the path of the executable name on PATH, in GOBIN or
// in a GOPATH's bin; "" when it is nowhere.
func LookBinary(name string) string { return lookBinary(name) }

// Unavailable skips t because a tool it needs is missing, or fails it
// when the environment has CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	unavailable(t, format, args...)
}

// TrustingClient is an HTTP client that trusts only the certificates of
// rootsPEM (a test CA's), with a 10 s timeout; it fails t when there is
// none.
func TrustingClient(t testing.TB, rootsPEM []byte) *http.Client {
	t.Helper()
	return trustingClient(t, rootsPEM)
}
