package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/certctl/certctl/agent"
	"github.com/certctl/certctl/reconcile"
)

func cmdAgent(e *env, args []string) int {
	var server, name, tokenFile, dir, caFile, logFormat string
	var insecureHTTP bool
	fs := newFlags(e, "agent", " -server URL -name NAME -token-file FILE -dir DIR [-ca-file FILE]")
	fs.StringVar(&server, "server", "", "the `URL` of certctl watch (https://host:9180)")
	fs.StringVar(&name, "name", "", "this agent's `NAME` in the configuration (agent \"NAME\" {})")
	fs.StringVar(&tokenFile, "token-file", "", "read the agent's bearer token from `FILE`")
	fs.StringVar(&dir, "dir", "/var/lib/certctl-agent", "keep the agent's keys and record in `DIR`")
	fs.StringVar(&caFile, "ca-file", "", "trust the CA certificates in `FILE` (PEM) for an https:// server, instead of the system's")
	fs.StringVar(&logFormat, "log-format", "text", "log as `text` or json, on stderr")
	fs.BoolVar(&insecureHTTP, "insecure-http", false, "allow an http:// server beyond this host (the token then travels in clear)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.errorf("agent takes no arguments, got %q", fs.Arg(0))
	}
	if server == "" || name == "" || tokenFile == "" {
		return e.errorf("agent needs -server, -name and -token-file")
	}
	log, err := newLogger(e.stderr, logFormat)
	if err != nil {
		return e.errorf("%v", err)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return e.errorf("-token-file: %v", err)
	}
	token := strings.TrimSpace(string(b))
	clear(b)
	client := &http.Client{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return e.errorf("-ca-file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return e.errorf("-ca-file %s: no PEM certificate in it", caFile)
		}
		// The default transport's proxy settings and timeouts, with these roots.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		client.Transport = t
	}
	a, err := agent.New(agent.Options{Server: server, Name: name, Token: token, Dir: dir, Client: client, InsecureHTTP: insecureHTTP,
		Exec: reconcile.ShellExec(0), Logger: log})
	if err != nil {
		return e.errorf("%v", err)
	}
	if err := a.Run(e.ctx); err != nil {
		fmt.Fprintln(e.stderr, "certctl agent:", err)
		return exitError
	}
	return exitOK
}
