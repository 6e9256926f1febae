package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/quenchhq/quench/internal/jobs"
	"github.com/quenchhq/quench/internal/notify/email"
)

// Received is one request a Sink got.
type Received struct {
	Header http.Header
	Body   []byte
	// Status is what the sink answered (0 when it hung up).
	Status int
}

// ID is the request's webhook-id ("" for Slack).
func (r Received) ID() string { return r.Header.Get("webhook-id") }

// Sink is a receiver on loopback for webhook and Slack messages. It keeps
// every request and answers what the test says (200 by default). At the
// end of the test it fails if a message it acknowledged with a 2xx came
// again, or if the test never looked at a message it received: a sink
// that is not asked about its messages must not get any.
type Sink struct {
	t    testing.TB
	addr string
	URL  string

	mu      sync.Mutex
	srv     *http.Server
	got     []Received
	taken   int
	answer  func(n int, r *http.Request) int
	hang    chan struct{}
	hanging chan struct{}
	acked   map[string]int
}

// NewSink starts a sink; its URL takes any path.
func NewSink(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sink{t: t, addr: ln.Addr().String(), acked: map[string]int{}}
	s.URL = "http://" + s.addr + "/hook"
	s.serve(ln)
	t.Cleanup(func() {
		s.Down()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.hang != nil {
			close(s.hang)
			s.hang = nil
		}
		for id, n := range s.acked {
			if n > 1 {
				t.Errorf("sink %s acknowledged message %s %d times", s.URL, id, n)
			}
		}
		if extra := s.got[s.taken:]; len(extra) > 0 && !t.Failed() {
			t.Errorf("sink %s got %d message(s) the test did not expect, the first: %.300s", s.URL, len(extra), extra[0].Body)
		}
	})
	return s
}

func (s *Sink) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *Sink) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.got)
	hang, hanging := s.hang, s.hanging
	status := http.StatusOK
	if s.answer != nil {
		status = s.answer(n, r)
	}
	rec := Received{Header: r.Header.Clone(), Body: body, Status: status}
	if hang != nil {
		rec.Status = 0
	}
	s.got = append(s.got, rec)
	s.mu.Unlock()
	if hang != nil {
		if hanging != nil {
			select {
			case hanging <- struct{}{}:
			default:
			}
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	if status >= 200 && status < 300 {
		key := rec.ID()
		if key == "" {
			// Slack sends no id: identical bodies are the same message.
			key = "body:" + string(body)
		}
		s.mu.Lock()
		s.acked[key]++
		s.mu.Unlock()
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	fmt.Fprintln(w, http.StatusText(status))
}

// Answer sets the status of each request from now on; n counts every
// request the sink has had.
func (s *Sink) Answer(fn func(n int) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = func(n int, _ *http.Request) int { return fn(n) }
}

// Hang makes the sink accept requests and never answer them until
// Release; each hung request is announced on the returned channel.
func (s *Sink) Hang() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang, s.hanging = make(chan struct{}), make(chan struct{}, 16)
	return s.hanging
}

// Release answers the hung requests (they get nothing) and stops hanging.
func (s *Sink) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
}

// Down stops listening: connections are refused until Up.
func (s *Sink) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}
}

// Up listens again on the same address.
func (s *Sink) Up() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after Down
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

// Take returns the requests received since the last Take.
func (s *Sink) Take() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Received{}, s.got[s.taken:]...)
	s.taken = len(s.got)
	return out
}

// Count is how many requests the sink has received in all.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// Mail is one message a MailSink received.
type Mail struct {
	From string
	To   []string
	Data []byte
	Msg  *mail.Message
	Body []byte
}

// MailSink is a real SMTP server (emersion/go-smtp) on loopback that keeps
// what it receives, with the same end-of-test rule as Sink.
type MailSink struct {
	Config email.Config
	mu     sync.Mutex
	got    []Mail
	taken  int
	reply  *smtp.SMTPError
}

// NewMailSink starts an SMTP server without TLS or authentication on
// 127.0.0.1; Config points the e-mail notifier at it.
func NewMailSink(t testing.TB) *MailSink {
	t.Helper()
	m := &MailSink{}
	srv := smtp.NewServer(mailBackend{m})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	m.Config = email.Config{Host: "127.0.0.1", Port: port, From: "Quench <quench@example.com>", TLS: email.NoTLS}
	t.Cleanup(func() {
		srv.Close()
		m.mu.Lock()
		defer m.mu.Unlock()
		if extra := m.got[m.taken:]; len(extra) > 0 && !t.Failed() {
			t.Errorf("mail sink got %d message(s) the test did not expect, to %v", len(extra), extra[0].To)
		}
	})
	return m
}

// Reply makes the server answer the end of DATA with code (0: accept).
func (m *MailSink) Reply(code int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if code == 0 {
		m.reply = nil
		return
	}
	m.reply = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "told to refuse"}
}

// Take returns the messages received since the last Take.
func (m *MailSink) Take() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Mail{}, m.got[m.taken:]...)
	m.taken = len(m.got)
	return out
}

type mailBackend struct{ m *MailSink }

func (b mailBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: b.m}, nil }

type mailSession struct {
	m    *MailSink
	from string
	to   []string
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *mailSession) Reset()                                      { s.from, s.to = "", nil }
func (s *mailSession) Logout() error                               { return nil }

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.m.reply != nil {
		return s.m.reply
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("unreadable message: %w", err)
	}
	body, _ := io.ReadAll(msg.Body)
	s.m.got = append(s.m.got, Mail{From: s.from, To: s.to, Data: data, Msg: msg, Body: body})
	return nil
}

// Outbox is the app's outbox worker, sending to loopback sinks (and to
// smtp when its Host is set); tests drive it with Drain and the clock.
func (a *App) Outbox(smtp email.Config) *jobs.Outbox {
	return jobs.NewOutbox(a.Svc, slog.New(a.Log), jobs.ChannelNotifiers(LoopbackGuard().Client(5*time.Second), smtp), nil)
}
