// Command certctl manages TLS certificates as code: it reads HCL
// configuration, plans the changes against its state store and applies them.
//
// main only wires flags, I/O and exit codes; the work happens in the spec,
// state, pki and reconcile packages.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func main() { os.Exit(run()) }

// withProfile writes a CPU profile of f to CERTCTL_CPUPROFILE when it is
// set, for performance work on whole commands (as make bench times them).
func withProfile(f func() int) int {
	path := os.Getenv("CERTCTL_CPUPROFILE")
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: CERTCTL_CPUPROFILE: %v\n", err)
		return exitError
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintf(os.Stderr, "Error: CERTCTL_CPUPROFILE: %v\n", err)
		return exitError
	}
	defer pprof.StopCPUProfile()
	return f()
}

// run is main without os.Exit, so that testscript can run certctl in-process.
func run() int {
	return withProfile(func() int { return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr) })
}
