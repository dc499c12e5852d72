// Command certctl manages TLS certificates as code: it reads HCL
// configuration, plans the changes against its state store and applies them.
//
// main only wires flags, I/O and exit codes; the work happens in the spec,
// state, pki and reconcile packages.
package main

import (
	"os"
)

func main() { os.Exit(run()) }

// run is main without os.Exit, so that testscript can run certctl in-process.
func run() int {
	return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
