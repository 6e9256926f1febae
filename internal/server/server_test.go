package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/build"
	"github.com/quenchhq/quench/internal/crash"
	"github.com/quenchhq/quench/internal/server"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
	"github.com/quenchhq/quench/internal/web"
)

func TestHealthAndMetrics(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "x", "severity": "critical"})
	app.Must(t, 404, "GET", "/api/v1/incidents/42", tok, nil)
	if r := app.Request(t, "GET", "/healthz", "", nil); r.Status != 200 {
		t.Fatalf("healthz %d", r.Status)
	}
	if r := app.Request(t, "GET", "/readyz", "", nil); r.Status != 200 {
		t.Fatalf("readyz %d", r.Status)
	}
	if r := app.Request(t, "GET", "/metrics", "", nil); r.Status != 401 {
		t.Fatalf("anonymous metrics: %d", r.Status)
	}
	m := string(app.Must(t, 200, "GET", "/metrics", app.Token(t, "ana", auth.ScopeRead), nil).Body)
	bi := build.Read()
	if bi.Version == "" || !strings.HasPrefix(bi.GoVersion, "go") {
		t.Fatalf("build info %+v", bi)
	}
	for _, want := range []string{
		`quench_http_requests_total{code="201",method="POST",route="POST /api/v1/incidents"} 1`,
		`quench_http_requests_total{code="404",method="GET",route="GET /api/v1/incidents/{number}"} 1`,
		`quench_incidents{phase="active",severity="critical"} 1`,
		`quench_incidents{phase="closed",severity="minor"} 0`,
		`quench_http_request_duration_seconds_bucket`,
		fmt.Sprintf(`quench_build_info{goversion=%q,revision=%q,version=%q} 1`, bi.GoVersion, bi.Revision, bi.Version),
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r := app.Request(t, "GET", "/api/v1/nope", "", nil); r.Status != 404 || r.Code() != "not_found" {
		t.Fatalf("unknown API path: %d %s", r.Status, r.Body)
	}
	r := app.Request(t, "GET", "/api/v1/incidents", "", nil)
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("security headers missing: %v", r.Header)
	}
}

func TestReadyzFailsWhenDatabaseGone(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	app.Store.Close()
	if r := app.Request(t, "GET", "/readyz", "", nil); r.Status != 503 || r.Header.Get("Retry-After") != "5" {
		t.Fatalf("readyz with closed DB: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
}

// A request in flight when shutdown starts still gets its answer.
func TestGracefulShutdownDrains(t *testing.T) {
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, h, slog.New(slog.DiscardHandler), 5*time.Second) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	if body := <-got; body != "finished" {
		t.Fatalf("in-flight request got %q", body)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

// Reached over https, every answer tells browsers to stay on https; over
// plain http nothing is pinned.
func TestStrictTransportSecurity(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tls := app.WithServer(t, func(o *server.Options) { o.BaseURL = "https://quench.example" })
	for _, path := range []string{"/login", "/api/v1/incidents", "/healthz", "/no-such-page"} {
		if got := tls.Request(t, "GET", path, "", nil).Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("https %s: Strict-Transport-Security %q", path, got)
		}
		if got := app.Request(t, "GET", path, "", nil).Header.Values("Strict-Transport-Security"); len(got) != 0 {
			t.Errorf("http %s: Strict-Transport-Security %q", path, got)
		}
	}
}

// A panic is an internal error like any other: browsers get the error
// page, API clients and Prometheus get JSON, nobody gets the panic value.
func TestPanicAnswersInTheCallersLanguage(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	app.Log.Expect("panic")
	log := slog.New(app.Log)
	pages, err := web.New(app.Svc, web.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	h := server.RecoverPanics(log, pages, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("SECRET-panic-value")
	}))
	for path, wantType := range map[string]string{
		"/":                   "text/html",
		"/incidents/1":        "text/html",
		"/admin/users":        "text/html",
		"/api/v1/incidents/1": "application/json",
		"/metrics":            "application/json",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body := rec.Body.String()
		if rec.Code != 500 || !strings.HasPrefix(rec.Header().Get("Content-Type"), wantType) || strings.Contains(body, "SECRET") {
			t.Fatalf("%s: %d %s %q", path, rec.Code, rec.Header().Get("Content-Type"), body)
		}
		if wantType == "text/html" && (!strings.Contains(body, "<html") || !strings.Contains(body, "Something went wrong")) {
			t.Errorf("%s: not the error page: %q", path, body)
		}
		if wantType == "application/json" && !strings.Contains(body, `"code":"internal"`) {
			t.Errorf("%s: %q", path, body)
		}
	}
}

// SIGTERM with live streams open: the streams end as soon as shutdown
// starts, so the drain is not spent waiting for them and Serve returns
// cleanly (not at its deadline, which would be an error).
func TestShutdownEndsLiveStreams(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, app.Handler, slog.New(app.Log), time.Minute) }()
	tok := app.User(t, "ana", auth.RoleResponder)
	url := "http://" + ln.Addr().String()
	var streams []*stream
	for _, token := range []string{"", tok} {
		streams = append(streams, openStream(t, url, "Authorization", bearer(token)))
	}
	cancel()
	for _, s := range streams {
		if rest := s.rest(); strings.Contains(rest, "event:") {
			t.Errorf("stream at shutdown: %q", rest)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// A panic in a handler and the cause of a 500 from the API both reach
// Sentry, with the release, the environment and the failing stack, and
// without the request's token, cookie, body or any incident content.
func TestPanicsAndServerErrorsReachSentry(t *testing.T) {
	sink := testenv.NewSentrySink(t)
	rep, err := crash.New(crash.Options{DSN: sink.DSN(), Environment: "staging", Release: "quench@v9.9.9-test"})
	if err != nil {
		t.Fatal(err)
	}
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder, auth.ScopeRead, auth.ScopeWrite)
	const title = "Payroll export leaks salaries of the board"
	const note = "the CFO's laptop was stolen at the airport"
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": title, "summary": note, "visibility": "confidential"})
	reporting := app.WithServer(t, func(o *server.Options) { o.Log = slog.New(rep.Handler(o.Log.Handler())) })

	// A 500 with a real cause: the links table is gone under the server.
	testenv.LoseTable(t, app.StoreOptions.DataDir, "links")
	app.Log.Expect("request failed")
	r := reporting.Request(t, "POST", "/api/v1/incidents/1/links", tok,
		map[string]any{"kind": "runbook", "url": "https://wiki.example.com/payroll", "title": title},
		"Cookie", "quench_session=qs_cookie-secret-value-0123456789")
	if r.Status != 500 {
		t.Fatalf("link without a links table: %d %s", r.Status, r.Body)
	}

	// A panic behind Quench's recovery, whose value carries what must
	// never leave: content, a password, a token.
	boom := server.RecoverPanics(slog.New(rep.Handler(slog.DiscardHandler)), nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renderIncidentForTest(title, tok)
	}))
	srv := httptest.NewServer(boom)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/incidents/1?token="+tok, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Cookie", "quench_session=qs_cookie-secret-value-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("panic answered %d", resp.StatusCode)
	}

	if !rep.Flush(30 * time.Second) {
		t.Fatal("events not sent within 30 s")
	}
	evs, raw := sink.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events reached Sentry, want 2:\n%s", len(evs), raw)
	}
	for _, secret := range []string{title, note, tok, strings.TrimPrefix(tok, auth.TokenPrefix), "hunter2", "cookie-secret-value", "salaries", "Bearer qnch"} {
		if strings.Contains(raw, secret) {
			t.Errorf("an event carries %q:\n%s", secret, raw)
		}
	}
	var sawPanic, sawCause bool
	for _, ev := range evs {
		if ev["release"] != "quench@v9.9.9-test" || ev["environment"] != "staging" {
			t.Errorf("release %v, environment %v", ev["release"], ev["environment"])
		}
		if user, _ := ev["user"].(map[string]any); ev["request"] != nil || len(user) > 0 {
			t.Errorf("event carries the request or user: %v %v", ev["request"], ev["user"])
		}
		exc := testenv.SentryException(t, ev)
		frames := frameFunctions(exc)
		switch {
		case exc["type"] == "panic":
			sawPanic = true
			if ev["level"] != "fatal" || !strings.Contains(exc["value"].(string), "cannot render") {
				t.Errorf("panic event: level %v, value %v", ev["level"], exc["value"])
			}
			if !strings.Contains(frames, "renderIncidentForTest") {
				t.Errorf("the panic's stack lacks the panicking function: %s", frames)
			}
		case strings.Contains(fmt.Sprint(exc["value"]), "no such table: links"):
			sawCause = true
			tags, _ := ev["tags"].(map[string]any)
			if tags["method"] != "POST" || tags["status"] != "500" {
				t.Errorf("500 event tags: %v", tags)
			}
			if !strings.Contains(frames, "internal/api") {
				t.Errorf("the 500's stack does not reach the API: %s", frames)
			}
		default:
			t.Errorf("unexpected event: %v", exc)
		}
	}
	if !sawPanic || !sawCause {
		t.Errorf("panic reported: %v; 500 cause reported: %v", sawPanic, sawCause)
	}
}

// renderIncidentForTest fails the way a bug would: with everything it
// had at hand in the panic value.
func renderIncidentForTest(title, token string) {
	panic(fmt.Sprintf("cannot render %q for Authorization: Bearer %s (password=hunter2)", title, token))
}

func frameFunctions(exc map[string]any) string {
	st, _ := exc["stacktrace"].(map[string]any)
	frames, _ := st["frames"].([]any)
	var names []string
	for _, f := range frames {
		m := f.(map[string]any)
		names = append(names, fmt.Sprint(m["module"], ".", m["function"]))
	}
	return strings.Join(names, " ")
}
