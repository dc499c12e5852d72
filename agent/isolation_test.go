package agent

import (
	"context"
	"crypto"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/state"
)

// csrPEM makes a CSR for a new key of alg with the given names.
func csrPEM(t testing.TB, alg, cn string, dns ...string) string {
	t.Helper()
	key, err := pki.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	_, der, err := pki.NewCSR(key, pki.CSRSubject{CommonName: cn, DNSNames: dns})
	if err != nil {
		t.Fatal(err)
	}
	return string(pki.CSRPEM(der))
}

func (ts *testServer) serial(t testing.TB) uint64 {
	t.Helper()
	db, err := state.Open(ts.statePath, state.Options{Timeout: 10 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, err := db.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap.Serial
}

// Every isolation rule: a wrong or missing token, another agent's name
// or certificate or target, an oversized or malformed body each get a
// clear 4xx, nothing in the state changes, and no answer carries another
// agent's data.
func TestIsolation(t *testing.T) {
	ts := startServer(t, baseHCL()+agentTargetsHCL+`
target "file" "t3" {
  agent = agent.web3
  dir   = "tls"
}
`+certHCL("www", "t1")+certHCL("api", "t2")+certHCL("solo", "t3"))
	startAgent(t, ts, "web1", nil)
	startAgent(t, ts, "web2", nil)
	waitFor(t, "both deployed", func() bool {
		return deployedOn(ts.record(t, "www"), "t1") && deployedOn(ts.record(t, "api"), "t2")
	})
	time.Sleep(300 * time.Millisecond) // the agents' last reports settle
	before := ts.serial(t)
	apiBefore := ts.record(t, "api")

	web1 := "Bearer " + testToken("web1")
	big := `{"certificate":"www","request_id":"x","csr_pem":"` + strings.Repeat("A", MaxCSRBody) + `"}`
	goodWWW := csrPEM(t, "ecdsa-p256", "www.example.internal")
	tests := []struct {
		name, method, path, auth, ctype, body string
		want                                  int
		says                                  string
	}{
		{"no token", "GET", "/web1/deployments", "", "", "", 401, "missing bearer token"},
		{"not bearer", "GET", "/web1/deployments", "Basic d2ViMTp4", "", "", 401, "missing bearer token"},
		{"wrong token", "GET", "/web1/deployments", "Bearer nope", "", "", 401, "invalid token"},
		{"another agent's token", "GET", "/web2/deployments", web1, "", "", 403, `agent "web1"'s`},
		{"unknown agent", "GET", "/web9/deployments", "Bearer nope", "", "", 401, "invalid token"},
		{"unknown agent, valid token", "GET", "/web9/deployments", web1, "", "", 403, "cannot act as agent"},
		{"bad wait", "GET", "/web1/deployments?wait=forever", web1, "", "", 400, "wait="},
		{"wait too long", "GET", "/web1/deployments?wait=1h", web1, "", "", 400, "wait="},
		{"wrong method", "PUT", "/web1/deployments", web1, "", "", 405, ""},
		{"unknown endpoint", "GET", "/web1/keys", web1, "", "", 404, "no such endpoint"},
		{"csr for another agent's certificate", "POST", "/web1/csr", web1, "", `{"certificate":"api","request_id":"r1","csr_pem":` + jsonString(csrPEM(t, "ecdsa-p256", "api.example.internal")) + `}`, 404, `keeps the key of no certificate "api"`},
		{"csr with another agent's token", "POST", "/web2/csr", web1, "", `{"certificate":"api","request_id":"r1","csr_pem":` + jsonString(goodWWW) + `}`, 403, "cannot act"},
		{"csr names mismatch", "POST", "/web1/csr", web1, "", `{"certificate":"www","request_id":"r1","csr_pem":` + jsonString(csrPEM(t, "ecdsa-p256", "www.example.internal", "evil.example.com")) + `}`, 422, "CSR DNS names are [evil.example.com, www.example.internal], the certificate specifies [www.example.internal]"},
		{"csr common name mismatch", "POST", "/web1/csr", web1, "", `{"certificate":"www","request_id":"r1","csr_pem":` + jsonString(csrPEM(t, "ecdsa-p256", "api.example.internal")) + `}`, 422, "CSR common name"},
		{"csr key type mismatch", "POST", "/web1/csr", web1, "", `{"certificate":"www","request_id":"r1","csr_pem":` + jsonString(csrPEM(t, "rsa-2048", "www.example.internal")) + `}`, 422, "CSR key is rsa-2048, the certificate specifies ecdsa-p256"},
		{"csr not PEM", "POST", "/web1/csr", web1, "", `{"certificate":"www","request_id":"r1","csr_pem":"hello"}`, 422, "CSR is not PEM"},
		{"csr malformed JSON", "POST", "/web1/csr", web1, "", `{"certificate":`, 400, "malformed JSON"},
		{"csr unknown field", "POST", "/web1/csr", web1, "", `{"certificate":"www","request_id":"r1","csr_pem":"x","key_pem":"y"}`, 400, "unknown field"},
		{"csr trailing data", "POST", "/web1/csr", web1, "", `{"certificate":"www","request_id":"r1","csr_pem":"x"} {}`, 400, "data after the object"},
		{"csr bad request id", "POST", "/web1/csr", web1, "", `{"certificate":"www","request_id":"../x","csr_pem":"x"}`, 400, "request_id"},
		{"csr oversized", "POST", "/web1/csr", web1, "", big, 413, "body larger than"},
		{"csr wrong content type", "POST", "/web1/csr", web1, "text/plain", `{}`, 415, "Content-Type"},
		{"report on another agent's target", "POST", "/web1/reports", web1, "", `{"reports":[{"certificate":"api","target":"t2","error":"x"}]}`, 404, `agent "web1" has no target "t2"`},
		{"report mixing own and other targets", "POST", "/web1/reports", web1, "", `{"reports":[{"certificate":"www","target":"t1","error":"mine"},{"certificate":"api","target":"t2","error":"theirs"}]}`, 404, "nothing was recorded"},
		{"report another agent's certificate on own target", "POST", "/web1/reports", web1, "", `{"reports":[{"certificate":"api","target":"t1","error":"x"}]}`, 404, "no target"},
		{"report bad digest", "POST", "/web1/reports", web1, "", `{"reports":[{"certificate":"www","target":"t1","fingerprint":"zz","files_digest":"zz"}]}`, 400, "64 hex digits"},
		{"report empty", "POST", "/web1/reports", web1, "", `{"reports":[]}`, 400, "reports is empty"},
		{"report not an object", "POST", "/web1/reports", web1, "", `[1,2]`, 400, "malformed JSON"},
		{"report oversized", "POST", "/web1/reports", web1, "", `{"reports":[` + strings.Repeat(`{"certificate":"www","target":"t1","error":"x"},`, MaxReportBody/40) + `]}`, 413, "body larger than"},
		{"report with another agent's token", "POST", "/web2/reports", web1, "", `{"reports":[{"certificate":"api","target":"t2","error":"x"}]}`, 403, "cannot act"},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.url+"/api/v1/agents"+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			} else if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var eb ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatalf("%s %s body %q is not an error object: %v", tt.method, tt.path, body, err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
			}
			if !strings.Contains(eb.Error, tt.says) {
				t.Errorf("%s %s body = %s, want it to say %q", tt.method, tt.path, body, tt.says)
			}
			if strings.Contains(string(body), "BEGIN") || strings.Contains(string(body), "api.example.internal") && tt.path != "/web1/csr" {
				t.Errorf("%s %s body carries certificate data: %s", tt.method, tt.path, body)
			}
			if strings.Contains(string(body), testToken("web1")) {
				t.Errorf("the answer echoes the token")
			}
		})
	}
	if got := ts.serial(t); got != before {
		t.Errorf("state serial %d -> %d: a refused request changed the state", before, got)
	}
	if after := ts.record(t, "api"); after.Deployments["t2"] != apiBefore.Deployments["t2"] || after.CSR != nil {
		t.Errorf("api's record changed: %+v -> %+v", apiBefore.Deployments["t2"], after.Deployments["t2"])
	}

	// The valid agent sees its own view, and none of web2's.
	doc := getDoc(t, ts, "web1")
	for _, d := range doc.Deployments {
		if d.Target == "t2" || d.Certificate == "api" {
			t.Errorf("web1's view has %s/%s", d.Certificate, d.Target)
		}
	}
	// A good CSR from the right agent (web3, which no agent process
	// serves here) is accepted (202), stored, and signed by the pass it
	// triggers.
	goodSolo := csrPEM(t, "ecdsa-p256", "solo.example.internal")
	req, _ := http.NewRequest("POST", ts.url+"/api/v1/agents/web3/csr", strings.NewReader(`{"certificate":"solo","request_id":"r1","csr_pem":`+jsonString(goodSolo)+`}`))
	req.Header.Set("Authorization", "Bearer "+testToken("web3"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a good CSR = %d, want 202", resp.StatusCode)
	}
	csr, err := pki.ParseCSRPEM([]byte(goodSolo))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the accepted CSR signed", func() bool {
		rec := ts.record(t, "solo")
		if rec == nil || rec.CertPEM == nil {
			return false
		}
		cert, err := pki.ParseCertificatePEM(rec.CertPEM)
		return err == nil && rec.CSR == nil && rec.KeyAgent == "web3" && cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey)
	})
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Long poll: a matching ETag waits for ?wait= and gets 304; a request
// before the first pass gets 503.
func TestLongPoll(t *testing.T) {
	ts := startServer(t, baseHCL()+agentTargetsHCL+certHCL("www", "t1"))
	client := &http.Client{}
	get := func(etag, wait string) (*http.Response, time.Duration) {
		req, _ := http.NewRequest("GET", ts.url+"/api/v1/agents/web1/deployments"+wait, nil)
		req.Header.Set("Authorization", "Bearer "+testToken("web1"))
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, time.Since(start)
	}
	resp, _ := get("", "")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" {
		t.Fatalf("first GET = %d, ETag %q", resp.StatusCode, etag)
	}
	resp, took := get(etag, "?wait=300ms")
	if resp.StatusCode != http.StatusNotModified || took < 250*time.Millisecond {
		t.Errorf("GET If-None-Match wait=300ms = %d after %s, want 304 after the wait", resp.StatusCode, took)
	}
	resp, took = get(etag, "")
	if resp.StatusCode != http.StatusNotModified || took > 200*time.Millisecond {
		t.Errorf("GET If-None-Match without wait = %d after %s, want 304 at once", resp.StatusCode, took)
	}
	// A change wakes the waiter: a CSR for www is stored, and the next pass
	// signs it, which changes web1's view.
	done := make(chan int, 1)
	go func() { r, _ := get(etag, "?wait=20s"); done <- r.StatusCode }()
	time.Sleep(100 * time.Millisecond)
	a, _ := New(Options{Server: ts.url, Name: "web1", Token: testToken("web1"), Dir: t.TempDir()})
	doc, _, err := a.poll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	a.Sync(context.Background(), doc)
	select {
	case code := <-done:
		if code != 200 {
			t.Errorf("woken long poll = %d, want 200", code)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("the long poll was not woken by a change")
	}

	// Close (the HTTP server shutting down) ends long polls at once.
	resp, _ = get("", "")
	etag = resp.Header.Get("ETag")
	go func() { r, _ := get(etag, "?wait=20s"); done <- r.StatusCode }()
	time.Sleep(100 * time.Millisecond)
	ts.srv.Close()
	select {
	case code := <-done:
		if code != http.StatusNotModified {
			t.Errorf("long poll at Close = %d, want 304", code)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Close did not end the long poll")
	}

	// Before the first pass: 503 with Retry-After.
	s, _ := NewServer(ServerOptions{StatePath: ts.srv.opts.StatePath})
	defer s.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/agents/web1/deployments", nil)
	req.Header.Set("Authorization", "Bearer "+testToken("web1"))
	r, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Errorf("before the first pass = %d (Retry-After %q), want 503 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
	}
}
