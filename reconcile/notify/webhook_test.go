package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
)

// webhookReceiver verifies what a receiver written from the docs would: the
// signature over the raw body (computed here independently of Sign), the
// body against the JSON Schema, and the headers.
func webhookReceiver(t *testing.T, secret string) *receiver {
	sch := compileEventSchema(t)
	return newReceiver(t, func(r *request) string {
		if why := checkPost(r); why != "" {
			return why
		}
		if secret != "" {
			m := hmac.New(sha256.New, []byte(secret))
			m.Write(r.Body)
			want := "sha256=" + hex.EncodeToString(m.Sum(nil))
			if !hmac.Equal([]byte(r.Header.Get("X-Certctl-Signature")), []byte(want)) {
				return "bad signature " + r.Header.Get("X-Certctl-Signature")
			}
		} else if r.Header.Get("X-Certctl-Signature") != "" {
			return "signature without a secret"
		}
		if err := validateEventJSON(t, sch, r.Body); err != nil {
			return "body does not match event.schema.json: " + err.Error()
		}
		var ev Event
		if err := decodeStrict(r.Body, &ev); err != nil {
			return "body: " + err.Error()
		}
		if got := r.Header.Get("X-Certctl-Event"); got != ev.Event {
			return "X-Certctl-Event " + got + ", body says " + ev.Event
		}
		if got := r.Header.Get("X-Certctl-Delivery"); got != ev.ID {
			return "X-Certctl-Delivery " + got + ", body says " + ev.ID
		}
		return ""
	})
}

func TestWebhook(t *testing.T) {
	rc := webhookReceiver(t, "hmac-secret")
	s := mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops",
		Attrs:   map[string]string{"url": rc.URL + "/hooks/certctl", "secret": "hmac-secret"},
		Headers: map[string]string{"X-Team": "platform"}})
	ev := testEvent(EventExpiring)
	if err := send(t, s, ev); err != nil {
		t.Fatalf("Send = %v", err)
	}
	r := rc.last(t)
	if r.Path != "/hooks/certctl" {
		t.Errorf("path %s, want /hooks/certctl", r.Path)
	}
	if got := r.Header.Get("X-Team"); got != "platform" {
		t.Errorf("custom header X-Team = %q, want platform", got)
	}
	var got Event
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := ev
	want.Version = EventVersion
	if !reflect.DeepEqual(got, want) {
		t.Errorf("received event\n%+v\nwant\n%+v", got, want)
	}
	if got := Sign([]byte("hmac-secret"), r.Body); got != r.Header.Get(HeaderSignature) {
		t.Errorf("Sign = %s, header %s", got, r.Header.Get(HeaderSignature))
	}
}

func TestWebhookUnsigned(t *testing.T) {
	rc := webhookReceiver(t, "")
	s := mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": rc.URL}})
	for _, e := range AllEvents() {
		if err := send(t, s, testEvent(e)); err != nil {
			t.Errorf("Send(%s) = %v", e, err)
		}
	}
}

// A receiver with a different secret rejects the delivery, and Send says so.
func TestWebhookWrongSecret(t *testing.T) {
	rc := newReceiver(t, nil)
	rc.check = func(r *request) string {
		if r.Header.Get(HeaderSignature) != Sign([]byte("receiver-secret"), r.Body) {
			return "signature mismatch"
		}
		return ""
	}
	rc.quiet = true // the rejection is the point of this test
	s := mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": rc.URL, "secret": "sender-secret"}})
	err := send(t, s, testEvent(EventFailed))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || !strings.Contains(se.Body, "signature mismatch") {
		t.Fatalf("Send = %v, want a 400 StatusError mentioning the mismatch", err)
	}
}

func TestWebhookInvalidEvent(t *testing.T) {
	rc := newReceiver(t, nil)
	s := mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": rc.URL}})
	ev := testEvent(EventIssued)
	ev.Event = "exploded"
	if err := send(t, s, ev); err == nil || !strings.Contains(err.Error(), "invalid event") {
		t.Errorf("Send(bad event) = %v, want an invalid event error", err)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("receiver got %d requests for an invalid event, want 0", n)
	}
}

func TestWebhookRedirectIsAnError(t *testing.T) {
	target := newReceiver(t, nil)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	s := mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": redirect.URL, "secret": "x"}})
	err := send(t, s, testEvent(EventIssued))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("Send = %v, want a 307 StatusError", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

// HTTPS with a private CA given as ca_bundle; without it the server is not
// trusted.
func TestWebhookCABundle(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted handshake is expected
	srv.StartTLS()
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	s := mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": srv.URL, "ca_bundle": caPEM}})
	if err := send(t, s, testEvent(EventIssued)); err != nil {
		t.Errorf("Send with ca_bundle = %v", err)
	}
	s = mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": srv.URL}})
	if err := send(t, s, testEvent(EventIssued)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Send without ca_bundle = %v, want a certificate error", err)
	}
}

func TestWebhookTimeoutAndCancel(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)

	s := mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": srv.URL, "timeout": "200ms"}})
	start := time.Now()
	err := s.Send(context.Background(), testEvent(EventIssued))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send to a hung receiver = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v with timeout 200ms", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	s = mustSender(t, &spec.Notifier{Type: "webhook", Name: "ops", Attrs: map[string]string{"url": srv.URL}})
	if err := s.Send(ctx, testEvent(EventIssued)); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled ctx = %v, want Canceled", err)
	}
}
