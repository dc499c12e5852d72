package acmetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// ChallTestSrv is a running pebble-challtestsrv: a DNS server that answers
// A 127.0.0.1 for every name (no AAAA) and serves the TXT records set
// through its management API.
type ChallTestSrv struct {
	// DNSAddr is "127.0.0.1:PORT" (UDP and TCP): Options.DNSServer for
	// pebble and a DNS01.Resolvers entry for the issuer.
	DNSAddr string
	// ManagementURL takes POST /set-txt {"host","value"}, /clear-txt
	// {"host"} and the other challtestsrv calls.
	ManagementURL string

	proc *proc
}

// StartChallTestSrv starts pebble-challtestsrv with only its DNS server
// and management API, on free loopback ports. It is stopped when t ends.
func StartChallTestSrv(t testing.TB) *ChallTestSrv {
	t.Helper()
	bin := Binary(t, "pebble-challtestsrv")
	dnsPort, mgmtPort := freePort(t, true), freePort(t, false)
	c := &ChallTestSrv{
		DNSAddr:       loopback(dnsPort),
		ManagementURL: "http://" + loopback(mgmtPort),
	}
	c.proc = startProc(t, "pebble-challtestsrv", os.Environ(), bin,
		"-dnsserver", c.DNSAddr,
		"-management", loopback(mgmtPort),
		"-defaultIPv4", "127.0.0.1",
		"-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	c.proc.waitReady(t, func() error {
		if err := dialTCP(loopback(mgmtPort)); err != nil {
			return err
		}
		return dialTCP(c.DNSAddr)
	})
	return c
}

// Stop stops the server now; it is also stopped when the test ends.
func (c *ChallTestSrv) Stop() { c.proc.stop() }

// SetTXT adds value to the TXT records of host (a FQDN or not).
func (c *ChallTestSrv) SetTXT(ctx context.Context, host, value string) error {
	return c.post(ctx, "/set-txt", map[string]string{"host": host, "value": value})
}

// ClearTXT removes every TXT record of host.
func (c *ChallTestSrv) ClearTXT(ctx context.Context, host string) error {
	return c.post(ctx, "/clear-txt", map[string]string{"host": host})
}

func (c *ChallTestSrv) post(ctx context.Context, path string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ManagementURL+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("challtestsrv %s: %s %s", path, resp.Status, msg)
	}
	return nil
}

// HTTPReqEndpoint starts, for the life of t, an endpoint for lego's
// httpreq DNS provider (HTTPREQ_ENDPOINT, default mode) that publishes the
// records in this challtestsrv: POST /present {"fqdn","value"} sets a TXT
// record, POST /cleanup clears the name's TXT records.
func (c *ChallTestSrv) HTTPReqEndpoint(t testing.TB) string {
	t.Helper()
	mux := http.NewServeMux()
	handle := func(fn func(ctx context.Context, fqdn, value string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var m struct{ FQDN, Value string }
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.FQDN == "" {
				http.Error(w, "want JSON {fqdn, value}", http.StatusBadRequest)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			if err := fn(ctx, m.FQDN, m.Value); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
			}
		}
	}
	mux.HandleFunc("POST /present", handle(c.SetTXT))
	mux.HandleFunc("POST /cleanup", handle(func(ctx context.Context, fqdn, _ string) error { return c.ClearTXT(ctx, fqdn) }))
	srv := httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}
