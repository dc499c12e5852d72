package main

import (
	"flag"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the golden output inside testdata/script/*.txtar")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"certctl": func() { os.Exit(run()) },
	})
}

// TestScript runs the end-to-end scenarios in testdata/script: each is a
// txtar archive with a configuration and the commands an operator types.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			// A state key in the environment keeps scripts independent
			// of key files; one script tests the key file on its own.
			e.Setenv("NO_COLOR", "1")
			registerScriptT(e) // for servers the script starts: script_acme_test.go
			return nil
		},
		Cmds: scriptCmds,
	})
}
