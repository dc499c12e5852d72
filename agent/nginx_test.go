package agent

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nginxBinary finds nginx (the Debian package puts it in /usr/sbin); the
// test is skipped without it, except under CI=true, where it fails.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	msg := "nginx is not installed (apt-get install nginx-light)"
	if ci, _ := os.LookupEnv("CI"); ci == "true" || ci == "1" {
		t.Fatalf("%s (CI=true: not skipping)", msg)
	}
	t.Skip(msg)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// servedSerial asks nginx, with openssl s_client, for the serial of the
// certificate it serves ("" when it cannot tell).
func servedSerial(t *testing.T, port int) string {
	t.Helper()
	sc := exec.Command("openssl", "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-servername", "www.example.internal")
	sc.Stdin = strings.NewReader("")
	out, _ := sc.Output()
	x := exec.Command("openssl", "x509", "-noout", "-serial")
	x.Stdin = bytes.NewReader(out)
	s, err := x.Output()
	if err != nil {
		return ""
	}
	return normSerial(strings.TrimPrefix(strings.TrimSpace(string(s)), "serial="))
}

func normSerial(s string) string {
	s = strings.TrimLeft(strings.ToLower(s), "0")
	if s == "" {
		return "0"
	}
	return s
}

// A real nginx on loopback serves what the agent deployed: the agent's
// key and the server's certificate, then, after a renewal, the new serial
// (validate with `nginx -t`, reload with `nginx -s reload`).
func TestNginxServesTheAgentsCertificate(t *testing.T) {
	ngx := nginxBinary(t)
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is required")
	}
	host := t.TempDir()
	tls := filepath.Join(host, "tls")
	if err := os.MkdirAll(filepath.Join(host, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(tls, 0o755); err != nil {
		t.Fatal(err)
	}
	// The host already serves a placeholder, as a host does before
	// certctl manages it.
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-subj", "/CN=placeholder", "-days", "1", "-keyout", filepath.Join(tls, "www.key"), "-out", filepath.Join(tls, "www.fullchain.crt")).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v: %s", err, out)
	}
	port := freePort(t)
	conf := filepath.Join(host, "nginx.conf")
	tmp := filepath.Join(host, "tmp")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
  access_log off;
  client_body_temp_path %[2]s;
  proxy_temp_path %[2]s;
  fastcgi_temp_path %[2]s;
  uwsgi_temp_path %[2]s;
  scgi_temp_path %[2]s;
  server {
    listen 127.0.0.1:%[3]d ssl;
    ssl_certificate %[4]s/www.fullchain.crt;
    ssl_certificate_key %[4]s/www.key;
    return 200 "ok\n";
  }
}
`, host, tmp, port, tls)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ngx, "-c", conf, "-p", host)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitFor(t, "nginx serving the placeholder", func() bool { return servedSerial(t, port) != "" })
	placeholder := servedSerial(t, port)

	nginxArgs := fmt.Sprintf("%s -c %s -p %s", ngx, conf, host)
	ts := startServer(t, baseHCL()+fmt.Sprintf(`
target "file" "web1_nginx" {
  agent    = agent.web1
  dir      = %q
  validate = "%s -t -q"
  reload   = "%s -s reload"
}
`, tls, nginxArgs, nginxArgs)+certHCL("www", "web1_nginx"))
	startAgent(t, ts, "web1", nil)

	waitFor(t, "www deployed on web1", func() bool { return deployedOn(ts.record(t, "www"), "web1_nginx") })
	first := ts.record(t, "www")
	waitFor(t, "nginx serving the deployed certificate", func() bool { return servedSerial(t, port) == normSerial(first.Serial) })
	if normSerial(first.Serial) == placeholder {
		t.Fatal("the deployed serial equals the placeholder's")
	}

	ts.offset.Store(int64(80 * 24 * time.Hour))
	ts.watcher.Trigger()
	waitFor(t, "www renewed and deployed", func() bool {
		rec := ts.record(t, "www")
		return rec.Serial != first.Serial && deployedOn(rec, "web1_nginx")
	})
	renewed := ts.record(t, "www")
	waitFor(t, "nginx serving the renewed certificate", func() bool { return servedSerial(t, port) == normSerial(renewed.Serial) })
	if cmd.ProcessState != nil {
		t.Fatalf("nginx exited: %s", stderr.String())
	}
}
