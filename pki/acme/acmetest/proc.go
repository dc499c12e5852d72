package acmetest

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logBuffer collects a child's output; safe for the exec copier and readers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a started child process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    *logBuffer
	exited chan struct{} // closed when the process has exited
	once   sync.Once
}

// startProc starts bin and arranges for it to be stopped when t ends; on
// failure of t its output is logged.
func startProc(t testing.TB, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("acmetest: starting %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(p.log.String(), 8000))
		}
	})
	return p
}

// stop kills the process and waits for it; calling it again does nothing.
func (p *proc) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// waitReady polls ready every 25 ms until it succeeds, the process exits
// or 30 s pass.
func (p *proc) waitReady(t testing.TB, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("acmetest: %s exited before it was ready: %v\n%s", p.name, p.cmd.ProcessState, tail(p.log.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("acmetest: %s not ready after 30s: %v\n%s", p.name, err, tail(p.log.String(), 4000))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// freePort returns a loopback port that is free for TCP and, when udp is
// set, for UDP too. The port is released before returning, so another
// process could take it; the callers start their server right away.
func freePort(t testing.TB, udp bool) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("acmetest: free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !udp {
			l.Close()
			return port
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatalf("acmetest: no free port found")
	return 0
}

func dialTCP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
