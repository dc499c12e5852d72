//go:build unix

package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

const benchServerEnv = "CERTCTL_AGENT_BENCH_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" {
		runBenchServer()
		return
	}
	os.Exit(m.Run())
}

// benchConfig declares n agents, each with one target and one
// certificate whose key it keeps.
func benchConfig(dir string, n int) *spec.Config {
	cfg := &spec.Config{
		Dir:          dir,
		Teams:        map[string]*spec.Team{"platform": {Name: "platform"}},
		Owners:       map[string]*spec.Owner{"alice": {Name: "alice", Team: "platform"}},
		Policies:     map[string]*spec.Policy{"p": {Name: "p", Validity: 90 * 24 * time.Hour, KeyAlgorithm: "ecdsa-p256", Usages: []string{"server_auth"}}},
		Issuers:      map[string]*spec.Issuer{"ca": {Type: reconcile.IssuerTypeLocalCA, Name: "ca", KeyAlgorithm: "ecdsa-p256"}},
		Agents:       map[string]*spec.Agent{},
		Targets:      map[string]*spec.Target{},
		Certificates: map[string]*spec.Certificate{},
	}
	for i := range n {
		a, c := fmt.Sprintf("host%04d", i), fmt.Sprintf("site%04d", i)
		cfg.Agents[a] = &spec.Agent{Name: a, TokenSHA256: tokenHash(a)}
		cfg.Targets[a] = &spec.Target{Type: "file", Name: a, Agent: a, Dir: "/etc/nginx/tls", Validate: "nginx -t", Reload: "nginx -s reload"}
		cfg.Certificates[c] = &spec.Certificate{Name: c, Label: c, CommonName: c + ".example.internal", DNSNames: []string{c + ".example.internal"},
			Issuer: "ca", Policy: "p", Owner: "alice", Team: "platform", Targets: []string{a}, KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour}
	}
	return cfg
}

// runBenchServer is the child process of BenchmarkAgents1000Poll: the
// agents' API for 1,000 agents, each with an issued certificate (a
// synthetic view: the handlers never read the state for GETs). It prints
// its address, then answers "stats" lines on stdin with its CPU time,
// RSS, heap and goroutines, and exits when stdin closes.
func runBenchServer() {
	n := 1000
	cfg := benchConfig(os.TempDir(), n)
	snap := &state.Snapshot{Certificates: map[string]*state.Certificate{}}
	blob := make([]byte, 900)
	rand.Read(blob)
	pemText := "-----BEGIN CERTIFICATE-----\n" + base64.StdEncoding.EncodeToString(blob) + "\n-----END CERTIFICATE-----\n"
	for name, c := range cfg.Certificates {
		fp := fmt.Sprintf("%064x", len(name)*7919+int(name[len(name)-1]))
		fp = fmt.Sprintf("%x%s", name, fp)[:64]
		snap.Certificates[name] = &state.Certificate{Name: name, Fingerprint: fp, Serial: "1f", NotAfter: time.Now().Add(60 * 24 * time.Hour),
			KeyAgent: c.Targets[0], Status: state.StatusIssued}
	}
	srv, err := NewServer(ServerOptions{StatePath: func(*spec.Config) string { return filepath.Join(os.TempDir(), "unused.db") }})
	if err != nil {
		panic(err)
	}
	srv.observeState(cfg, snap, nil, func(name string) (*state.Certificate, error) {
		rec := *snap.Certificates[name]
		rec.CertPEM, rec.ChainPEM = []byte(pemText), []byte(pemText)
		return &rec, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go (&http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	fmt.Println(ln.Addr().String())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Printf("%d %d %d %d\n", cpu.Nanoseconds(), ru.Maxrss, ms.HeapInuse, runtime.NumGoroutine())
	}
}

type benchChild struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
}

func startBenchChild(b *testing.B) *benchChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, in: in, out: bufio.NewReader(out)}
	line, err := c.out.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	c.addr = strings.TrimSpace(line)
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	return c
}

type childStats struct {
	cpu                  time.Duration
	maxRSSKiB, heapBytes int64
	goroutines           int
}

func (c *benchChild) stats(b *testing.B) childStats {
	b.Helper()
	fmt.Fprintln(c.in, "stats")
	line, err := c.out.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var s childStats
	var cpu int64
	fmt.Sscan(line, &cpu, &s.maxRSSKiB, &s.heapBytes, &s.goroutines)
	s.cpu = time.Duration(cpu)
	return s
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkAgents1000Poll: 1,000 agents on their own keep-alive
// connections poll one server (a separate process) on loopback. Each
// iteration is one second in which every agent makes one conditional GET
// (If-None-Match, answered 304), spread over the second: 1,000 requests/s,
// thirty times what 1,000 agents in 30 s long polls make. Reported: the
// requests' p50/p99 latency, the server's CPU in cores during the polls
// and while the 1,000 agents sit in long polls, its peak RSS and heap.
// Run with -benchtime=10x.
func BenchmarkAgents1000Poll(b *testing.B) {
	const n = 1000
	child := startBenchChild(b)
	base := "http://" + child.addr + "/api/v1/agents/"
	tr := &http.Transport{MaxIdleConns: 2 * n, MaxIdleConnsPerHost: 2 * n, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	etags := make([]string, n)
	get := func(i int, etag, wait string) (int, string, error) {
		name := fmt.Sprintf("host%04d", i)
		req, _ := http.NewRequest("GET", base+name+"/deployments"+wait, nil)
		req.Header.Set("Authorization", "Bearer "+testToken(name))
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("ETag"), nil
	}
	// Every agent's first GET: its view, and a connection of its own.
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, etag, err := get(i, "", "")
			if err != nil || code != 200 {
				b.Errorf("agent %d: first GET = %d, %v", i, code, err)
			}
			etags[i] = etag
		})
	}
	wg.Wait()

	lat := make([][]time.Duration, n)
	var failures sync.Map
	before := child.stats(b)
	b.ResetTimer()
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			offset := time.Duration(i) * time.Second / n
			for round := range b.N {
				time.Sleep(time.Until(start.Add(time.Duration(round)*time.Second + offset)))
				t0 := time.Now()
				code, _, err := get(i, etags[i], "")
				lat[i] = append(lat[i], time.Since(t0))
				if err != nil || code != http.StatusNotModified {
					failures.Store(i, fmt.Sprintf("%d %v", code, err))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	after := child.stats(b)
	failures.Range(func(k, v any) bool { b.Errorf("agent %v: conditional GET = %v, want 304", k, v); return false })

	// Idle: every agent in a long poll.
	ctx, cancel := context.WithCancel(context.Background())
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("host%04d", i)
			req, _ := http.NewRequestWithContext(ctx, "GET", base+name+"/deployments?wait=60s", nil)
			req.Header.Set("Authorization", "Bearer "+testToken(name))
			req.Header.Set("If-None-Match", etags[i])
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	time.Sleep(time.Second) // all parked
	idle0 := child.stats(b)
	time.Sleep(3 * time.Second)
	idle1 := child.stats(b)
	cancel()
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	p99 := percentile(all, 0.99)
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(after.cpu-before.cpu)/float64(elapsed), "server-cores")
	b.ReportMetric(float64(idle1.cpu-idle0.cpu)/float64(3*time.Second), "idle-server-cores")
	b.ReportMetric(float64(idle1.maxRSSKiB)/1024, "server-maxrss-MiB")
	b.ReportMetric(float64(idle1.heapBytes)/(1<<20), "idle-heap-MiB")
	b.ReportMetric(float64(idle1.goroutines), "idle-goroutines")
	b.ReportMetric(0, "ns/op")
	if p99 > 50*time.Millisecond {
		b.Errorf("p99 latency %s, want < 50ms", p99)
	}
	if cores := float64(after.cpu-before.cpu) / float64(elapsed); cores >= 1 {
		b.Errorf("server used %.2f cores, want < 1", cores)
	}
}

// BenchmarkAgents1000CSRBurst: 1,000 agents submit a CSR at once to a
// server with a real state; every one must be stored (202) and then
// signed by an apply. Reported: the burst's wall time and p99 latency,
// how many batches (state opens) the writer needed, and the apply's time.
func BenchmarkAgents1000CSRBurst(b *testing.B) {
	const n = 1000
	b.Setenv("CERTCTL_STATE_KEY", strings.Repeat("0", 63)+"1")
	cfg := benchConfig(b.TempDir(), n)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range cfg.Certificates {
			if !yield(k) {
				return
			}
		}
	})
	bodies := make([]string, n)
	for i, name := range names {
		c := cfg.Certificates[name]
		subj, alg := reconcile.CSRSubjectOf(cfg, c)
		key, _ := pki.GenerateKey(alg)
		_, der, err := pki.NewCSR(key, subj)
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = `{"certificate":"` + name + `","request_id":"r1","csr_pem":` + jsonString(string(pki.CSRPEM(der))) + `}`
	}
	b.ResetTimer()
	var burst, p99, applyTime time.Duration
	var opens int
	for range b.N {
		b.StopTimer()
		statePath := filepath.Join(b.TempDir(), "state.db")
		var mu sync.Mutex
		srv, err := NewServer(ServerOptions{StatePath: func(*spec.Config) string { return statePath }, Trigger: func() { mu.Lock(); opens++; mu.Unlock() }})
		if err != nil {
			b.Fatal(err)
		}
		srv.observeState(cfg, &state.Snapshot{}, nil, func(string) (*state.Certificate, error) { return nil, state.ErrNotFound })
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		hs := &http.Server{Handler: srv.Handler()}
		go hs.Serve(ln)
		tr := &http.Transport{MaxIdleConnsPerHost: n}
		client := &http.Client{Transport: tr}
		lat := make([]time.Duration, n)
		codes := make([]int, n)
		var wg sync.WaitGroup
		b.StartTimer()
		start := time.Now()
		for i := range n {
			wg.Go(func() {
				agent := cfg.Certificates[names[i]].Targets[0]
				req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/api/v1/agents/"+agent+"/csr", strings.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+testToken(agent))
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				lat[i] = time.Since(t0)
				if err == nil {
					codes[i] = resp.StatusCode
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		burst = time.Since(start)
		b.StopTimer()
		hs.Close()
		srv.Close()
		tr.CloseIdleConnections()
		for i, code := range codes {
			if code != http.StatusAccepted {
				b.Fatalf("CSR %d = %d, want 202", i, code)
			}
		}
		p99 = percentile(lat, 0.99)

		// None lost: every CSR is in the state, and an apply signs them all.
		db, err := state.Open(statePath, state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		snap, err := db.Summary(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		pending := 0
		for _, rec := range snap.Certificates {
			if rec.CSR != nil {
				pending++
			}
		}
		if pending != n {
			b.Fatalf("%d CSRs in the state, want %d", pending, n)
		}
		t0 := time.Now()
		p := reconcile.Plan(cfg, snap, nil, time.Now())
		res, err := reconcile.Apply(context.Background(), p, cfg, reconcile.Deps{Store: db, Now: time.Now, Parallelism: 4})
		if err != nil || res.Created != n+1 { // and the CA
			b.Fatalf("Apply = %+v, %v; want %d created and the CA", res, err, n)
		}
		applyTime = time.Since(t0)
		snap, _ = db.Summary(context.Background())
		for name, rec := range snap.Certificates {
			if rec.KeyAgent == "" || rec.Fingerprint == "" || rec.CSR != nil {
				b.Fatalf("%s after apply: key agent %q, fingerprint %q, csr %v", name, rec.KeyAgent, rec.Fingerprint, rec.CSR)
			}
		}
		db.Close()
	}
	b.ReportMetric(float64(burst.Milliseconds()), "burst-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(opens)/float64(b.N), "writer-batches")
	b.ReportMetric(float64(applyTime.Milliseconds()), "apply-1000-ms")
	b.ReportMetric(0, "ns/op")
}
