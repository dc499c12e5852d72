// Package discover finds existing certificates for `certctl import`: in
// directories (PEM and DER files) and on TLS endpoints. The entry points
// are Dir and Endpoint; both return Found leaves with the issuers and the
// private key that belong to them.
//
// In a directory every regular file is read (hidden files and directories
// are skipped, as are files over MaxFileSize): each PEM block of type
// CERTIFICATE or an unencrypted private key (PKCS #8, PKCS #1, SEC 1), or a
// whole file that is one DER certificate or key. A certificate that is not
// a CA is a leaf; CA certificates are only issuers. A leaf found in several
// files (NAME.crt and NAME.fullchain.crt) is found once. Its chain is built
// from the CA certificates found anywhere, by subject and signature; its
// key is the one whose public key is the leaf's.
package discover

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certctl/certctl/pki"
)

// MaxFileSize bounds the files Dir reads: certificate and key files are
// small, and a large file is something else.
const MaxFileSize = 1 << 20

// Found is one leaf certificate with what was found for it.
type Found struct {
	Leaf *x509.Certificate
	// Chain holds the issuers found, the leaf's issuer first, up to but
	// not including a self-signed root: what a server sends.
	Chain []*x509.Certificate
	// Key is the leaf's private key, nil when none was found. It is
	// secret: never print it.
	Key crypto.Signer
	// Source is where the leaf was found: a file path (the first in name
	// order that holds it) or "host:port" with the server name asked for.
	Source string
}

// Result is what Dir found.
type Result struct {
	// Leaves are sorted by Source, then by fingerprint.
	Leaves []*Found
	// CAs counts the CA certificates found (issuers, not imported).
	CAs int
	// Files counts the files read; Skipped says why some of their
	// contents could not be used ("path: encrypted private key").
	Files   int
	Skipped []string
}

// Dir scans dir and everything below it. Unreadable files, encrypted keys
// and damaged certificates are listed in Result.Skipped; only an error
// walking dir itself fails the scan.
func Dir(dir string) (*Result, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", dir, err)
	}
	// Files are read and parsed in parallel, then merged in name order
	// so that the result does not depend on scheduling.
	parsed := make([]fileContents, len(paths))
	parallel(len(paths), func(i int) { parsed[i] = readFile(paths[i]) })

	res := &Result{Files: len(paths)}
	var p pool
	for i, fc := range parsed {
		res.Skipped = append(res.Skipped, fc.skipped...)
		for _, c := range fc.certs {
			p.addCert(c, paths[i])
		}
		for _, k := range fc.keys {
			p.addKey(k)
		}
	}
	res.CAs = len(p.cas)
	// Chains cost a signature check per link: in parallel too. The pool
	// is only read from here on.
	res.Leaves = make([]*Found, len(p.leaves))
	parallel(len(p.leaves), func(i int) {
		l := p.leaves[i]
		f := &Found{Leaf: l.cert, Source: l.source, Chain: p.chain(l.cert)}
		if spki, err := x509.MarshalPKIXPublicKey(l.cert.PublicKey); err == nil {
			f.Key = p.keys[string(spki)]
		}
		res.Leaves[i] = f
	})
	slices.SortFunc(res.Leaves, func(a, b *Found) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(pki.Fingerprint(a.Leaf), pki.Fingerprint(b.Leaf)))
	})
	return res, nil
}

// parallel runs f(0) … f(n-1) on GOMAXPROCS goroutines and waits.
func parallel(n int, f func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// fileContents is what one file holds.
type fileContents struct {
	certs   []*x509.Certificate
	keys    []crypto.Signer
	skipped []string
}

func readFile(path string) fileContents {
	var fc fileContents
	skip := func(why string) { fc.skipped = append(fc.skipped, path+": "+why) }
	fi, err := os.Stat(path)
	if err != nil {
		skip(err.Error())
		return fc
	}
	if fi.Size() > MaxFileSize {
		return fc // not a certificate or key file
	}
	data, err := os.ReadFile(path)
	if err != nil {
		skip(err.Error())
		return fc
	}
	// The file may hold a private key: clear it once read. Certificates
	// alias the bytes they are parsed from, so they are parsed from
	// copies (pem.Decode's output is one).
	defer clear(data)
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		// One DER certificate or key, or something else entirely.
		if c, err := x509.ParseCertificate(bytes.Clone(data)); err == nil {
			fc.certs = append(fc.certs, c)
		} else if k := parseKeyDER(data); k != nil {
			fc.keys = append(fc.keys, k)
		}
		return fc
	}
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return fc
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				skip("damaged certificate: " + err.Error())
				continue
			}
			fc.certs = append(fc.certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if k := parseKeyDER(b.Bytes); k != nil {
				fc.keys = append(fc.keys, k)
			} else {
				skip("unreadable " + strings.ToLower(b.Type))
			}
			clear(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			skip("encrypted private key (decrypt it to import the key)")
		default:
			if _, ok := b.Headers["Proc-Type"]; ok {
				skip("encrypted private key (decrypt it to import the key)")
			}
		}
	}
}

// parseKeyDER parses a PKCS #8, PKCS #1 or SEC 1 private key, or returns nil.
func parseKeyDER(der []byte) crypto.Signer {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, _ := k.(crypto.Signer)
		return s
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k
	}
	return nil
}

// pool collects what files hold: leaves and CA certificates once each,
// and keys by public key.
type pool struct {
	seen   map[string]bool
	leaves []leaf
	cas    []*x509.Certificate
	// bySubject indexes cas by raw subject.
	bySubject map[string][]*x509.Certificate
	keys      map[string]crypto.Signer
}

type leaf struct {
	cert   *x509.Certificate
	source string
}

func (p *pool) addCert(c *x509.Certificate, source string) {
	if p.seen == nil {
		p.seen, p.bySubject, p.keys = map[string]bool{}, map[string][]*x509.Certificate{}, map[string]crypto.Signer{}
	}
	fp := string(c.Raw)
	if p.seen[fp] {
		return
	}
	p.seen[fp] = true
	if c.IsCA {
		p.cas = append(p.cas, c)
		p.bySubject[string(c.RawSubject)] = append(p.bySubject[string(c.RawSubject)], c)
		return
	}
	p.leaves = append(p.leaves, leaf{cert: c, source: source})
}

func (p *pool) addKey(k crypto.Signer) {
	if p.keys == nil {
		p.seen, p.bySubject, p.keys = map[string]bool{}, map[string][]*x509.Certificate{}, map[string]crypto.Signer{}
	}
	if spki, err := x509.MarshalPKIXPublicKey(k.Public()); err == nil {
		p.keys[string(spki)] = k
	}
}

// maxChain bounds a chain: real ones have one or two intermediates.
const maxChain = 8

// chain returns the issuers of c found in the pool, up to a self-signed
// root (not included).
func (p *pool) chain(c *x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for len(out) < maxChain {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			break
		}
		var next *x509.Certificate
		for _, cand := range p.bySubject[string(c.RawIssuer)] {
			if len(c.AuthorityKeyId) > 0 && len(cand.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, cand.SubjectKeyId) {
				continue
			}
			if c.CheckSignatureFrom(cand) == nil {
				next = cand
				break
			}
		}
		if next == nil || (bytes.Equal(next.RawIssuer, next.RawSubject) && next.CheckSignatureFrom(next) == nil) {
			break
		}
		out = append(out, next)
		c = next
	}
	return out
}

// Endpoint connects to addr ("host:port") with TLS, asking for serverName
// (SNI; when empty, the host of addr, and none for an IP address), and
// returns the certificate it presents with the
// chain it sends (without a self-signed root). The certificate is not
// verified: import inventories what servers present, trusted or not. The
// connection is closed before Endpoint returns.
func Endpoint(ctx context.Context, addr, serverName string, timeout time.Duration) (*Found, error) {
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: timeout},
		Config: &tls.Config{
			ServerName:         serverName,
			InsecureSkipVerify: true, // inventory, not trust: see above
		},
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("connecting to %s: the server sent no certificate", addr)
	}
	source := addr
	if serverName != "" {
		source = serverName + "@" + addr
	}
	f := &Found{Leaf: certs[0], Source: source}
	for _, c := range certs[1:] {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			break
		}
		f.Chain = append(f.Chain, c)
	}
	if f.Leaf.IsCA {
		return nil, errors.New("connecting to " + addr + ": the server presents a CA certificate, not a leaf")
	}
	return f, nil
}
