package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"
	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// scriptCmds are the checks scripts use beyond testscript's built-ins.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// v1state FILE: FILE becomes a copy of state/testdata/v1.db, a schema 1
	// state that certctl wrote from the quickstart configuration (see
	// state/upgrade_test.go; key ...0001).
	"v1state": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 || neg {
			ts.Fatalf("usage: v1state FILE")
		}
		data, err := os.ReadFile(filepath.Join("..", "..", "state", "testdata", "v1.db"))
		ts.Check(err)
		path := ts.MkAbs(args[0])
		ts.Check(os.MkdirAll(filepath.Dir(path), 0o700))
		ts.Check(os.WriteFile(path, data, 0o600))
	},
	// filemode FILE MODE: FILE's permission bits are MODE (octal).
	"filemode": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: filemode FILE MODE")
		}
		want, err := strconv.ParseUint(args[1], 8, 32)
		ts.Check(err)
		fi, err := os.Stat(ts.MkAbs(args[0]))
		ts.Check(err)
		got := uint64(fi.Mode().Perm())
		if (got == want) == neg {
			ts.Fatalf("mode of %s is %o, want %s%o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	},
	// x509verify CHAIN LEAF [DNSNAME]: LEAF verifies against the roots in
	// CHAIN for server auth (and DNSNAME, if given) now.
	"x509verify": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 2 || len(args) > 3 {
			ts.Fatalf("usage: x509verify CHAIN LEAF [DNSNAME]")
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(ts.ReadFile(args[0]))) {
			ts.Fatalf("no certificates in %s", args[0])
		}
		leaf, err := pki.ParseCertificatePEM([]byte(ts.ReadFile(args[1])))
		ts.Check(err)
		opts := x509.VerifyOptions{Roots: roots, CurrentTime: time.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if len(args) == 3 {
			opts.DNSName = args[2]
		}
		_, err = leaf.Verify(opts)
		if (err == nil) == neg {
			ts.Fatalf("verifying %s: %v (negated: %v)", args[1], err, neg)
		}
	},
	// zlint [-warnings] FILE: the certificate in FILE has no zlint result
	// of level error or fatal, nor with -warnings of level warning (the
	// names of any are printed). -warnings ignores the RFC 5280 lint that
	// asks for a subject key identifier in leaves: it contradicts the
	// Baseline Requirements lint that warns when there is one (see
	// pki/zlint_test.go).
	"zlint": func(ts *testscript.TestScript, neg bool, args []string) {
		warnings := len(args) == 2 && args[0] == "-warnings"
		if warnings {
			args = args[1:]
		}
		if len(args) != 1 {
			ts.Fatalf("usage: zlint [-warnings] FILE")
		}
		cert, err := pki.ParseCertificatePEM([]byte(ts.ReadFile(args[0])))
		ts.Check(err)
		zc, err := zx509.ParseCertificate(cert.Raw)
		ts.Check(err)
		var bad []string
		for name, r := range zlint.LintCertificate(zc).Results {
			if r.Status == lint.Error || r.Status == lint.Fatal ||
				warnings && r.Status == lint.Warn && name != "w_ext_subject_key_identifier_missing_sub_cert" {
				bad = append(bad, name)
			}
		}
		slices.Sort(bad)
		if (len(bad) == 0) == neg {
			ts.Fatalf("zlint %s: findings %v (negated: %v)", args[0], bad, neg)
		}
	},
	// jsonschema SCHEMA FILE: FILE is valid JSON under the schema (path
	// relative to the repository's schemas/ folder).
	"jsonschema": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: jsonschema SCHEMA FILE")
		}
		schemaPath, err := filepath.Abs(filepath.Join("..", "..", "schemas", args[0]))
		ts.Check(err)
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		// Schemas refer to each other by their $id (diff.schema.json
		// to plan.schema.json): every one of them is at hand.
		others, err := filepath.Glob(filepath.Join(filepath.Dir(schemaPath), "*.schema.json"))
		ts.Check(err)
		for _, f := range others {
			raw, err := os.ReadFile(f)
			ts.Check(err)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			ts.Check(err)
			ts.Check(c.AddResource("https://github.com/certctl/certctl/schemas/"+filepath.Base(f), doc))
		}
		sch, err := c.Compile("https://github.com/certctl/certctl/schemas/" + filepath.Base(schemaPath))
		ts.Check(err)
		var doc any
		ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &doc))
		err = sch.Validate(doc)
		if (err == nil) == neg {
			ts.Fatalf("%s against %s: %v (negated: %v)", args[1], args[0], err, neg)
		}
	},
}
