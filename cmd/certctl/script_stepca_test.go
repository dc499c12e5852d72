package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/stepca/stepcatest"
	"github.com/rogpeppe/go-internal/testscript"
)

// Script commands for the step-ca scenarios (stepca*.txtar), which run
// against a real step-ca started by the script itself.
func init() {
	scriptCmds["stepca"] = cmdStepCA
}

var (
	stepCAsMu sync.Mutex
	stepCAs   = map[*testscript.TestScript]map[string]*stepcatest.CA{}
)

func stepCAOf(ts *testscript.TestScript, name string) *stepcatest.CA {
	stepCAsMu.Lock()
	defer stepCAsMu.Unlock()
	ca := stepCAs[ts][name]
	if ca == nil {
		ts.Fatalf("no step-ca %q started", name)
	}
	return ca
}

// cmdStepCA runs a real step-ca for a script:
//
//	stepca start NAME          initialise and start a CA whose JWK
//	                           provisioner signs leaves of up to 100 days.
//	                           Sets CERTCTL_VAR_NAME_url and
//	                           CERTCTL_VAR_NAME_provisioner, and
//	                           NAME_PASSWORD (the provisioner key's
//	                           password, for env()); writes NAME.root.pem
//	                           and NAME.jwe (the encrypted key) in $WORK.
//	stepca stop NAME           stop it (a CA that went down)
//	stepca revoked NAME FILE   the CA's CRL lists the certificate in FILE
//	                           (with !: does not)
//	stepca secret NAME FILE    FILE holds the provisioner password or key
//	                           (use with !)
func cmdStepCA(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: stepca start|stop|revoked|secret NAME ...")
	}
	op, name := args[0], args[1]
	if neg && op != "revoked" && op != "secret" {
		ts.Fatalf("unsupported: ! stepca %s", op)
	}
	switch op {
	case "start":
		ca := stepcatest.Start(scriptTB(ts), stepcatest.Options{})
		stepCAsMu.Lock()
		if stepCAs[ts] == nil {
			stepCAs[ts] = map[string]*stepcatest.CA{}
			ts.Defer(func() {
				stepCAsMu.Lock()
				delete(stepCAs, ts)
				stepCAsMu.Unlock()
			})
		}
		stepCAs[ts][name] = ca
		stepCAsMu.Unlock()
		ts.Setenv("CERTCTL_VAR_"+name+"_url", ca.URL)
		ts.Setenv("CERTCTL_VAR_"+name+"_provisioner", ca.Provisioner)
		ts.Setenv(name+"_PASSWORD", ca.Password)
		work := ts.Getenv("WORK")
		ts.Check(os.WriteFile(filepath.Join(work, name+".root.pem"), ca.RootPEM, 0o644))
		ts.Check(os.WriteFile(filepath.Join(work, name+".jwe"), []byte(ca.EncryptedKey), 0o600))
	case "stop":
		stepCAOf(ts, name).Stop()
	case "revoked":
		if len(args) != 3 {
			ts.Fatalf("usage: stepca revoked NAME FILE")
		}
		leaf, err := pki.ParseCertificatePEM([]byte(ts.ReadFile(args[2])))
		ts.Check(err)
		if got := stepCAOf(ts, name).Revoked(scriptTB(ts), leaf.SerialNumber); got != !neg {
			ts.Fatalf("step-ca %s lists %s in its CRL: %v (negated: %v)", name, args[2], got, neg)
		}
	case "secret":
		if len(args) != 3 {
			ts.Fatalf("usage: stepca secret NAME FILE")
		}
		ca := stepCAOf(ts, name)
		text := ts.ReadFile(args[2])
		found := false
		for _, s := range []string{ca.Password, ca.EncryptedKey, ca.EncryptedKey[len(ca.EncryptedKey)-40:]} {
			found = found || (s != "" && strings.Contains(text, s))
		}
		if found != !neg {
			ts.Fatalf("%s holds a secret of step-ca %s: %v (negated: %v)", args[2], name, found, neg)
		}
	default:
		ts.Fatalf("unknown stepca operation %q", op)
	}
}
