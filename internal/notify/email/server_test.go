package email_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that
// keeps what it receives and answers what the test tells it to.
type smtpServer struct {
	t    *testing.T
	srv  *smtp.Server
	port int

	mu       sync.Mutex
	got      []received
	user     string // when set, MAIL needs AUTH PLAIN as user/pass
	pass     string
	authSeen []string           // user names that tried to log in
	rcptErr  *smtp.SMTPError    // answer to RCPT TO instead of 250
	dataErr  *smtp.SMTPError    // answer to the end of DATA instead of 250
	authErr  func(string) error // answer to a wrong password
}

type received struct {
	from string
	rcpt []string
	data []byte
	tls  bool
	user string
}

type serverOpts struct {
	cert      *tls.Certificate // offer STARTTLS with it
	implicit  bool             // speak TLS from the first byte (SMTPS)
	user      string
	pass      string
	plainAuth bool // allow AUTH over a connection without TLS
}

func startSMTP(t *testing.T, o serverOpts) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t, user: o.user, pass: o.pass}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "mx.quench.test"
	srv.AllowInsecureAuth = o.plainAuth
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = testLogger{t}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{*o.cert}, MinVersion: tls.VersionTLS12}
		if o.implicit {
			l = tls.NewListener(l, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	s.srv = srv
	s.port = l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		l.Close() // in case Serve had not registered it yet
		<-done
	})
	return s
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

func (s *smtpServer) mails() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received{}, s.got...)
}

func (s *smtpServer) set(f func(s *smtpServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

type session struct {
	s    *smtpServer
	tls  bool
	user string
	from string
	rcpt []string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		x.s.mu.Lock()
		defer x.s.mu.Unlock()
		x.s.authSeen = append(x.s.authSeen, username)
		if username != x.s.user || password != x.s.pass || x.s.user == "" {
			if x.s.authErr != nil {
				return x.s.authErr(password)
			}
			return smtp.ErrAuthFailed
		}
		x.user = username
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.user != "" && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.rcptErr != nil {
		return x.s.rcptErr
	}
	x.rcpt = append(x.rcpt, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.dataErr != nil {
		return x.s.dataErr
	}
	x.s.got = append(x.s.got, received{from: x.from, rcpt: x.rcpt, data: b, tls: x.tls, user: x.user})
	return nil
}

func (x *session) Reset()        { x.from, x.rcpt = "", nil }
func (x *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and localhost, made for
// this test run, and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mx.quench.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// parsed is a received message taken apart.
type parsed struct {
	header mail.Header
	raw    string // the header section as sent
	parts  map[string]string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	raw, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: msg.Header, raw: string(raw), parts: map[string]string{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if mt != "multipart/alternative" {
		t.Fatalf("Content-Type %s, want multipart/alternative", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, ps, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if ps["charset"] != "" && !strings.EqualFold(ps["charset"], "utf-8") {
			t.Errorf("part %s in charset %s", ct, ps["charset"])
		}
		// multipart decodes quoted-printable by itself.
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		// Lines end in CRLF on the wire; compare with LF.
		p.parts[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return p
}

func (p parsed) get(t *testing.T, name string) string {
	t.Helper()
	v, err := new(mime.WordDecoder).DecodeHeader(p.header.Get(name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func only(t *testing.T, s *smtpServer) received {
	t.Helper()
	got := s.mails()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	return got[0]
}

// smtpErrorOf makes a reply: code, then "X.Y.Z text".
func smtpErrorOf(code int, text string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, EnhancedCode: smtp.NoEnhancedCode, Message: text}
	if enh, msg, ok := strings.Cut(text, " "); ok {
		var c smtp.EnhancedCode
		parts := strings.Split(enh, ".")
		if len(parts) == 3 {
			for i, p := range parts {
				c[i], _ = strconv.Atoi(p)
			}
			e.EnhancedCode, e.Message = c, msg
		}
	}
	return e
}
