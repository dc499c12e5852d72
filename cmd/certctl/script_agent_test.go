package main

import (
	"regexp"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["waitstdout"] = cmdWaitStdout
}

// waitstdout REGEXP PROG ARGS...: runs PROG until its stdout matches
// REGEXP, for up to 30 s (an agent's report reaching the state, say); with
// !, until it succeeds and its stdout does not match.
func cmdWaitStdout(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: [!] waitstdout REGEXP PROG ARGS...")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ts.Exec(args[1], args[2:]...)
		out := ts.ReadFile("stdout")
		if err == nil && re.MatchString(out) != neg {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitstdout: %s did not print (negated: %v) %q within 30 s (last error %v); last stdout:\n%s", args[1], neg, args[0], err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
