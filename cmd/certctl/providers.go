package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/reconcile"
)

// cmdProviders lists the DNS-01 providers certctl is built with and the
// settings each reads (dns01 { provider = "NAME"  config = { … } }).
func cmdProviders(e *env, args []string) int {
	fs := newFlags(e, "providers", " [-json]")
	jsonOut := fs.Bool("json", false, "machine-readable JSON output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.errorf("providers takes no arguments, got %q", fs.Arg(0))
	}
	providers := acme.Providers()
	if *jsonOut {
		type provider struct {
			Name     string   `json:"name"`
			Settings []string `json:"settings"`
		}
		doc := struct {
			FormatVersion string     `json:"format_version"`
			Providers     []provider `json:"providers"`
		}{FormatVersion: reconcile.FormatVersion}
		for _, p := range providers {
			doc.Providers = append(doc.Providers, provider{p.Name, p.Settings})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return e.errorf("writing output: %v", err)
		}
		return exitOK
	}
	var b strings.Builder
	fmt.Fprintln(&b, "DNS-01 providers, for dns01 { provider = \"NAME\"  config = { SETTING = \"…\" } }.")
	fmt.Fprintln(&b, "Each SETTING may also be given as SETTING_FILE, a file holding the value;")
	fmt.Fprintln(&b, "settings not in config are read from certctl's environment.")
	for _, p := range providers {
		fmt.Fprintf(&b, "\n%s\n", p.Name)
		for _, s := range p.Settings {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	fmt.Fprint(e.stdout, b.String())
	return exitOK
}
