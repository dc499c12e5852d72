package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certctl/certctl/pki/discover"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/importer"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// cmdImport brings existing certificates under certctl: it scans
// directories and TLS endpoints, writes a new configuration file that
// declares them, and records them in the state, so that the next plan
// shows no change for them until they are due (reconcile/importer).
func cmdImport(e *env, args []string) int {
	fs := newFlags(e, "import", " -owner NAME -team NAME -policy NAME -issuer NAME -name TEMPLATE [-out FILE] SOURCE...\n\n"+
		"SOURCE is a directory or file (PEM or DER), or a TLS endpoint host:port\n"+
		"(SNI@host:port asks for the server name SNI).")
	owner := fs.String("owner", "", "`owner` of every certificate imported (required)")
	team := fs.String("team", "", "`team` of every certificate imported (required)")
	policy := fs.String("policy", "", "`policy` of every certificate imported (required)")
	issuer := fs.String("issuer", "", "`issuer` of the certificates no local CA of the configuration signed: \"external\" to only monitor them, or an issuer to renew them (required)")
	name := fs.String("name", "", "name `template` of each certificate, such as '{{.CommonName | slug}}' (required; fields CommonName, DNSNames, Serial, Source, File, Issuer)")
	out := fs.String("out", "imported.hcl", "configuration `file` to write, in the configuration directory; it must not exist")
	timeout := fs.Duration("timeout", 10*time.Second, "connection `timeout` per TLS endpoint")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	opts := importer.Options{Owner: *owner, Team: *team, Policy: *policy, Issuer: *issuer}
	if *name != "" {
		t, err := importer.ParseNameTemplate(*name)
		if err != nil {
			return e.errorf("-name: %v", err)
		}
		opts.Name = t
	}
	if err := opts.Missing(); err != nil {
		return e.errorf("%v", err)
	}
	if fs.NArg() == 0 {
		return e.errorf("import needs at least one SOURCE: a directory, a file, or a TLS endpoint host:port")
	}
	if filepath.Base(*out) != *out || !strings.HasSuffix(*out, ".hcl") || strings.HasPrefix(*out, ".") {
		return e.errorf("-out %s: give a file name ending in .hcl, written in the configuration directory", *out)
	}
	path := filepath.Join(e.dir, *out)
	if _, err := os.Lstat(path); err == nil {
		return e.errorf("%s already exists: certctl import never overwrites a file; name another with -out", path)
	}

	cfg, ok := e.loadConfig()
	if !ok {
		return exitError
	}
	snap, err := e.readSnapshot(cfg)
	if err != nil {
		return e.errorf("%v", err)
	}

	// Scan every source before anything is decided.
	var found []*discover.Found
	var skipped []string
	files, cas := 0, 0
	for _, src := range fs.Args() {
		if fi, err := os.Stat(src); err == nil {
			if !fi.IsDir() && !fi.Mode().IsRegular() {
				return e.errorf("%s is neither a directory nor a regular file", src)
			}
			res, err := discover.Dir(src)
			if err != nil {
				return e.errorf("%v", err)
			}
			found = append(found, res.Leaves...)
			skipped = append(skipped, res.Skipped...)
			files, cas = files+res.Files, cas+res.CAs
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return e.errorf("%v", err)
		}
		sni, addr, _ := strings.Cut(src, "@")
		if addr == "" {
			sni, addr = "", src
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return e.errorf("%s is not a directory or file, nor a TLS endpoint host:port", src)
		}
		f, err := discover.Endpoint(e.ctx, addr, sni, *timeout)
		if err != nil {
			return e.errorf("%v", err)
		}
		found = append(found, f)
	}

	imp, err := importer.Prepare(cfg, snap, found, opts)
	if err != nil {
		return e.errorf("%v", err)
	}
	fmt.Fprintf(e.stdout, "Found %d certificate(s) in %d source(s) (%d file(s) read, %d CA certificate(s)).\n", len(found), fs.NArg(), files, cas)
	for _, s := range skipped {
		fmt.Fprintf(e.stdout, "  skipped %s\n", s)
	}
	for _, s := range imp.Skipped {
		fmt.Fprintf(e.stdout, "  skipped %s\n", s)
	}
	for _, k := range imp.Known {
		fmt.Fprintf(e.stdout, "  = %s: already in the state as %s\n", k.Found.Source, reconcile.CertAddress(k.Name))
	}
	if len(imp.Items) == 0 {
		fmt.Fprintln(e.stdout, "Nothing to import.")
		return exitOK
	}

	// The file must load with the rest of the configuration, or nothing
	// is written: the diagnostics point into it.
	full, parser, diags := spec.LoadWith(e.dir, spec.Options{Extra: map[string][]byte{*out: imp.HCL}})
	if !diags.HasErrors() && full != nil {
		diags = append(diags, reconcile.CheckNotifiers(full)...)
	}
	if diags.HasErrors() || full == nil {
		_ = parser.WriteDiagnostics(e.stderr, diags, useColor(e.stderr))
		return e.errorf("the certificates found do not fit the configuration (see above; %s was not written)", *out)
	}
	db, err := state.Open(e.statePath(full), state.Options{})
	if err != nil {
		return e.errorf("%v", err)
	}
	defer db.Close()
	recs, err := imp.Records(full, db.Seal, time.Now())
	if err != nil {
		return e.errorf("%v", err)
	}
	if err := importer.Commit(e.ctx, db, path, imp.HCL, recs); err != nil {
		return e.errorf("%v", err)
	}

	now := time.Now()
	for _, it := range imp.Items {
		how := "renewed by " + reconcile.IssuerAddress(it.Issuer) + " when due"
		switch {
		case it.External:
			how = "monitored only (" + reconcile.IssuerAddress(it.Issuer) + ")"
		case it.SignedBy:
			how = "signed by " + reconcile.IssuerAddress(it.Issuer) + ", renewed by it when due"
		}
		key := "key found"
		if it.Found.Key == nil {
			key = "no key"
		}
		expiry := "expires " + it.Found.Leaf.NotAfter.UTC().Format("2006-01-02")
		if !now.Before(it.Found.Leaf.NotAfter) {
			expiry = "EXPIRED " + it.Found.Leaf.NotAfter.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(e.stdout, "  + %s: %s, %s, %s; %s (from %s)\n", reconcile.CertAddress(it.Name), it.CommonName, expiry, key, how, it.Found.Source)
	}
	fmt.Fprintf(e.stdout, "\nImported %d certificate(s): wrote %s and their state records.\nRun certctl plan: it shows no change for them until one is due.\n", len(imp.Items), path)
	return exitOK
}
