package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/certctl/certctl/spec"
)

// Sender delivers events to one notifier.
//
// Send makes one delivery attempt and returns nil only if the receiver
// accepted the event (an HTTP 2xx, or the SMTP server accepted the message).
// It honours ctx and gives up after the notifier's timeout (default 10 s).
// Errors name the notifier and never contain its secrets; a rejection by an
// HTTP receiver unwraps to a *StatusError. A Sender is safe for concurrent
// use.
type Sender interface {
	Send(ctx context.Context, ev Event) error
}

// DefaultTimeout bounds one delivery attempt unless the notifier sets a
// `timeout` attribute.
const DefaultTimeout = 10 * time.Second

// StatusError is a non-2xx answer from an HTTP receiver.
type StatusError struct {
	StatusCode int
	Status     string // "503 Service Unavailable"
	// Body is the start of the response body, whitespace collapsed, secrets
	// redacted, at most 200 characters.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return "HTTP " + e.Status
	}
	return fmt.Sprintf("HTTP %s: %q", e.Status, e.Body)
}

// The attributes each notifier type accepts, beyond `headers`, `to`,
// `events` and `retry`, which spec decodes itself.
var typeAttrs = map[string][]string{
	"webhook":   {"url", "secret", "timeout", "ca_bundle"},
	"slack":     {"url", "timeout", "ca_bundle"},
	"teams":     {"url", "timeout", "ca_bundle"},
	"pagerduty": {"routing_key", "url", "source", "timeout", "ca_bundle"},
	"opsgenie":  {"api_key", "url", "timeout", "ca_bundle"},
	"email":     {"host", "port", "from", "username", "password", "tls", "helo", "timeout", "ca_bundle"},
}

// Types lists the notifier types FromSpec accepts, sorted.
func Types() []string {
	ts := make([]string, 0, len(typeAttrs))
	for t := range typeAttrs {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// FromSpec validates n and returns the Sender for it. The error (nil on
// success) lists every problem found, prefixed with the notifier's address,
// and contains none of its secrets.
//
// Secrets are: the webhook `secret`, the SMTP `password`, the PagerDuty
// `routing_key`, the Opsgenie `api_key`, Slack and Teams URLs (the URL is
// the credential), the password and query values of any URL, every
// attribute in n.Sensitive (read through env() or file()), and the values of
// headers that are sensitive or whose names look like credentials
// (Authorization, Cookie, or containing "token", "key", "secret", "auth",
// "password" or "signature").
func FromSpec(n *spec.Notifier) (Sender, error) {
	if n == nil {
		return nil, errors.New("notifier is nil")
	}
	b := &base{typ: n.Type, name: n.Name, red: &redactor{}, timeout: DefaultTimeout}
	b.collectSecrets(n)
	prefix := b.String() + ": "

	allowed, ok := typeAttrs[n.Type]
	if !ok {
		return nil, fmt.Errorf("%sunknown notifier type %q; want one of %s", prefix, n.Type, strings.Join(Types(), ", "))
	}
	c := &checker{n: n}
	for _, k := range sortedKeys(n.Attrs) {
		if !contains(allowed, k) {
			c.errorf("unknown attribute %q; %s notifiers take %s", k, n.Type, strings.Join(allowed, ", "))
		}
	}
	for _, e := range n.Events {
		if !ValidEvent(e) {
			c.errorf("unknown event %q in events; want one of %s", e, strings.Join(AllEvents(), ", "))
		}
	}
	if n.Type == "email" {
		if len(n.Headers) > 0 {
			c.errorf("headers are not supported by email notifiers")
		}
	} else if len(n.To) > 0 {
		c.errorf("to is only for email notifiers")
	}
	for _, k := range sortedKeys(n.Headers) {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case strings.ContainsAny(k, " :\r\n") || k == "":
			c.errorf("header %q is not a valid header name", k)
		case ck == "Host" || ck == "Content-Type" || ck == "Content-Length" || strings.HasPrefix(ck, "X-Certctl-"):
			c.errorf("header %q is set by certctl and cannot be configured", k)
		}
	}
	if s, ok := n.Attrs["timeout"]; ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			c.errorf("timeout %q is not a positive duration such as \"10s\"", s)
		} else {
			b.timeout = d
		}
	}
	if s, ok := n.Attrs["ca_bundle"]; ok {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(s)) {
			c.errorf("ca_bundle holds no PEM certificate; give the PEM text, e.g. file(\"ca.pem\")")
		} else {
			b.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}

	var s Sender
	switch n.Type {
	case "webhook":
		s = newWebhook(b, n, c)
	case "slack":
		s = newSlack(b, n, c)
	case "teams":
		s = newTeams(b, n, c)
	case "pagerduty":
		s = newPagerDuty(b, n, c)
	case "opsgenie":
		s = newOpsgenie(b, n, c)
	case "email":
		s = newEmail(b, n, c)
	}
	b.red.prepare() // after the constructors: email adds secrets
	if len(c.errs) > 0 {
		msgs := make([]string, len(c.errs))
		for i, e := range c.errs {
			msgs[i] = b.red.str(prefix + e)
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	if n.Type != "email" {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if b.tls != nil {
			tr.TLSClientConfig = b.tls
		}
		b.client = &http.Client{
			Transport: tr,
			// A redirect is an error: following it would re-send the body and
			// signature to a place the operator did not configure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return s, nil
}

// SecretAttr reports whether attribute k of n holds a secret: read
// through env() or file(), or secret by what it is (a password, an API
// key, a chat service's webhook URL). Nothing may show such a value.
func SecretAttr(n *spec.Notifier, k string) bool {
	switch k {
	case "secret", "password", "routing_key", "api_key":
		return true
	case "url":
		return n.Sensitive[k] || n.Type == "slack" || n.Type == "teams"
	}
	return n.Sensitive[k]
}

// SecretHeader reports whether header k of n holds a secret: read through
// env() or file(), or a credential by its name (Authorization, X-Api-Key).
func SecretHeader(n *spec.Notifier, k string) bool {
	return n.Sensitive["headers"] || n.Sensitive[k] || n.Sensitive["headers."+k] || credentialHeader(k)
}

// collectSecrets registers everything secret in n with b's redactor.
func (b *base) collectSecrets(n *spec.Notifier) {
	for k, v := range n.Attrs {
		secret := SecretAttr(n, k)
		switch {
		case k == "url" && secret:
			b.red.addURL(v)
		case k == "url":
			b.red.addURLCredentials(v)
		case secret:
			b.red.add(v)
		}
	}
	for k, v := range n.Headers {
		if SecretHeader(n, k) {
			b.red.add(v)
			// "Bearer abc": the token alone may be echoed back.
			if _, tok, ok := strings.Cut(v, " "); ok {
				b.red.add(strings.TrimSpace(tok))
			}
		}
	}
	if n.Sensitive["to"] {
		for _, t := range n.To {
			b.red.add(t)
		}
	}
}

func credentialHeader(name string) bool {
	l := strings.ToLower(name)
	if l == "cookie" || l == "authorization" || l == "proxy-authorization" {
		return true
	}
	for _, w := range []string{"token", "key", "secret", "auth", "signature", "password"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// checker collects configuration errors so FromSpec reports all of them.
type checker struct {
	n    *spec.Notifier
	errs []string
}

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// required returns attribute k, recording an error if it is missing.
func (c *checker) required(k string) string {
	v := c.n.Attrs[k]
	if v == "" {
		c.errorf("attribute %q is required", k)
	}
	return v
}

// httpURL checks attribute k (or def when unset) as an http(s) URL. The URL
// is never quoted in the message: it may be secret.
func (c *checker) httpURL(k, def string) string {
	v, ok := c.n.Attrs[k]
	if !ok || v == "" {
		if def == "" {
			c.errorf("attribute %q is required", k)
			return ""
		}
		v = def
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		c.errorf("attribute %q is not an http or https URL", k)
	}
	return v
}

// base is what every Sender has: its address, secrets, timeout and client.
type base struct {
	typ, name string
	red       *redactor
	timeout   time.Duration
	tls       *tls.Config  // nil: system roots
	client    *http.Client // nil for email
}

// String names the notifier, never its configuration: a Sender printed with
// %v or %+v shows no secret.
func (b *base) String() string { return fmt.Sprintf("notifier.%s (%s)", b.name, b.typ) }

// GoString makes %#v as safe as %v.
func (b *base) GoString() string { return b.String() }

// fail returns err scrubbed and prefixed with the notifier's address.
func (b *base) fail(err error) error { return b.red.err(b.String()+": ", err) }

// postJSON posts body to target with the given headers (custom headers
// first, so the caller's own headers win) and returns a *StatusError for a
// non-2xx answer.
func (b *base) postJSON(ctx context.Context, target string, custom map[string]string, hdr http.Header, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return b.fail(err)
	}
	for k, v := range custom {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certctl-notify/1")
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return b.fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	return b.fail(&StatusError{
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		Body:       b.excerpt(resp.Body),
	})
}

// excerpt returns the start of r for an error message: secrets redacted,
// whitespace collapsed, at most 200 characters.
func (b *base) excerpt(r io.Reader) string {
	const limit = 8 << 10
	buf, _ := io.ReadAll(io.LimitReader(r, limit+1))
	if len(buf) > limit {
		// The read may have cut a secret in two, and a piece of a secret
		// is not recognised as one: drop the tail that could hold it.
		buf = buf[:max(0, limit-b.red.maxLen)]
	}
	return truncate(strings.Join(strings.Fields(b.red.str(string(buf))), " "), 200)
}

// checkEvent validates ev before any network traffic.
func (b *base) checkEvent(ev *Event) error {
	if err := ev.Validate(); err != nil {
		return b.fail(fmt.Errorf("invalid event: %w", err))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
