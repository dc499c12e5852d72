package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
)

var (
	testOccurred = time.Date(2026, 4, 17, 12, 0, 0, 0, time.UTC)
	testNotAfter = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

// testEvent is a valid event of the given kind for certificate "www".
func testEvent(event string) Event {
	threshold := time.Duration(0)
	details := map[string]string{}
	if event == EventExpiring {
		threshold = 14 * 24 * time.Hour
		details["threshold"] = "14d"
	}
	return Event{
		ID:       "n-000042",
		Event:    event,
		Severity: Severity(event, threshold),
		Certificate: Certificate{
			Name:       "www",
			CommonName: "www.example.com",
			DNSNames:   []string{"www.example.com", "example.com"},
			Serial:     "4f2a9c",
			NotAfter:   testNotAfter,
			Issuer:     "internal",
			Owner:      "alice",
			Team:       "platform",
		},
		Message:    "certificate www expires in 14d",
		OccurredAt: testOccurred,
		Details:    details,
	}
}

// mustSender builds a Sender from a notifier block, failing the test on a
// configuration error.
func mustSender(t *testing.T, n *spec.Notifier) Sender {
	t.Helper()
	s, err := FromSpec(n)
	if err != nil {
		t.Fatalf("FromSpec(%s %s): %v", n.Type, n.Name, err)
	}
	return s
}

// request is one request a receiver saw.
type request struct {
	Method string
	Path   string // escaped, as sent
	Query  string
	Header http.Header
	Body   []byte
}

// receiver is an HTTP service on loopback. check returns "" when a request
// has the shape the service documents, or the reason it has not; a bad
// request is answered 400 with the reason and reported as a test error.
// The first failFirst requests are answered 503 whatever their shape.
type receiver struct {
	*httptest.Server
	t         *testing.T
	check     func(r *request) string
	status    int    // for good requests; default 200
	reply     string // body for good requests
	failFirst int
	failBody  string
	quiet     bool // a rejected request is expected, not a test error

	mu   sync.Mutex
	reqs []*request
}

func newReceiver(t *testing.T, check func(r *request) string) *receiver {
	rc := &receiver{t: t, check: check, status: http.StatusOK, reply: "ok", failBody: "temporarily unavailable"}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := &request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, req)
	n := len(rc.reqs)
	rc.mu.Unlock()
	if n <= rc.failFirst {
		http.Error(w, rc.failBody, http.StatusServiceUnavailable)
		return
	}
	if rc.check != nil {
		if why := rc.check(req); why != "" {
			if !rc.quiet {
				rc.t.Errorf("receiver rejected request: %s\nbody: %s", why, body)
			}
			http.Error(w, why, http.StatusBadRequest)
			return
		}
	}
	w.WriteHeader(rc.status)
	io.WriteString(w, rc.reply)
}

func (rc *receiver) requests() []*request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*request(nil), rc.reqs...)
}

func (rc *receiver) last(t *testing.T) *request {
	t.Helper()
	reqs := rc.requests()
	if len(reqs) == 0 {
		t.Fatal("receiver got no request")
	}
	return reqs[len(reqs)-1]
}

// decodeStrict decodes body into v, rejecting fields v does not declare: a
// misspelt field name is an error, not an ignored value.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// checkPost checks what every HTTP sender sends.
func checkPost(r *request) string {
	if r.Method != http.MethodPost {
		return "method " + r.Method + ", want POST"
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return "Content-Type " + ct + ", want application/json"
	}
	return ""
}

// assertNoSecrets fails if text contains any of the secrets, or a
// recognisable piece of one.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains secret %q:\n%s", what, s, text)
		}
		if len(s) >= 16 && strings.Contains(text, s[:12]) {
			t.Errorf("%s contains the start of secret %q:\n%s", what, s, text)
		}
	}
}

func send(t *testing.T, s Sender, ev Event) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Send(ctx, ev)
}
