package acmetest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BIND is a running ISC BIND 9 named: the primary, authoritative server of
// one zone, accepting dynamic updates (RFC 2136) signed with a TSIG key,
// as an operator's own DNS server does. Point pebble at it
// (Options.DNSServer) to validate dns-01 challenges against it.
type BIND struct {
	// Addr is "127.0.0.1:PORT", UDP and TCP.
	Addr string
	// Zone is the zone it serves, "example.test."; every name in it
	// resolves to 127.0.0.1.
	Zone string
	// TSIGKey, TSIGSecret (base64) and TSIGAlgorithm sign the updates.
	TSIGKey, TSIGSecret, TSIGAlgorithm string

	proc *proc
}

// StartBIND starts named on a free loopback port with a fresh zone and
// key. It is stopped when t ends. named comes from the bind9 package
// (.ci/tools installs it); without it the test is skipped, or fails under
// CI=true.
func StartBIND(t testing.TB) *BIND {
	t.Helper()
	bin := namedBinary(t)
	dir := t.TempDir()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	b := &BIND{
		Addr:          loopback(freePort(t, true)),
		Zone:          "example.test.",
		TSIGKey:       "certctl-test.",
		TSIGSecret:    base64.StdEncoding.EncodeToString(secret),
		TSIGAlgorithm: dns.HmacSHA256,
	}
	_, port, _ := net.SplitHostPort(b.Addr)
	conf := fmt.Sprintf(`options {
	directory %[1]q;
	pid-file %[2]q;
	session-keyfile %[3]q;
	listen-on port %[4]s { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
	allow-query { any; };
};
controls { };
key %[5]q {
	algorithm hmac-sha256;
	secret %[6]q;
};
zone "example.test" {
	type primary;
	file "example.test.zone";
	allow-update { key %[5]q; };
};
`, dir, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"), port, b.TSIGKey, b.TSIGSecret)
	zone := `$TTL 60
@	IN SOA	ns.example.test. hostmaster.example.test. 1 60 60 600 60
@	IN NS	ns.example.test.
@	IN A	127.0.0.1
*	IN A	127.0.0.1
`
	for name, body := range map[string]string{"named.conf": conf, "example.test.zone": zone} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// -g: in the foreground, logging to stderr; -n 1: one worker thread.
	b.proc = startProc(t, "named", os.Environ(), bin, "-g", "-n", "1", "-c", filepath.Join(dir, "named.conf"))
	b.proc.waitReady(t, func() error {
		_, err := b.Query(b.Zone, dns.TypeSOA)
		return err
	})
	return b
}

// Stop stops named now; it is also stopped when the test ends.
func (b *BIND) Stop() { b.proc.stop() }

// Logs returns what named has written.
func (b *BIND) Logs() string { return b.proc.log.String() }

// Query asks named for the records of type typ at name, over TCP.
func (b *BIND) Query(name string, typ uint16) ([]dns.RR, error) {
	m := new(dns.Msg).SetQuestion(dns.Fqdn(name), typ)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, b.Addr)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("named answered %s for %s %s", dns.RcodeToString[r.Rcode], name, dns.TypeToString[typ])
	}
	return r.Answer, nil
}

// namedBinary finds named: on PATH, or in /usr/sbin (not on every PATH).
func namedBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("named"); err == nil {
		return p
	}
	if fi, err := os.Stat("/usr/sbin/named"); err == nil && fi.Mode()&0o111 != 0 {
		return "/usr/sbin/named"
	}
	unavailable(t, "named (ISC BIND 9) is not installed: run .ci/tools, or apt-get install bind9")
	return ""
}
