package main

import "fmt"

func cmdValidate(e *env, args []string) int {
	fs := newFlags(e, "validate", "")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := e.loadConfig()
	if !ok {
		return exitError
	}
	n := len(cfg.Certificates)
	fmt.Fprintf(e.stdout, "Success! The configuration is valid (%d %s).\n", n, plural(n, "certificate", "certificates"))
	return exitOK
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
