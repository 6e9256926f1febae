package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/server"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
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
	for _, want := range []string{
		`quench_http_requests_total{code="201",method="POST",route="POST /api/v1/incidents"} 1`,
		`quench_http_requests_total{code="404",method="GET",route="GET /api/v1/incidents/{number}"} 1`,
		`quench_incidents{phase="active",severity="critical"} 1`,
		`quench_incidents{phase="closed",severity="minor"} 0`,
		`quench_http_request_duration_seconds_bucket`,
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
	if r := app.Request(t, "GET", "/readyz", "", nil); r.Status != 503 {
		t.Fatalf("readyz with closed DB: %d", r.Status)
	}
	app.Log.Expect("")
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
