package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/certctl/certctl/spec"
)

// email sends a plain-text message over SMTP (net/smtp).
//
// Attributes: host (required), from (required; "Name <addr>" or "addr"),
// tls = "starttls" (default, port 587) | "implicit" (port 465) | "none"
// (port 25), port, username and password (AUTH PLAIN, or LOGIN when the
// server offers only that), helo (default "localhost"), ca_bundle (PEM of
// the CAs to trust instead of the system roots), timeout; and `to` (one or
// more addresses). With "starttls" a server that does not offer STARTTLS is
// an error, never a silent fall back to clear text; a password is never sent
// without TLS, so username with tls = "none" is a configuration error.
//
// The subject is "[certctl] SEVERITY: Certificate NAME EVENT". The
// Message-ID is derived from the event id, so a message re-sent after a
// crash (delivery is at least once) can be recognised as a duplicate.
type email struct {
	*base
	host, addr, helo   string
	mode               string // starttls | implicit | none
	from               *mail.Address
	to                 []*mail.Address
	username, password string
}

var _ Sender = (*email)(nil)

func newEmail(b *base, n *spec.Notifier, c *checker) *email {
	e := &email{
		base:     b,
		host:     c.required("host"),
		helo:     n.Attrs["helo"],
		mode:     n.Attrs["tls"],
		username: n.Attrs["username"],
		password: n.Attrs["password"],
	}
	if e.helo == "" {
		e.helo = "localhost"
	}
	port := ""
	switch e.mode {
	case "", "starttls":
		e.mode, port = "starttls", "587"
	case "implicit":
		port = "465"
	case "none":
		port = "25"
	default:
		c.errorf("tls %q is not one of starttls, implicit, none", e.mode)
	}
	if p, ok := n.Attrs["port"]; ok {
		if v, err := strconv.Atoi(p); err != nil || v < 1 || v > 65535 {
			c.errorf("port %q is not a port number", p)
		}
		port = p
	}
	e.addr = net.JoinHostPort(e.host, port)
	if f := c.required("from"); f != "" {
		a, err := mail.ParseAddress(f)
		if err != nil {
			c.errorf("from is not an email address: %v", err)
		}
		e.from = a
	}
	if len(n.To) == 0 {
		c.errorf("to needs at least one address")
	}
	for _, t := range n.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			c.errorf("to %q is not an email address: %v", t, err)
			continue
		}
		e.to = append(e.to, a)
	}
	switch {
	case e.password != "" && e.username == "":
		c.errorf("password is set but username is not")
	case e.username != "" && e.mode == "none":
		c.errorf("username is set with tls = \"none\": the password would cross the network in clear text; use tls = \"starttls\" or \"implicit\"")
	}
	if e.password != "" {
		// The AUTH exchanges carry the password base64-encoded.
		b.red.addBase64([]byte("\x00" + e.username + "\x00" + e.password))
		b.red.addBase64([]byte(e.password))
	}
	return e
}

func (e *email) tlsConfig() *tls.Config {
	cfg := &tls.Config{ServerName: e.host, MinVersion: tls.VersionTLS12}
	if e.tls != nil {
		cfg.RootCAs = e.tls.RootCAs
	}
	return cfg
}

func (e *email) Send(ctx context.Context, ev Event) error {
	if err := e.checkEvent(&ev); err != nil {
		return err
	}
	ev = ev.normalized()
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	msg := e.message(&ev, time.Now())
	if err := e.deliver(ctx, msg); err != nil {
		switch {
		case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
			// The connection was closed under the client; say why.
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		case ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded):
			// The connection's deadline is the context's, and its timer
			// can fire first: the same timeout either way.
			err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return e.fail(fmt.Errorf("smtp %s: %w", e.addr, err))
	}
	return nil
}

// deliver runs one SMTP session. ctx bounds all of it: the connection gets
// ctx's deadline and is closed as soon as ctx is done, which unblocks any
// read or write in progress.
func (e *email) deliver(ctx context.Context, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if e.mode == "implicit" {
		tc := tls.Client(conn, e.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(e.helo); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if e.mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("server does not offer STARTTLS; set tls = \"none\" to send in clear text")
		}
		if err := c.StartTLS(e.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if e.username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return errors.New("server does not offer AUTH, but username is set")
		}
		var a smtp.Auth
		switch fields := strings.Fields(strings.ToUpper(mechs)); {
		case contains(fields, "PLAIN"):
			a = &plainAuth{e.username, e.password}
		case contains(fields, "LOGIN"):
			a = &loginAuth{username: e.username, password: e.password}
		default:
			return fmt.Errorf("server offers AUTH %s; certctl speaks PLAIN and LOGIN", mechs)
		}
		if err := c.Auth(a); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(e.from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, t := range e.to {
		if err := c.Rcpt(t.Address); err != nil {
			return fmt.Errorf("RCPT TO <%s>: %w", t.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The message was accepted at the end of DATA; a failed QUIT does not
	// make it undelivered.
	_ = c.Quit()
	return nil
}

// message renders ev as an RFC 5322 message with CRLF line endings.
func (e *email) message(ev *Event, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		b.WriteString(k + ": " + v + "\r\n")
	}
	to := make([]string, len(e.to))
	for i, a := range e.to {
		to[i] = a.String()
	}
	domain := "certctl"
	if _, d, ok := strings.Cut(e.from.Address, "@"); ok && d != "" {
		domain = d
	}
	sum := sha256.Sum256([]byte(ev.ID))
	header("From", e.from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", emailSubject(ev)))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(sum[:16])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	header(HeaderEvent, ev.Event)
	header(HeaderDelivery, ev.ID)
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(emailBody(ev)))
	qp.Close()
	return b.Bytes()
}

func emailSubject(ev *Event) string {
	return "[certctl] " + strings.ToUpper(ev.Severity) + ": " + ev.title()
}

func emailBody(ev *Event) string {
	var b strings.Builder
	b.WriteString(ev.text() + "\r\n\r\n")
	for _, f := range ev.facts() {
		b.WriteString(f.label + ": " + f.value + "\r\n")
	}
	b.WriteString("\r\n-- \r\nSent by certctl. Event id: " + ev.ID + "\r\n")
	return b.String()
}

// plainAuth is AUTH PLAIN (RFC 4616). Unlike smtp.PlainAuth it does not
// compare host names (the TLS handshake verified the server) and refuses a
// connection without TLS whatever the host.
type plainAuth struct{ username, password string }

func (a *plainAuth) Start(s *smtp.ServerInfo) (string, []byte, error) {
	if !s.TLS {
		return "", nil, errors.New("refusing to send the password without TLS")
	}
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

// loginAuth is the non-standard but common AUTH LOGIN: the server prompts
// for the username, then the password. Prompts vary ("Username:",
// "User Name"), so they are answered in order rather than by text.
type loginAuth struct {
	username, password string
	step               int
}

func (a *loginAuth) Start(s *smtp.ServerInfo) (string, []byte, error) {
	if !s.TLS {
		return "", nil, errors.New("refusing to send the password without TLS")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.username), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected third AUTH LOGIN challenge")
}
