package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/server"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
)

// Clock is a fake clock the test advances.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	tickers map[*fakeTicker]bool
}

// fakeTicker fires when the clock passes next, like a time.Ticker that
// drops ticks a slow reader missed.
type fakeTicker struct {
	c      chan time.Time
	period time.Duration
	next   time.Time
}

// NewClock starts at a fixed, readable instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward and fires the tickers whose time it
// passes: when Advance returns, their ticks wait in their channels.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.tickers {
		if c.now.Before(t.next) {
			continue
		}
		select {
		case t.c <- c.now:
		default:
		}
		for !c.now.Before(t.next) {
			t.next = t.next.Add(t.period)
		}
	}
}

// SetBack moves the wall clock back by d, as NTP stepping a fast clock
// would. No ticker fires, and each keeps its period from its last tick:
// tickers run on elapsed time, which a step of the wall clock does not
// turn back.
func (c *Clock) SetBack(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(-d)
	for t := range c.tickers {
		t.next = t.next.Add(-d)
	}
}

// NewTicker is time.NewTicker on the fake clock: it ticks when Advance
// passes each period, never on its own.
func (c *Clock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time, 1), period: d, next: c.now.Add(d)}
	if c.tickers == nil {
		c.tickers = map[*fakeTicker]bool{}
	}
	c.tickers[t] = true
	return t.c, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.tickers, t)
	}
}

// LoopbackGuard lets notifications reach the tests' sinks on loopback,
// as QUENCH_OUTBOUND_ALLOW=127.0.0.0/8,::1 would; every other private
// address stays refused.
func LoopbackGuard() *notify.Guard {
	g, err := notify.NewGuard([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		panic(err)
	}
	return g
}

// CheapHasher keeps password hashing fast in tests; the format is the same.
var CheapHasher = auth.Hasher{Memory: 1024, Time: 1, Threads: 1}

// App is the whole of Quench in-process behind a real loopback listener.
type App struct {
	URL   string
	Store *store.Store
	// StoreOptions say where the database is, for tests that reach it
	// behind the app's back (to lock it, for one).
	StoreOptions store.Options
	Svc          *service.Service
	Clock        *Clock
	Handler      *server.Handler
	Log          *LogCapture
}

// StartApp boots Quench on a fresh database of dialect d; opts adjust the
// service options.
func StartApp(t testing.TB, d store.Dialect, opts ...func(*service.Options)) *App {
	t.Helper()
	opt := StoreOptions(t, d)
	st := openStore(t, opt)
	clock := NewClock()
	logs := NewLogCapture()
	log := slog.New(logs)
	so := service.Options{Now: clock.Now, Log: log, Hasher: CheapHasher, Guard: LoopbackGuard()}
	for _, o := range opts {
		o(&so)
	}
	svc := service.New(st, so)
	app := &App{Store: st, StoreOptions: opt, Svc: svc, Clock: clock, Log: logs}
	app = app.serve(t, nil)
	t.Cleanup(func() {
		if errs := logs.Errors(); len(errs) > 0 && !t.Failed() {
			t.Errorf("unexpected error logs:\n%s", strings.Join(errs, "\n"))
		}
	})
	return app
}

// WithServer serves the same app (database, service, clock, log) on
// another listener with server options adjusted by opt, for tests of
// deployment settings such as https or trusted proxies. BaseURL is the new
// listener's unless opt sets it.
func (a *App) WithServer(t testing.TB, opt func(*server.Options)) *App {
	t.Helper()
	return a.serve(t, opt)
}

func (a *App) serve(t testing.TB, adjust func(*server.Options)) *App {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	b := *a
	b.URL = "http://" + srv.Listener.Addr().String()
	opt := server.Options{Log: slog.New(a.Log), BaseURL: b.URL, NewTicker: a.Clock.NewTicker}
	if adjust != nil {
		adjust(&opt)
	}
	h, err := server.New(a.Svc, opt)
	if err != nil {
		t.Fatal(err)
	}
	b.Handler = h
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &b
}

// User creates an account with role r and returns a token with scopes.
func (a *App) User(t testing.TB, name string, r auth.Role, scopes ...auth.Scope) string {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Svc.CreateUser(ctx, service.System, service.NewUser{Username: name, Role: r, Password: "password-" + name}); err != nil {
		t.Fatal(err)
	}
	return a.Token(t, name, scopes...)
}

// Token mints another token for an existing user.
func (a *App) Token(t testing.TB, name string, scopes ...auth.Scope) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []auth.Scope{auth.ScopeRead, auth.ScopeWrite}
	}
	secret, _, err := a.Svc.CreateToken(context.Background(), service.System, service.NewToken{Username: name, Name: "test", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// noRedirects reports redirects as they are, so tests see the 303s.
var noRedirects = &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Code is the API error code, if any.
func (r *Response) Code() string {
	if e, ok := r.JSON["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// Request sends a request; body may be nil, a string (sent as is) or a
// value encoded as JSON. Content type is JSON unless set in headers.
func (a *App) Request(t testing.TB, method, path, token string, body any, headers ...string) *Response {
	t.Helper()
	r, err := a.send(method, path, token, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is Request without a test: for requests sent from other goroutines.
func (a *App) send(method, path, token string, body any, headers ...string) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A stream never ends: take its opening and hang up.
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		out.Body = buf[:n]
		return out, nil
	}
	out.Body, _ = io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(out.Body) > 0 {
		if err := json.Unmarshal(out.Body, &out.JSON); err != nil {
			return nil, fmt.Errorf("%s %s: bad JSON %q: %v", method, path, out.Body, err)
		}
	}
	return out, nil
}

// Must is Request that fails the test unless the status is want.
func (a *App) Must(t testing.TB, want int, method, path, token string, body any) *Response {
	t.Helper()
	r := a.Request(t, method, path, token, body)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// LogCapture records log lines so a test fails on error logs it did not
// expect.
type LogCapture struct {
	mu       sync.Mutex
	errors   []string
	expected []string
	inner    slog.Handler
	buf      *bytes.Buffer
}

// NewLogCapture returns an empty capture.
func NewLogCapture() *LogCapture {
	buf := &bytes.Buffer{}
	return &LogCapture{buf: buf, inner: slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})}
}

// Expect declares that error logs containing s are part of the test. Name
// the line: an empty s would match every line and switch the guard off.
func (l *LogCapture) Expect(s string) {
	if strings.TrimSpace(s) == "" {
		panic("LogCapture.Expect: name the error line you expect; an empty one matches them all")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expected = append(l.expected, s)
}

// Text is everything logged so far, for tests that look for what must
// never be logged.
func (l *LogCapture) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Errors returns unexpected error-level lines.
func (l *LogCapture) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, e := range l.errors {
		for _, x := range l.expected {
			if strings.Contains(e, x) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

func (l *LogCapture) Enabled(context.Context, slog.Level) bool { return true }

func (l *LogCapture) Handle(ctx context.Context, r slog.Record) error {
	return (&logView{l: l, h: l.inner}).Handle(ctx, r)
}

func (l *LogCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &logView{l: l, h: l.inner.WithAttrs(as)}
}

func (l *LogCapture) WithGroup(name string) slog.Handler {
	return &logView{l: l, h: l.inner.WithGroup(name)}
}

// logView shares the capture's buffer and error list under derived attrs.
type logView struct {
	l *LogCapture
	h slog.Handler
}

func (v *logView) Enabled(context.Context, slog.Level) bool { return true }
func (v *logView) Handle(ctx context.Context, r slog.Record) error {
	v.l.mu.Lock()
	defer v.l.mu.Unlock()
	start := v.l.buf.Len()
	err := v.h.Handle(ctx, r)
	if r.Level >= slog.LevelError {
		v.l.errors = append(v.l.errors, v.l.buf.String()[start:])
	}
	return err
}
func (v *logView) WithAttrs(as []slog.Attr) slog.Handler {
	return &logView{l: v.l, h: v.h.WithAttrs(as)}
}
func (v *logView) WithGroup(n string) slog.Handler { return &logView{l: v.l, h: v.h.WithGroup(n)} }
