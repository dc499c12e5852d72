package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/acme/acmetest"
	"github.com/rogpeppe/go-internal/testscript"
)

// Script commands for the ACME scenarios (acme_*.txtar), which run
// against a real pebble started by the script itself.
func init() {
	scriptCmds["pebble"] = cmdPebble
}

var (
	scriptTBsMu sync.Mutex
	scriptTBs   = map[string]testing.TB{} // the subtest of each script, by $WORK

	pebblesMu sync.Mutex
	pebbles   = map[*testscript.TestScript]map[string]*acmetest.Pebble{}
)

// registerScriptT remembers the subtest running a script, so that script
// commands can start real servers that live as long as it (pebble).
func registerScriptT(e *testscript.Env) {
	tb, ok := e.T().(testing.TB)
	if !ok {
		return
	}
	scriptTBsMu.Lock()
	scriptTBs[e.WorkDir] = tb
	scriptTBsMu.Unlock()
	e.Defer(func() {
		scriptTBsMu.Lock()
		delete(scriptTBs, e.WorkDir)
		scriptTBsMu.Unlock()
	})
}

func scriptTB(ts *testscript.TestScript) testing.TB {
	scriptTBsMu.Lock()
	defer scriptTBsMu.Unlock()
	tb := scriptTBs[ts.Getenv("WORK")]
	if tb == nil {
		ts.Fatalf("no test to start a server for (registerScriptT was not called)")
	}
	return tb
}

func pebbleOf(ts *testscript.TestScript, name string) *acmetest.Pebble {
	pebblesMu.Lock()
	defer pebblesMu.Unlock()
	p := pebbles[ts][name]
	if p == nil {
		ts.Fatalf("no pebble %q started", name)
	}
	return p
}

// cmdPebble runs a real ACME server for a script:
//
//	pebble start NAME [validate|dns]
//	                               start pebble; "validate" makes it really
//	                               validate http-01 (names resolve to
//	                               127.0.0.1 through pebble-challtestsrv),
//	                               "dns" really validate dns-01 against a
//	                               BIND named serving example.test, which
//	                               takes TSIG-signed updates; otherwise
//	                               every challenge passes. Sets
//	                               CERTCTL_VAR_NAME_dir (directory URL) and
//	                               CERTCTL_VAR_NAME_http_port (where pebble
//	                               validates http-01), and writes NAME.pem
//	                               (the root of its HTTPS) in $WORK. With
//	                               "dns", also CERTCTL_VAR_NAME_dns (named's
//	                               address), CERTCTL_VAR_NAME_tsig_key (the
//	                               key name) and NAME.tsig (its secret).
//	pebble stop NAME               stop it (a CA that went down)
//	pebble log NAME REGEXP [N]     its log matches REGEXP (exactly N times)
//	pebble cert NAME FILE STATUS   it says the certificate in FILE is STATUS
//	                               ("Valid" or "Revoked")
//	! pebble secret NAME FILE      FILE does not hold the TSIG secret of
//	                               NAME's named ("dns")
func cmdPebble(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: pebble start|stop|log|cert NAME ...")
	}
	op, name := args[0], args[1]
	if neg && op != "log" && op != "secret" {
		ts.Fatalf("unsupported: ! pebble %s", op)
	}
	switch op {
	case "start":
		tb := scriptTB(ts)
		opts := acmetest.Options{AlwaysValid: true}
		mode := ""
		if len(args) > 2 {
			mode = args[2]
		}
		switch mode {
		case "":
		case "validate":
			cts := acmetest.StartChallTestSrv(tb)
			opts = acmetest.Options{DNSServer: cts.DNSAddr}
		case "dns":
			b := acmetest.StartBIND(tb)
			opts = acmetest.Options{DNSServer: b.Addr}
			ts.Setenv("CERTCTL_VAR_"+name+"_dns", b.Addr)
			ts.Setenv("CERTCTL_VAR_"+name+"_tsig_key", b.TSIGKey)
			ts.Check(os.WriteFile(filepath.Join(ts.Getenv("WORK"), name+".tsig"), []byte(b.TSIGSecret), 0o600))
		default:
			ts.Fatalf("pebble start %s %s: want validate or dns", name, mode)
		}
		p := acmetest.StartPebble(tb, opts)
		pebblesMu.Lock()
		if pebbles[ts] == nil {
			pebbles[ts] = map[string]*acmetest.Pebble{}
			ts.Defer(func() {
				pebblesMu.Lock()
				delete(pebbles, ts)
				pebblesMu.Unlock()
			})
		}
		pebbles[ts][name] = p
		pebblesMu.Unlock()
		ts.Setenv("CERTCTL_VAR_"+name+"_dir", p.DirectoryURL)
		ts.Setenv("CERTCTL_VAR_"+name+"_http_port", strconv.Itoa(p.HTTPPort))
		ts.Check(os.WriteFile(filepath.Join(ts.Getenv("WORK"), name+".pem"), p.RootsPEM, 0o644))
	case "stop":
		pebbleOf(ts, name).Stop()
	case "log":
		if len(args) < 3 || len(args) > 4 {
			ts.Fatalf("usage: pebble log NAME REGEXP [N]")
		}
		re, err := regexp.Compile(args[2])
		ts.Check(err)
		n := len(re.FindAllStringIndex(pebbleOf(ts, name).Logs(), -1))
		ok := n > 0
		if len(args) == 4 {
			want, err := strconv.Atoi(args[3])
			ts.Check(err)
			ok = n == want
		}
		if ok == neg {
			ts.Fatalf("pebble %s logged %q %d times (negated: %v, args %q)", name, args[2], n, neg, args[3:])
		}
	case "secret":
		if len(args) != 3 {
			ts.Fatalf("usage: pebble secret NAME FILE")
		}
		secret := strings.TrimSpace(ts.ReadFile(name + ".tsig"))
		if found := strings.Contains(ts.ReadFile(args[2]), secret); found != !neg {
			ts.Fatalf("%s holds the TSIG secret: %v (negated: %v)", args[2], found, neg)
		}
	case "cert":
		if len(args) != 4 {
			ts.Fatalf("usage: pebble cert NAME FILE STATUS")
		}
		leaf, err := pki.ParseCertificatePEM([]byte(ts.ReadFile(args[2])))
		ts.Check(err)
		got, _ := pebbleOf(ts, name).CertStatus(scriptTB(ts), leaf.SerialNumber)
		if !strings.EqualFold(got, args[3]) {
			ts.Fatalf("pebble %s says %s is %q, want %q", name, args[2], got, args[3])
		}
	default:
		ts.Fatalf("unknown pebble operation %q", op)
	}
}
