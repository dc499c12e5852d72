package agent

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// recorder keeps the JSON bodies an agent sends and receives, by
// schema name.
type recorder struct {
	mu     sync.Mutex
	bodies map[string][][]byte
	next   http.RoundTripper
}

func (r *recorder) add(kind string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies[kind] = append(r.bodies[kind], b)
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		switch {
		case strings.HasSuffix(path, "/csr"):
			r.add("agent-csr", b)
		case strings.HasSuffix(path, "/reports"):
			r.add("agent-reports", b)
		}
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	switch {
	case resp.StatusCode >= 400:
		r.add("agent-error", b)
	case resp.StatusCode == 200 && strings.HasSuffix(path, "/deployments"):
		r.add("agent-deployments", b)
	}
	return resp, nil
}

func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../schemas/" + name + ".schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s.schema.json is not JSON: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name+".schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(name + ".schema.json")
	if err != nil {
		t.Fatalf("compiling %s.schema.json: %v", name, err)
	}
	return sch
}

// The bodies of a real exchange (a CSR request, a CSR, a certificate,
// reports of success and failure, a refusal) match schemas/agent-*.
func TestProtocolMatchesSchemas(t *testing.T) {
	hcl := baseHCL() + agentTargetsHCL + `
target "file" "bad" {
  agent    = agent.web1
  dir      = "bad"
  validate = "false"
}
` + certHCL("www", "t1") + certHCL("broken", "bad") + certHCL("shared", "t1", "t2")
	ts := startServer(t, hcl)
	rec := &recorder{bodies: map[string][][]byte{}, next: http.DefaultTransport}
	a, err := New(Options{Server: ts.url, Name: "web1", Token: testToken("web1"), Dir: t.TempDir(), Client: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor(t, "www and broken deployed or failed", func() bool {
		doc, _, err := a.poll(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		a.Sync(ctx, doc)
		w, b := ts.record(t, "www"), ts.record(t, "broken")
		return deployedOn(w, "t1") && b != nil && b.Deployments["bad"].LastError != ""
	})
	a.poll(ctx, "") // the view with the reports recorded
	bad := *a
	bad.opts.Token = "wrong"
	bad.poll(ctx, "")
	time.Sleep(10 * time.Millisecond)

	for _, name := range []string{"agent-deployments", "agent-csr", "agent-reports", "agent-error"} {
		sch := compileSchema(t, name)
		if len(rec.bodies[name]) == 0 {
			t.Errorf("no %s body was exchanged", name)
		}
		for _, b := range rec.bodies[name] {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s body is not JSON: %v\n%s", name, err, b)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("%s body does not match its schema: %v\n%s", name, err, b)
			}
		}
	}
	var sawCSR, sawCert bool
	for _, b := range rec.bodies["agent-deployments"] {
		sawCSR = sawCSR || bytes.Contains(b, []byte(`"csr":{`))
		sawCert = sawCert || bytes.Contains(b, []byte(`"cert_pem"`))
		if bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("a deployments body carries a private key")
		}
	}
	if !sawCSR || !sawCert {
		t.Errorf("the exchange lacked a CSR request (%v) or a certificate (%v)", sawCSR, sawCert)
	}
}
