package acme

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

const userAgent = "certctl"

// newHTTPClient returns the client for every request to the CA, trusting
// CABundle (or the system roots) and keeping enough idle connections for
// MaxConcurrency orders in flight.
func newHTTPClient(cfg *Config) (*http.Client, error) {
	pool, err := cfg.certPool()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = max(2*cfg.MaxConcurrency, 8)
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

// probeDirectory fetches the directory once, honouring ctx, so that an
// unreachable CA or a TLS trust problem is reported plainly before lego
// (whose constructor takes no context) is involved.
func probeDirectory(ctx context.Context, client *http.Client, dir string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dir, nil)
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return explainTransportError(dir, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("directory %s: reading: %w", dir, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("directory %s: HTTP %s", dir, resp.Status)
	}
	var d struct {
		NewAccount string `json:"newAccount"`
		NewOrder   string `json:"newOrder"`
	}
	if err := json.Unmarshal(body, &d); err != nil || d.NewAccount == "" || d.NewOrder == "" {
		return fmt.Errorf("directory %s: not an ACME directory", dir)
	}
	return nil
}

// explainTransportError says which of the usual causes an HTTP failure
// has, keeping the underlying error wrapped.
func explainTransportError(dir string, err error) error {
	var verr *tls.CertificateVerificationError
	var opErr *net.OpError
	switch {
	case errors.As(err, &verr):
		return fmt.Errorf("directory %s: TLS certificate verification failed (is ca_bundle the CA's HTTPS root?): %w", dir, err)
	case errors.As(err, &opErr):
		return fmt.Errorf("directory %s: CA unreachable: %w", dir, err)
	default:
		return fmt.Errorf("directory %s: %w", dir, err)
	}
}
