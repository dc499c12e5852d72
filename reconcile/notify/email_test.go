package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// selfSigned returns a server certificate for 127.0.0.1 and localhost and
// its PEM, which a client trusts through ca_bundle.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// mailbox is a go-smtp backend that records what it receives.
type mailbox struct {
	username, password string   // credentials it accepts; "" needs no AUTH
	mechs              []string // AUTH mechanisms it offers; default PLAIN
	echoPassword       bool     // rejects AUTH with a message quoting the password

	mu       sync.Mutex
	messages []*received
	authSeen bool
}

type received struct {
	from string
	to   []string
	tls  bool
	auth string // username that authenticated
	msg  *mail.Message
	body string // decoded
}

func (mb *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{mb: mb, conn: c, cur: &received{}}, nil
}

func (mb *mailbox) got() []*received {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]*received(nil), mb.messages...)
}

type mailSession struct {
	mb   *mailbox
	conn *smtp.Conn
	cur  *received
	user string
}

var _ smtp.AuthSession = (*mailSession)(nil)

func (s *mailSession) AuthMechanisms() []string {
	if s.mb.mechs != nil {
		return s.mb.mechs
	}
	return []string{sasl.Plain}
}

func (s *mailSession) check(username, password string) error {
	s.mb.mu.Lock()
	s.mb.authSeen = true
	s.mb.mu.Unlock()
	if username != s.mb.username || password != s.mb.password {
		msg := "Authentication failed"
		if s.mb.echoPassword {
			msg += " for " + username + " with password " + password
		}
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: msg}
	}
	s.user = username
	return nil
}

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			return s.check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: s.check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	check    func(username, password string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(response) > 0 { // initial response is the username
			l.username = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.username = string(response)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.mb.username != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.auth, s.cur.msg, s.cur.body = s.user, m, string(body)
	s.mb.mu.Lock()
	s.mb.messages = append(s.mb.messages, s.cur)
	s.mb.mu.Unlock()
	s.cur = &received{}
	return nil
}

func (s *mailSession) Reset()        { s.cur = &received{} }
func (s *mailSession) Logout() error { return nil }

// startSMTP runs a real SMTP server on loopback. mode is "none" (no TLS),
// "starttls" (offers STARTTLS with cert) or "implicit" (TLS from the first
// byte). It returns the port.
func startSMTP(t *testing.T, mb *mailbox, mode string, cert tls.Certificate) string {
	t.Helper()
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	switch mode {
	case "starttls":
		srv.TLSConfig = tlsCfg
	case "implicit":
		srv.TLSConfig = tlsCfg
		l = tls.NewListener(l, tlsCfg)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func emailNotifier(port, mode, caPEM string, extra map[string]string) *spec.Notifier {
	attrs := map[string]string{
		"host": "127.0.0.1", "port": port, "tls": mode,
		"from": "certctl <certctl@example.com>",
	}
	if caPEM != "" {
		attrs["ca_bundle"] = caPEM
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return &spec.Notifier{Type: "email", Name: "mail", Attrs: attrs,
		To: []string{"ops@example.com", "Alice <alice@example.com>"}}
}

// checkMessage checks envelope, headers and body of the one message mb got.
func checkMessage(t *testing.T, mb *mailbox, ev Event, wantTLS bool, wantUser string) {
	t.Helper()
	msgs := mb.got()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.from != "certctl@example.com" {
		t.Errorf("MAIL FROM %q", m.from)
	}
	if strings.Join(m.to, ",") != "ops@example.com,alice@example.com" {
		t.Errorf("RCPT TO %q", m.to)
	}
	if m.tls != wantTLS || m.auth != wantUser {
		t.Errorf("session tls=%v auth=%q, want tls=%v auth=%q", m.tls, m.auth, wantTLS, wantUser)
	}
	h := m.msg.Header
	if got := h.Get("From"); got != `"certctl" <certctl@example.com>` {
		t.Errorf("From: %s", got)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != "ops@example.com" || to[1].Address != "alice@example.com" || to[1].Name != "Alice" {
		t.Errorf("To: %s (%v)", h.Get("To"), err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if want := "[certctl] " + strings.ToUpper(ev.Severity) + ": Certificate " + ev.Certificate.Name + " " + ev.Event; err != nil || subject != want {
		t.Errorf("Subject: %q, want %q", subject, want)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID: %q", id)
	}
	for _, want := range []string{ev.Message, "Certificate: " + ev.Certificate.Name, "Not after: 2026-05-01T12:00:00Z", "Event id: " + ev.ID} {
		if !strings.Contains(m.body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.body)
		}
	}
}

func TestEmailPlain(t *testing.T) {
	cert, _ := selfSigned(t)
	mb := &mailbox{}
	port := startSMTP(t, mb, "none", cert)
	s := mustSender(t, emailNotifier(port, "none", "", nil))
	ev := testEvent(EventExpiring)
	if err := send(t, s, ev); err != nil {
		t.Fatalf("Send = %v", err)
	}
	checkMessage(t, mb, ev, false, "")
}

func TestEmailSTARTTLSAuth(t *testing.T) {
	cert, caPEM := selfSigned(t)
	mb := &mailbox{username: "certctl", password: "smtp-pass-9f8e7d"}
	port := startSMTP(t, mb, "starttls", cert)
	s := mustSender(t, emailNotifier(port, "starttls", caPEM, map[string]string{"username": "certctl", "password": "smtp-pass-9f8e7d"}))
	ev := testEvent(EventFailed)
	if err := send(t, s, ev); err != nil {
		t.Fatalf("Send = %v", err)
	}
	checkMessage(t, mb, ev, true, "certctl")
}

func TestEmailImplicitTLSAuth(t *testing.T) {
	cert, caPEM := selfSigned(t)
	mb := &mailbox{username: "certctl", password: "smtp-pass-9f8e7d"}
	port := startSMTP(t, mb, "implicit", cert)
	s := mustSender(t, emailNotifier(port, "implicit", caPEM, map[string]string{"username": "certctl", "password": "smtp-pass-9f8e7d"}))
	ev := testEvent(EventExpired)
	if err := send(t, s, ev); err != nil {
		t.Fatalf("Send = %v", err)
	}
	checkMessage(t, mb, ev, true, "certctl")
}

func TestEmailAuthLogin(t *testing.T) {
	cert, caPEM := selfSigned(t)
	mb := &mailbox{username: "certctl", password: "smtp-pass-9f8e7d", mechs: []string{sasl.Login}}
	port := startSMTP(t, mb, "starttls", cert)
	s := mustSender(t, emailNotifier(port, "starttls", caPEM, map[string]string{"username": "certctl", "password": "smtp-pass-9f8e7d"}))
	ev := testEvent(EventRenewed)
	if err := send(t, s, ev); err != nil {
		t.Fatalf("Send = %v", err)
	}
	checkMessage(t, mb, ev, true, "certctl")
}

func TestEmailFailures(t *testing.T) {
	const password = "smtp-pass-9f8e7d"
	cert, caPEM := selfSigned(t)
	tests := []struct {
		name     string
		mb       *mailbox
		server   string // server TLS mode
		client   string // notifier tls
		ca       string
		want     []string
		authSeen bool // whether the server may have seen credentials
	}{
		{"wrong password echoed", &mailbox{username: "certctl", password: "other", echoPassword: true}, "starttls", "starttls", caPEM,
			[]string{"notifier.mail (email): smtp 127.0.0.1:", "AUTH: 535", "with password " + Redacted}, true},
		{"no STARTTLS offered", &mailbox{}, "none", "starttls", caPEM,
			[]string{"server does not offer STARTTLS"}, false},
		{"untrusted certificate", &mailbox{username: "certctl", password: password}, "starttls", "starttls", "",
			[]string{"STARTTLS", "certificate"}, false},
		{"implicit untrusted", &mailbox{username: "certctl", password: password}, "implicit", "implicit", "",
			[]string{"TLS handshake", "certificate"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := startSMTP(t, tc.mb, tc.server, cert)
			s := mustSender(t, emailNotifier(port, tc.client, tc.ca, map[string]string{"username": "certctl", "password": password}))
			err := send(t, s, testEvent(EventFailed))
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			t.Logf("Send error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Send error %q\nwant it to contain %q", err, w)
				}
			}
			assertNoSecrets(t, "Send error", err.Error(), password)
			if n := len(tc.mb.got()); n != 0 {
				t.Errorf("server received %d messages, want 0", n)
			}
			tc.mb.mu.Lock()
			seen := tc.mb.authSeen
			tc.mb.mu.Unlock()
			if seen && !tc.authSeen {
				t.Error("credentials were sent to a server that was not verified")
			}
		})
	}
}

// A server that accepts the connection but never greets: Send gives up at
// the timeout, and a cancelled ctx stops it at once.
func TestEmailTimeoutAndCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())

	s := mustSender(t, emailNotifier(port, "none", "", map[string]string{"timeout": "200ms"}))
	start := time.Now()
	err = s.Send(context.Background(), testEvent(EventFailed))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send to a silent server = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v with timeout 200ms", d)
	}

	s = mustSender(t, emailNotifier(port, "none", "", nil))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if err := s.Send(ctx, testEvent(EventFailed)); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled ctx = %v, want Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancelled Send took %v", d)
	}
}
