package reconcile

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// t0 is the injected clock of the tests.
var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// Lifetime of the fake certificates: 90 days from 2026-05-01; with the
// default 33% they renew at 2026-06-30T07:12:00Z.
var (
	nb = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	na = nb.Add(90 * 24 * time.Hour)
)

// testConfig is a small but complete configuration: a local CA, a policy,
// two owners and teams, a local target and an agent target, and three
// certificates (one from for_each).
func testConfig(dir string) *spec.Config {
	return &spec.Config{
		Dir: dir,
		Teams: map[string]*spec.Team{
			"platform": {Name: "platform"},
			"web":      {Name: "web"},
		},
		Owners: map[string]*spec.Owner{
			"alice": {Name: "alice", Email: "alice@example.com", Team: "platform"},
			"bob":   {Name: "bob", Email: "bob@example.com", Team: "web"},
		},
		Policies: map[string]*spec.Policy{
			"standard": {
				Name: "standard", Validity: 90 * 24 * time.Hour,
				RenewBefore:  spec.RenewBefore{Percent: 33},
				KeyAlgorithm: "ecdsa-p256", Usages: []string{"server_auth"},
			},
			"mail": {
				Name: "mail", Validity: 90 * 24 * time.Hour,
				KeyAlgorithm: "ecdsa-p256", Usages: []string{"email_protection"},
			},
		},
		Issuers: map[string]*spec.Issuer{
			"internal": {Type: "local_ca", Name: "internal", CommonName: "Test Internal CA", Validity: 3650 * 24 * time.Hour, KeyAlgorithm: "ecdsa-p256"},
		},
		Agents: map[string]*spec.Agent{"web1": {Name: "web1"}},
		Targets: map[string]*spec.Target{
			"local": {Type: "file", Name: "local", Dir: "out"},
			"web1":  {Type: "file", Name: "web1", Agent: "web1", Dir: "/etc/nginx/tls"},
		},
		Certificates: map[string]*spec.Certificate{
			"www": {
				Name: "www", Label: "www", CommonName: "www.example.com",
				DNSNames: []string{"www.example.com", "example.com"},
				Issuer:   "internal", Policy: "standard", Owner: "alice", Team: "platform",
				Targets: []string{"local"}, Labels: map[string]string{"env": "prod"},
				KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
			},
			`sites["api"]`: {
				Name: `sites["api"]`, Label: "sites", Key: "api", CommonName: "api.example.com",
				DNSNames:    []string{"api.example.com"},
				IPAddresses: []net.IP{net.ParseIP("192.0.2.10")},
				Issuer:      "internal", Policy: "standard", Owner: "bob", Team: "web",
				Targets:      []string{"local", "web1"},
				KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
			},
			"mail": {
				Name: "mail", Label: "mail", CommonName: "Postmaster",
				EmailAddresses: []string{"postmaster@example.com"},
				Issuer:         "internal", Policy: "mail", Owner: "alice", Team: "platform",
				KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
			},
		},
	}
}

// fakeFP is a deterministic fake fingerprint.
func fakeFP(name string, n int) string {
	var b [32]byte
	copy(b[:], fmt.Sprintf("%s/%d", name, n))
	return hex.EncodeToString(b[:])
}

// appliedSnapshot is the state after cfg was applied: every certificate
// issued (valid nb..na) with the config's attributes and deployed to its
// local targets with digest "digest-NAME-TARGET"; the local CA recorded.
func appliedSnapshot(cfg *spec.Config) *state.Snapshot {
	snap := &state.Snapshot{
		Lineage:      "0123456789abcdef0123456789abcdef",
		Serial:       4,
		Certificates: make(map[string]*state.Certificate),
		Issuers:      make(map[string]*state.Issuer),
	}
	for name, is := range cfg.Issuers {
		if is.Type == IssuerTypeLocalCA {
			snap.Issuers[name] = &state.Issuer{Name: name, Type: is.Type, Digest: IssuerDigest(is)}
		}
	}
	for name, c := range cfg.Certificates {
		snap.Certificates[name] = issuedRecord(cfg, c)
	}
	return snap
}

func issuedRecord(cfg *spec.Config, c *spec.Certificate) *state.Certificate {
	a := specAttrs(c, cfg)
	rec := &state.Certificate{
		Name: c.Name, Digest: a.digest(), Serial: "1f", NotBefore: nb, NotAfter: na,
		Fingerprint: fakeFP(c.Name, 1), Issuer: c.Issuer,
		CommonName: a.CommonName, DNSNames: slices.Clone(a.DNSNames), IPAddresses: slices.Clone(a.IPAddresses),
		EmailAddresses: slices.Clone(a.EmailAddresses), KeyAlgorithm: a.KeyAlgorithm, Usages: slices.Clone(a.Usages),
		Owner: c.Owner, Team: c.Team, Labels: maps.Clone(c.Labels),
		Status: state.StatusIssued, IssuedAt: nb,
		Deployments: map[string]state.Deployment{},
	}
	for _, t := range c.Targets {
		tg := cfg.Targets[t]
		dep := state.Deployment{Fingerprint: rec.Fingerprint, DeployedAt: nb}
		if tg.Agent == "" {
			dep.FilesDigest = "digest-" + c.Name + "-" + t
		}
		rec.Deployments[t] = dep
	}
	return rec
}

// observedAll is what Refresh would see when every local target is intact.
func observedAll(cfg *spec.Config) Observed {
	obs := Observed{}
	for name, c := range cfg.Certificates {
		for _, t := range c.Targets {
			if cfg.Targets[t].Agent == "" {
				if obs[name] == nil {
					obs[name] = map[string]string{}
				}
				obs[name][t] = "digest-" + name + "-" + t
			}
		}
	}
	return obs
}

// memStore is an in-memory state.Store. It keeps JSON copies (as a real
// store would), logs every call, and can be told to fail.
type memStore struct {
	mu      sync.Mutex
	lineage string
	serial  uint64
	certs   map[string][]byte
	issuers map[string][]byte
	log     []string
	// failPut, if set, is returned by PutCertificate for that name.
	failPut map[string]error
	// failPutIssuer, if set, is returned by PutIssuer for that name, after
	// putIssuerDelay.
	failPutIssuer  map[string]error
	putIssuerDelay time.Duration
}

func newMemStore() *memStore {
	return &memStore{lineage: "feedfacefeedfacefeedfacefeedface", certs: map[string][]byte{}, issuers: map[string][]byte{}}
}

func (s *memStore) Snapshot(context.Context) (*state.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := &state.Snapshot{Lineage: s.lineage, Serial: s.serial, Certificates: map[string]*state.Certificate{}, Issuers: map[string]*state.Issuer{}}
	for k, b := range s.certs {
		var c state.Certificate
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, err
		}
		snap.Certificates[k] = &c
	}
	for k, b := range s.issuers {
		var is state.Issuer
		if err := json.Unmarshal(b, &is); err != nil {
			return nil, err
		}
		snap.Issuers[k] = &is
	}
	return snap, nil
}

func (s *memStore) PutCertificate(_ context.Context, rec *state.Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failPut[rec.Name]; err != nil {
		s.log = append(s.log, "put-failed "+rec.Name)
		return err
	}
	if rec.BlobsOmitted() && rec.CertPEM == nil && rec.ChainPEM == nil && rec.KeySealed == nil {
		// Keep the stored blobs, as state.DB does.
		var old state.Certificate
		if b := s.certs[rec.Name]; b != nil {
			if err := json.Unmarshal(b, &old); err != nil {
				return err
			}
		}
		if old.Fingerprint != rec.Fingerprint {
			return fmt.Errorf("memStore: blobs of %q kept for a record of %q", old.Fingerprint, rec.Fingerprint)
		}
		c := *rec
		c.CertPEM, c.ChainPEM, c.KeySealed = old.CertPEM, old.ChainPEM, old.KeySealed
		rec = &c
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.certs[rec.Name] = b
	s.serial++
	s.log = append(s.log, fmt.Sprintf("put %s status=%s fp=%.8s deployed=%v", rec.Name, rec.Status, rec.Fingerprint, slices.Sorted(maps.Keys(rec.Deployments))))
	return nil
}

func (s *memStore) DeleteCertificate(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.certs, name)
	s.serial++
	s.log = append(s.log, "delete "+name)
	return nil
}

func (s *memStore) PutIssuer(_ context.Context, rec *state.Issuer) error {
	time.Sleep(s.putIssuerDelay) // a slow fsync
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failPutIssuer[rec.Name]; err != nil {
		s.log = append(s.log, "put-issuer-failed "+rec.Name)
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.issuers[rec.Name] = b
	s.serial++
	s.log = append(s.log, "put-issuer "+rec.Name)
	return nil
}

var sealPrefix = []byte("sealed:")

// Seal reverses the bytes behind a prefix: not encryption, but never the
// plaintext, so a test can tell a sealed key from a clear one.
func (s *memStore) Seal(p []byte) ([]byte, error) {
	out := append([]byte{}, sealPrefix...)
	for i := len(p) - 1; i >= 0; i-- {
		out = append(out, p[i])
	}
	return out, nil
}

func (s *memStore) Unseal(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, sealPrefix) {
		return nil, errors.New("not sealed")
	}
	b = b[len(sealPrefix):]
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out, nil
}

func (s *memStore) Close() error { return nil }

func (s *memStore) record(t *testing.T, name string) *state.Certificate {
	t.Helper()
	snap, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap.Certificates[name]
}

func (s *memStore) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

var _ state.Store = (*memStore)(nil)

// recExec records validate/reload commands; fail maps a command to its
// error. hook, if set, runs first.
type recExec struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
	hook  func(dir, command string) error
}

func (e *recExec) exec(_ context.Context, dir, command string) error {
	if e.hook != nil {
		if err := e.hook(dir, command); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, command)
	return e.fail[command]
}

func (e *recExec) got() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// describe renders a plan compactly for comparisons:
// "-/+ certificate.www: dns_names changed [dns_names]".
func describe(p *ActionPlan) []string {
	var out []string
	for _, ch := range p.Changes {
		s := ch.Action.Symbol() + " " + ch.Address
		if ch.Target != "" {
			s += " -> " + ch.Target
		}
		s += ": " + ch.Reason
		if len(ch.Forces) > 0 {
			s += " [" + strings.Join(ch.Forces, ",") + "]"
		}
		out = append(out, s)
	}
	for _, n := range p.Notes {
		s := "note " + string(n.Kind) + " " + n.Address
		if n.Target != "" {
			s += " -> " + n.Target
		}
		out = append(out, s+": "+n.Message)
	}
	return out
}
