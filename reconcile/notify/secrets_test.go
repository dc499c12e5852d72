package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/certctl/certctl/spec"
)

// A receiver that fails the first k requests: each failed Send returns an
// error that names the notifier, the HTTP status and the receiver's words,
// and unwraps to a *StatusError; then delivery succeeds. The retry loop is
// the caller's.
func TestFailFirstK(t *testing.T) {
	const k = 3
	cases := []struct {
		typ   string
		check func(*request) string
		attrs func(u string) map[string]string
	}{
		{"webhook", nil, func(u string) map[string]string { return map[string]string{"url": u, "secret": "s3cr3t-hmac"} }},
		{"slack", checkSlack, func(u string) map[string]string { return map[string]string{"url": u + "/services/T1/B1/tok"} }},
		{"teams", checkTeams, func(u string) map[string]string { return map[string]string{"url": u + "/invoke?sig=tok"} }},
		{"pagerduty", checkPagerDuty, func(u string) map[string]string { return map[string]string{"url": u, "routing_key": pdKey} }},
		{"opsgenie", checkOpsgenie, func(u string) map[string]string { return map[string]string{"url": u + "/v2/alerts", "api_key": ogKey} }},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			rc := newReceiver(t, tc.check)
			rc.failFirst = k
			rc.failBody = "upstream   overloaded,\n try later"
			s := mustSender(t, &spec.Notifier{Type: tc.typ, Name: "n1", Attrs: tc.attrs(rc.URL)})
			ev := testEvent(EventFailed)
			for i := 1; i <= k; i++ {
				err := send(t, s, ev)
				if err == nil {
					t.Fatalf("attempt %d: Send = nil while the receiver fails", i)
				}
				want := fmt.Sprintf(`notifier.n1 (%s): HTTP 503 Service Unavailable: "upstream overloaded, try later"`, tc.typ)
				if err.Error() != want {
					t.Errorf("attempt %d: Send = %q\nwant %q", i, err, want)
				}
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("attempt %d: error does not unwrap to a 503 *StatusError", i)
				}
			}
			if err := send(t, s, ev); err != nil {
				t.Fatalf("attempt %d: Send = %v after the receiver recovered", k+1, err)
			}
			if n := len(rc.requests()); n != k+1 {
				t.Errorf("receiver saw %d requests, want %d", n, k+1)
			}
		})
	}
}

// echoReceiver rejects every request with a body quoting everything it was
// sent — URL, headers, body — as a careless service might.
func echoReceiver(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "bad request to %s (path %s, query %s) ", r.URL.String(), r.URL.Path, r.URL.RawQuery)
		for k, v := range r.Header {
			fmt.Fprintf(&b, "%s=%q ", k, v)
		}
		buf := make([]byte, 4096)
		n, _ := r.Body.Read(buf)
		b.Write(buf[:n])
		http.Error(w, b.String(), http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// No secret reaches an error string: not when the receiver echoes the
// request, not when the secret URL cannot be reached, not on a timeout.
func TestSecretsNeverInErrors(t *testing.T) {
	const (
		hmacSecret = "hmac-secret-5be1c0de"
		token      = "tok3n-in-url-77aa01"
		slackTok   = "XXslackXXtokenXX9931"
		bearer     = "bearer-token-ab12cd34"
		apiKey     = "og-key-5f5f5f5f5f5f"
	)
	echo := echoReceiver(t)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices the client leaving only after the body
		<-r.Context().Done()
	}))
	t.Cleanup(hung.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	notifiers := func(base string) []*spec.Notifier {
		return []*spec.Notifier{
			{Type: "webhook", Name: "hook", Attrs: map[string]string{"url": base + "/hook?token=" + token, "secret": hmacSecret, "timeout": "150ms"},
				Sensitive: map[string]bool{"url": true}, Headers: map[string]string{"Authorization": "Bearer " + bearer}},
			{Type: "webhook", Name: "plainhook", Attrs: map[string]string{"url": base + "/hook?token=" + token, "timeout": "150ms"}},
			{Type: "slack", Name: "chat", Attrs: map[string]string{"url": base + "/services/T01/B02/" + slackTok, "timeout": "150ms"}},
			{Type: "teams", Name: "teams", Attrs: map[string]string{"url": base + "/workflows/invoke?sig=" + token, "timeout": "150ms"}},
			{Type: "pagerduty", Name: "pager", Attrs: map[string]string{"url": base, "routing_key": pdKey, "timeout": "150ms"}},
			{Type: "opsgenie", Name: "og", Attrs: map[string]string{"url": base, "api_key": apiKey, "timeout": "150ms"}},
		}
	}
	secrets := []string{hmacSecret, token, slackTok, bearer, apiKey, pdKey, url.QueryEscape(token)}

	for _, target := range []struct{ name, base string }{{"echo", echo.URL}, {"hung", hung.URL}, {"refused", closedURL}} {
		for _, n := range notifiers(target.base) {
			s := mustSender(t, n)
			for _, ev := range []Event{testEvent(EventFailed), testEvent(EventIssued)} {
				err := s.Send(context.Background(), ev)
				if err == nil {
					t.Errorf("%s %s: Send = nil", target.name, n.Type)
					continue
				}
				t.Logf("%s %s: %v", target.name, n.Type, err)
				assertNoSecrets(t, target.name+" "+n.Type+" error", err.Error(), secrets...)
				if !strings.Contains(err.Error(), "notifier."+n.Name) {
					t.Errorf("%s %s: error %q does not name the notifier", target.name, n.Type, err)
				}
				if target.name == "hung" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s %s: error %v is not DeadlineExceeded", target.name, n.Type, err)
				}
				if target.name == "refused" && (n.Name == "hook" || n.Type == "slack") &&
					!strings.Contains(err.Error(), strings.TrimPrefix(target.base, "http://")+"/"+Redacted) {
					t.Errorf("%s %s: error %q does not show the redacted URL", target.name, n.Type, err)
				}
			}
		}
	}
}

func TestRedactor(t *testing.T) {
	r := &redactor{}
	r.addURL("https://hooks.example.com/services/T1/B2/s3cr3t?sig=a%2Fb")
	r.add("pa ss&word")
	r.add("")
	tests := []struct{ in, want string }{
		{`Post "https://hooks.example.com/services/T1/B2/s3cr3t?sig=a%2Fb": EOF`, `Post "https://hooks.example.com/[REDACTED]": EOF`},
		{"path /services/T1/B2/s3cr3t", "path " + Redacted},
		{"sig a/b or a%2Fb", "sig " + Redacted + " or " + Redacted},
		{"pw pa ss&word pa+ss%26word pa%20ss&word", "pw " + Redacted + " " + Redacted + " " + Redacted},
		{`json "pa ss\u0026word"`, `json "` + Redacted + `"`},
		{"nothing secret", "nothing secret"},
	}
	for _, tc := range tests {
		if got := r.str(tc.in); got != tc.want {
			t.Errorf("str(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}

	// The scrubbed error keeps no path back to the secret-bearing original.
	orig := &url.Error{Op: "Post", URL: "https://hooks.example.com/services/T1/B2/s3cr3t?sig=a%2Fb", Err: context.DeadlineExceeded}
	err := r.err("notifier.x (slack): ", orig)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("scrubbed error lost DeadlineExceeded")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		t.Error("scrubbed error unwraps to the *url.Error")
	}
	assertNoSecrets(t, "scrubbed error", err.Error(), "s3cr3t", "a/b", "a%2Fb")
}

// A response body longer than what is read, with a secret cut at the read
// boundary, leaks no piece of it.
func TestExcerptCutSecret(t *testing.T) {
	const secret = "0123456789abcdefSECRET"
	b := &base{red: &redactor{}}
	b.red.add(secret)
	body := strings.Repeat(" ", 8<<10-10) + secret + strings.Repeat("z", 100)
	got := b.excerpt(strings.NewReader(body))
	assertNoSecrets(t, "excerpt", got, secret, secret[:10])
	if got2 := b.excerpt(strings.NewReader("error: " + secret)); got2 != "error: "+Redacted {
		t.Errorf("excerpt = %q", got2)
	}
}
