package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for scripts that run certctl watch in the background.
func init() {
	scriptCmds["freeport"] = cmdFreePort
	scriptCmds["waitfile"] = cmdWaitFile
	scriptCmds["httpget"] = cmdHTTPGet
	scriptCmds["promcheck"] = cmdPromCheck
}

// promcheck METRICS STATUS: METRICS parses as the Prometheus text format
// (expfmt), and its certctl_certificates, certctl_notifications and
// certctl_notification_dead_total agree with STATUS, the output of
// certctl status -json.
func cmdPromCheck(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: promcheck METRICS STATUS")
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(ts.ReadFile(args[0])))
	if err != nil {
		ts.Fatalf("parsing %s: %v", args[0], err)
	}
	var status struct {
		Certificates, Notifications struct {
			ByStatus map[string]float64 `json:"by_status"`
		}
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &status))
	byStatus := func(name string) map[string]float64 {
		out := map[string]float64{}
		f := fams[name]
		if f == nil {
			ts.Fatalf("%s: no %s", args[0], name)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	for name, want := range map[string]map[string]float64{
		"certctl_certificates":  status.Certificates.ByStatus,
		"certctl_notifications": status.Notifications.ByStatus,
	} {
		if got := byStatus(name); !maps.Equal(got, want) {
			ts.Fatalf("%s = %v, certctl status says %v", name, got, want)
		}
	}
	dead := fams["certctl_notification_dead_total"]
	if dead == nil || len(dead.GetMetric()) != 1 || dead.GetMetric()[0].GetGauge().GetValue() != status.Notifications.ByStatus["dead"] {
		ts.Fatalf("certctl_notification_dead_total = %v, certctl status says %v dead", dead, status.Notifications.ByStatus["dead"])
	}
}

// freeport VAR: sets VAR to a TCP port free on 127.0.0.1 now.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ts.Check(ln.Close())
	ts.Setenv(args[0], strconv.Itoa(port))
}

// waitfile FILE: waits up to 30 s for FILE to exist; with !, for it to
// be gone.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := os.Stat(path)
		if (err == nil) != neg {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfile %s: still %v after 30 s", args[0], map[bool]string{true: "there", false: "missing"}[neg])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpget [-status N] [-contains S] [-cacert FILE] URL FILE: GETs URL
// until it answers with status N (200) and, with -contains, a body
// containing S, for up to 30 s, and writes the body to FILE. -cacert
// trusts the PEM certificates of FILE for https.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("httpget", flag.ContinueOnError)
	status := fs.Int("status", http.StatusOK, "")
	contains := fs.String("contains", "", "")
	cacert := fs.String("cacert", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 || neg {
		ts.Fatalf("usage: httpget [-status N] [-contains S] [-cacert FILE] URL FILE")
	}
	url, file := fs.Arg(0), fs.Arg(1)
	client := &http.Client{Timeout: 5 * time.Second}
	if *cacert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ts.ReadFile(*cacert))) {
			ts.Fatalf("httpget: no certificate in %s", *cacert)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == *status && containsStr(string(body), *contains) {
				ts.Check(os.WriteFile(ts.MkAbs(file), body, 0o644))
				return
			}
			last = fmt.Sprintf("status %d, body %q", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			ts.Fatalf("httpget %s: no status %d containing %q within 30 s; last: %s", url, *status, *contains, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsStr(s, sub string) bool {
	return strings.Contains(s, sub)
}
