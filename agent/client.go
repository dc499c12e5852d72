package agent

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/reconcile"
)

// Defaults for Options.
const (
	DefaultPollWait   = 30 * time.Second
	DefaultMaxBackoff = time.Minute
	// csrRetry is how long the agent waits before sending the CSR of a
	// request again (the server refused it, or has not signed it yet);
	// deployRetry how long before it retries a failed deployment of the
	// same certificate.
	csrRetry    = 10 * time.Minute
	deployRetry = 5 * time.Minute
)

// Options configure Run. Server, Name, Token and Dir are required.
type Options struct {
	// Server is the base URL of `certctl watch` (https://host:9180).
	Server string
	Name   string
	Token  string
	// Dir holds the agent's keys (keys/, 0700) and its record of what it
	// deployed (agent.json). Relative target dirs are resolved against it.
	Dir string
	// Client makes the requests; a client with the system roots if nil.
	Client *http.Client
	// InsecureHTTP allows an http:// Server that is not on loopback. Off,
	// such a server is refused: the token would cross the network in
	// clear, and whoever answers in the server's place chooses the
	// commands the agent runs.
	InsecureHTTP bool
	// PollWait is the long poll's wait; DefaultPollWait if zero.
	PollWait time.Duration
	// MaxBackoff caps the wait after failed requests; DefaultMaxBackoff
	// if zero.
	MaxBackoff time.Duration
	// Exec runs validate and reload commands; reconcile.ShellExec(0) if nil.
	Exec   reconcile.ExecFunc
	Logger *slog.Logger
	Now    func() time.Time
}

// Agent is one running agent; see Run.
type Agent struct {
	opts  Options
	log   *slog.Logger
	base  string
	local localState
	// saved is agent.json as last written: an unchanged record is not
	// written again. refused are the deployment errors already logged.
	saved   []byte
	refused map[string]string
}

// localState is what the agent remembers in DIR/agent.json.
type localState struct {
	// Submitted is the last CSR request sent per certificate.
	Submitted map[string]submitted `json:"submitted"`
	// Deployed is the outcome per "certificate/target".
	Deployed map[string]outcome `json:"deployed"`
}

type submitted struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// outcome is what a target holds: Fingerprint and FilesDigest of the last
// successful deployment; Error and Attempted for a failed one.
type outcome struct {
	Fingerprint string    `json:"fingerprint,omitempty"`
	FilesDigest string    `json:"files_digest,omitempty"`
	Error       string    `json:"error,omitempty"`
	Attempted   string    `json:"attempted,omitempty"`
	At          time.Time `json:"at"`
	// err is the failure of this sync's attempt, nil when none was made
	// or it succeeded.
	err error
}

// loopback reports whether host names this machine (localhost or a
// loopback address).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New checks opts and loads the agent's directory, creating it (0700).
func New(opts Options) (*Agent, error) {
	u, err := url.Parse(opts.Server)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("-server %q: want an http:// or https:// URL", opts.Server)
	case u.Scheme == "http" && !loopback(u.Hostname()) && !opts.InsecureHTTP:
		return nil, fmt.Errorf("-server %s: plain http beyond this host would send the token in clear and run the commands of whoever answers; use https:// (with -ca-file for a private CA), or -insecure-http on a network you trust", opts.Server)
	case opts.Name == "" || strings.ContainsAny(opts.Name, "/?#%"):
		return nil, fmt.Errorf("-name %q: want the agent's name in the configuration", opts.Name)
	case opts.Token == "":
		return nil, errors.New("the token is empty")
	case opts.Dir == "":
		return nil, errors.New("-dir is required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.PollWait <= 0 {
		opts.PollWait = DefaultPollWait
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Exec == nil {
		opts.Exec = reconcile.ShellExec(0)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "keys"), 0o700); err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, log: log, refused: map[string]string{}, base: strings.TrimSuffix(opts.Server, "/") + "/api/v1/agents/" + url.PathEscape(opts.Name)}
	b, err := os.ReadFile(filepath.Join(opts.Dir, "agent.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &a.local); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(opts.Dir, "agent.json"), err)
		}
		a.saved = b
	}
	if a.local.Submitted == nil {
		a.local.Submitted = map[string]submitted{}
	}
	if a.local.Deployed == nil {
		a.local.Deployed = map[string]outcome{}
	}
	return a, nil
}

// Run polls the server and deploys until ctx is done, then returns nil.
// A server that is down or refuses the agent is retried with exponential
// backoff (with jitter) up to MaxBackoff; a restarted server is picked up
// by the next poll.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("agent started", "server", a.opts.Server, "name", a.opts.Name, "dir", a.opts.Dir)
	var doc *Deployments
	etag := ""
	failures := 0
	for ctx.Err() == nil {
		d, tag, err := a.poll(ctx, etag)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			wait := backoff(failures, a.opts.MaxBackoff)
			a.log.Warn("polling the server failed", "error", err, "retry_in", wait.Round(time.Millisecond).String())
			sleep(ctx, wait)
			continue
		}
		if failures > 0 {
			a.log.Info("server reachable again")
		}
		failures = 0
		if d != nil {
			doc, etag = d, tag
		}
		if doc != nil {
			if err := a.Sync(ctx, doc); err != nil && ctx.Err() == nil {
				a.log.Warn("sync", "error", err)
				sleep(ctx, time.Second) // a report that failed: not in a tight loop
			}
		}
	}
	a.log.Info("agent stopped")
	return nil
}

func backoff(n int, limit time.Duration) time.Duration {
	d := time.Second << min(n-1, 16)
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// statusError is a refusal by the server.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.code, http.StatusText(e.code), e.msg)
}

func (a *Agent) request(ctx context.Context, method, path string, body any, hdr http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+a.opts.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL holds no secret, but the message is shorter
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var eb ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b))
		}
		return nil, &statusError{resp.StatusCode, eb.Error}
	}
	return resp, nil
}

// poll asks for the deployments, long-polling on etag; nil when they did
// not change.
func (a *Agent) poll(ctx context.Context, etag string) (*Deployments, string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.PollWait+30*time.Second)
	defer cancel()
	hdr := http.Header{}
	path := "/deployments"
	if etag != "" {
		hdr.Set("If-None-Match", etag)
		path += "?wait=" + a.opts.PollWait.String()
	}
	resp, err := a.request(ctx, http.MethodGet, path, nil, hdr)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil, etag, nil
	}
	var doc Deployments
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&doc); err != nil {
		return nil, "", fmt.Errorf("decoding the deployments: %w", err)
	}
	if doc.FormatVersion != FormatVersion {
		return nil, "", fmt.Errorf("deployments format_version %q, this agent reads %q", doc.FormatVersion, FormatVersion)
	}
	return &doc, resp.Header.Get("ETag"), nil
}

// Sync does what doc asks: it sends CSRs, deploys certificates whose
// files are missing, changed or out of date, and reports outcomes the
// server has not recorded. It returns the error of sending reports (to
// be retried); deployment failures are reported, not returned.
func (a *Agent) Sync(ctx context.Context, doc *Deployments) error {
	var reports []Report
	asked := map[string]bool{}
	for _, d := range doc.Deployments {
		if d.Error != "" {
			if id := d.Certificate + "/" + d.Target; a.refused[id] != d.Error {
				a.refused[id] = d.Error
				a.log.Error("the server has no certificate for this agent", "certificate", d.Certificate, "target", d.Target, "reason", d.Error)
			}
			continue
		}
		if !safeStem(d.Stem) {
			a.log.Error("refusing a deployment with an unsafe file name", "certificate", d.Certificate, "stem", d.Stem)
			continue
		}
		if d.CSR != nil && !asked[d.Certificate] {
			asked[d.Certificate] = true
			a.sendCSR(ctx, d)
		}
		if d.CertPEM == "" {
			continue
		}
		out := a.deploy(ctx, d)
		if errors.Is(out.err, errNoKey) && d.CSR == nil && !asked[d.Certificate] {
			// The key is lost (a wiped directory, or removed to re-key):
			// ask for a certificate for a new one.
			if req := rekeyRequest(d); req != nil {
				asked[d.Certificate] = true
				d.CSR = req
				a.sendCSR(ctx, d)
			}
		}
		if rep := d.Reported; rep == nil || rep.Error != out.Error || out.Error == "" && (rep.Fingerprint != out.Fingerprint || rep.FilesDigest != out.FilesDigest) {
			reports = append(reports, Report{Certificate: d.Certificate, Target: d.Target, Fingerprint: out.Fingerprint, FilesDigest: out.FilesDigest, Error: out.Error})
		}
	}
	if err := a.save(); err != nil {
		a.log.Error("saving the agent's record", "error", err)
	}
	if len(reports) == 0 {
		return nil
	}
	resp, err := a.request(ctx, http.MethodPost, "/reports", ReportBatch{Reports: reports}, nil)
	if err != nil {
		return fmt.Errorf("reporting: %w", err)
	}
	resp.Body.Close()
	return nil
}

// safeStem refuses file names that would leave the target directory.
func safeStem(s string) bool {
	return s != "" && !strings.ContainsAny(s, `/\`) && !strings.HasPrefix(s, ".") && len(s) < 200
}

func (a *Agent) keyPath(stem, which string) string {
	return filepath.Join(a.opts.Dir, "keys", stem+which)
}

// sendCSR sends the CSR d asks for, once per request ID (again after
// csrRetry). The key is the pending one (keys/STEM.next.key) if it has
// the requested algorithm, else a new one, written 0600 before the CSR
// leaves the host.
func (a *Agent) sendCSR(ctx context.Context, d Deployment) {
	now := a.opts.Now()
	if sub := a.local.Submitted[d.Certificate]; sub.ID == d.CSR.ID && now.Sub(sub.At) < csrRetry {
		return
	}
	next := a.keyPath(d.Stem, ".next.key")
	var key crypto.Signer
	if b, err := os.ReadFile(next); err == nil {
		if k, err := pki.ParsePrivateKeyPEM(b); err == nil && pki.KeyAlgorithmOf(k.Public()) == d.CSR.KeyAlgorithm {
			key = k
		}
		clear(b)
	}
	if key == nil {
		k, err := pki.GenerateKey(d.CSR.KeyAlgorithm)
		if err != nil {
			a.log.Error("generating a key", "certificate", d.Certificate, "error", err)
			return
		}
		b, err := pki.MarshalPrivateKeyPEM(k)
		if err != nil {
			a.log.Error("encoding a key", "certificate", d.Certificate, "error", err)
			return
		}
		err = reconcile.WriteFileAtomic(next, b, 0o600)
		clear(b)
		if err != nil {
			a.log.Error("storing a key", "certificate", d.Certificate, "error", err)
			return
		}
		key = k
	}
	subj := pki.CSRSubject{CommonName: d.CSR.CommonName, DNSNames: d.CSR.DNSNames, EmailAddresses: d.CSR.EmailAddresses}
	for _, s := range d.CSR.IPAddresses {
		if ip := net.ParseIP(s); ip != nil {
			subj.IPAddresses = append(subj.IPAddresses, ip)
		}
	}
	_, der, err := pki.NewCSR(key, subj)
	if err != nil {
		a.log.Error("creating a CSR", "certificate", d.Certificate, "error", err)
		return
	}
	resp, err := a.request(ctx, http.MethodPost, "/csr", CSRSubmission{Certificate: d.Certificate, RequestID: d.CSR.ID, CSRPEM: string(pki.CSRPEM(der))}, nil)
	var se *statusError
	switch {
	case err == nil:
		resp.Body.Close()
		a.local.Submitted[d.Certificate] = submitted{ID: d.CSR.ID, At: now}
		a.log.Info("CSR sent", "certificate", d.Certificate, "request_id", d.CSR.ID, "key_algorithm", d.CSR.KeyAlgorithm)
	case errors.As(err, &se) && se.code < 500:
		a.local.Submitted[d.Certificate] = submitted{ID: d.CSR.ID, At: now, Error: se.Error()}
		a.log.Error("the server refused the CSR", "certificate", d.Certificate, "error", err)
	default:
		a.log.Warn("sending a CSR", "certificate", d.Certificate, "error", err) // retried next sync
	}
}

// keyFor returns the PEM of the key that certPEM certifies: the current
// key, or the pending one, which then becomes current.
func (a *Agent) keyFor(stem string, certPEM []byte) ([]byte, error) {
	cert, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, err
	}
	cur, next := a.keyPath(stem, ".key"), a.keyPath(stem, ".next.key")
	for _, p := range []string{cur, next} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		k, err := pki.ParsePrivateKeyPEM(b)
		if err != nil {
			clear(b)
			continue
		}
		if pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(cert.PublicKey) {
			if p == next {
				if err := os.Rename(next, cur); err != nil {
					clear(b)
					return nil, err
				}
			}
			return b, nil
		}
		clear(b)
	}
	return nil, errNoKey
}

var errNoKey = errors.New("no key on this host matches the certificate (its key was lost or generated elsewhere); a CSR for a new key was sent")

// rekeyRequest asks for d's certificate again, for a new key: the names
// and key algorithm of the certificate d carries.
func rekeyRequest(d Deployment) *CSRRequest {
	cert, err := pki.ParseCertificatePEM([]byte(d.CertPEM))
	if err != nil || len(d.Fingerprint) < 16 {
		return nil
	}
	r := &CSRRequest{ID: "rekey-" + d.Fingerprint[:16], CommonName: cert.Subject.CommonName, DNSNames: cert.DNSNames,
		EmailAddresses: cert.EmailAddresses, KeyAlgorithm: pki.KeyAlgorithmOf(cert.PublicKey)}
	for _, ip := range cert.IPAddresses {
		r.IPAddresses = append(r.IPAddresses, ip.String())
	}
	return r
}

// deploy writes d's certificate to its target when the target lacks it,
// holds other files (drift) or a failed attempt is due again, and returns
// the target's outcome.
func (a *Agent) deploy(ctx context.Context, d Deployment) outcome {
	id := d.Certificate + "/" + d.Target
	out := a.local.Deployed[id]
	dir := d.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(a.opts.Dir, dir)
	}
	now := a.opts.Now()
	switch {
	case out.Error != "" && out.Attempted == d.Fingerprint && now.Sub(out.At) < deployRetry:
		return out // failed recently: not again yet
	case out.Error == "" && out.Fingerprint == d.Fingerprint:
		onDisk, err := reconcile.FilesDigest(dir, d.Stem)
		if err == nil && onDisk == out.FilesDigest {
			return out
		}
		a.log.Warn("drift: the target's files changed; deploying again", "certificate", d.Certificate, "target", d.Target)
	}
	fileMode, err1 := strconv.ParseUint(d.FileMode, 8, 32)
	keyMode, err2 := strconv.ParseUint(d.KeyMode, 8, 32)
	keyPEM, err := a.keyFor(d.Stem, []byte(d.CertPEM))
	if err == nil {
		err = errors.Join(err1, err2)
	}
	var digest string
	if err == nil {
		digest, err = reconcile.WriteFiles(ctx, reconcile.FileTarget{
			Dir: dir, Stem: d.Stem, FileMode: fs.FileMode(fileMode), KeyMode: fs.FileMode(keyMode),
			Validate: d.Validate, Reload: d.Reload, Exec: a.opts.Exec,
		}, []byte(d.CertPEM), []byte(d.ChainPEM), keyPEM)
	}
	clear(keyPEM)
	if err != nil {
		out.Error, out.Attempted, out.At, out.err = err.Error(), d.Fingerprint, now, err
		a.log.Error("deploying", "certificate", d.Certificate, "target", d.Target, "serial", d.Serial, "error", err)
	} else {
		out = outcome{Fingerprint: d.Fingerprint, FilesDigest: digest, At: now}
		a.log.Info("deployed", "certificate", d.Certificate, "target", d.Target, "serial", d.Serial, "dir", dir)
	}
	a.local.Deployed[id] = out
	return out
}

func (a *Agent) save() error {
	b, err := json.MarshalIndent(&a.local, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if bytes.Equal(b, a.saved) {
		return nil
	}
	if err := reconcile.WriteFileAtomic(filepath.Join(a.opts.Dir, "agent.json"), b, 0o600); err != nil {
		return err
	}
	a.saved = b
	return nil
}
