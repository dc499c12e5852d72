package main

import (
	"crypto/tls"
	"net"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["tlsserve"] = cmdTLSServe
}

// tlsserve VAR CERT KEY [SNI CERT KEY]...: starts a TLS server on
// 127.0.0.1 that presents CERT (with the rest of its file as the chain),
// or the pair named for the server name a client asks for, and sets VAR to
// its host:port. It stops when the script ends.
func cmdTLSServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || (len(args)-3)%3 != 0 {
		ts.Fatalf("usage: tlsserve VAR CERT KEY [SNI CERT KEY]...")
	}
	load := func(cert, key string) tls.Certificate {
		pair, err := tls.X509KeyPair([]byte(ts.ReadFile(cert)), []byte(ts.ReadFile(key)))
		ts.Check(err)
		return pair
	}
	def := load(args[1], args[2])
	byName := map[string]*tls.Certificate{}
	for i := 3; i < len(args); i += 3 {
		p := load(args[i+1], args[i+2])
		byName[args[i]] = &p
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if p := byName[hi.ServerName]; p != nil {
				return p, nil
			}
			return &def, nil
		},
	})
	ts.Check(err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				_ = c.(*tls.Conn).Handshake()
				_ = c.Close()
			}(c)
		}
	}()
	ts.Setenv(args[0], ln.Addr().String())
	ts.Defer(func() { _ = ln.Close() })
}
