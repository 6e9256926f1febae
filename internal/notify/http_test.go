package notify_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/notify"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	in90s := now.Add(90 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		status     int
		retryAfter string
		snippet    string
		retryable  bool
		ok         bool
		wait       time.Duration // 0: no RetryAfterError
		says       string
	}{
		{status: 200, snippet: "ok", ok: true},
		{status: 202, ok: true},
		{status: 204, ok: true},
		{status: 301, says: "redirects are not followed"},
		{status: 302, says: "HTTP 302"},
		{status: 400, snippet: "invalid_blocks", says: `HTTP 400: "invalid_blocks"`},
		{status: 401, says: "HTTP 401"},
		{status: 403, snippet: "invalid_token", says: "invalid_token"},
		{status: 404, snippet: "no_service", says: `"no_service"`},
		{status: 408, retryable: true, says: "HTTP 408"},
		{status: 410, snippet: "channel_is_archived", says: "channel_is_archived"},
		{status: 413, says: "HTTP 413"},
		{status: 422, says: "HTTP 422"},
		{status: 429, retryable: true, says: "HTTP 429"},
		{status: 429, retryAfter: "30", retryable: true, wait: 30 * time.Second},
		{status: 429, retryAfter: in90s, retryable: true, wait: 90 * time.Second},
		{status: 429, retryAfter: "86400", retryable: true, wait: notify.MaxRetryAfter},
		{status: 429, retryAfter: "soon", retryable: true},
		{status: 429, retryAfter: "0", retryable: true},
		{status: 429, retryAfter: "-5", retryable: true},
		{status: 500, snippet: "rollup_error", retryable: true, says: "rollup_error"},
		{status: 502, retryable: true},
		{status: 503, retryable: true},
		{status: 503, retryAfter: "120", retryable: true, wait: 2 * time.Minute},
		{status: 504, retryable: true},
	}
	for _, tt := range tests {
		retryable, err := notify.Classify(tt.status, tt.retryAfter, now, "https://hooks.example.com/…", []byte(tt.snippet))
		if tt.ok {
			if err != nil || retryable {
				t.Errorf("%d: = %v, %v; want success", tt.status, retryable, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%d: no error", tt.status)
			continue
		}
		if retryable != tt.retryable {
			t.Errorf("%d %q: retryable = %v, want %v", tt.status, tt.retryAfter, retryable, tt.retryable)
		}
		wait, ok := notify.RetryAfter(err)
		if tt.wait == 0 && ok {
			t.Errorf("%d %q: RetryAfter = %v, want none", tt.status, tt.retryAfter, wait)
		}
		if tt.wait != 0 && wait != tt.wait {
			t.Errorf("%d %q: RetryAfter = %v, %v; want %v", tt.status, tt.retryAfter, wait, ok, tt.wait)
		}
		if !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%d: error %q does not say %q", tt.status, err, tt.says)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 45 ", 45 * time.Second, true},
		{"301", notify.MaxRetryAfter, true},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute, true},
		{now.Add(time.Hour).Format(http.TimeFormat), notify.MaxRetryAfter, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
		{"0", 0, false},
		{"", 0, false},
		{"1.5", 0, false},
		{"tomorrow", 0, false},
	} {
		got, ok := notify.ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/XXXXsecret":  "https://hooks.slack.com/…",
		"https://user:pw@example.com:8443/hook?token=secret": "https://example.com:8443/…",
		"not a url": "<invalid URL>",
		"":          "<invalid URL>",
	} {
		if got := notify.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPostAnswers(t *testing.T) {
	// A real server on loopback answering what Slack and webhook
	// receivers answer; every error leaves the secret path out.
	mux := http.NewServeMux()
	mux.HandleFunc("/ok/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/limited/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("/gone/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no_service", http.StatusNotFound)
	})
	mux.HandleFunc("/down/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	g, err := notify.NewGuard([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c := g.Client(5 * time.Second)
	const secret = "T0SECRET/B0SECRET/XXXXSECRET"

	post := func(path string) (bool, error) {
		retryable, err := notify.Post(context.Background(), c, srv.URL+path+secret, "application/json", nil, []byte(`{}`))
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error reveals the path: %v", path, err)
		}
		return retryable, err
	}
	if retryable, err := post("/ok/"); err != nil || retryable {
		t.Errorf("ok: %v, %v", retryable, err)
	}
	retryable, err := post("/limited/")
	if wait, _ := notify.RetryAfter(err); !retryable || wait != 7*time.Second {
		t.Errorf("limited: %v, %v (wait %v)", retryable, err, wait)
	}
	if retryable, err := post("/gone/"); retryable || err == nil || !strings.Contains(err.Error(), "no_service") {
		t.Errorf("gone: %v, %v", retryable, err)
	}
	if retryable, err := post("/down/"); !retryable || err == nil {
		t.Errorf("down: %v, %v", retryable, err)
	}

	// Nobody listening: retryable, and still no path in the error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	retryable, err = notify.Post(context.Background(), c, closed+"/hook/"+secret, "application/json", nil, nil)
	if !retryable || err == nil || errors.Is(err, notify.ErrBlocked) {
		t.Errorf("refused: %v, %v", retryable, err)
	}
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("refused: error reveals the path: %v", err)
	}

	// A URL that does not parse.
	retryable, err = notify.Post(context.Background(), c, "http://[::1/"+secret, "application/json", nil, nil)
	if retryable || err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("bad URL: %v, %v", retryable, err)
	}
}

func TestAudienceAllows(t *testing.T) {
	for _, e := range notify.Events {
		if !notify.Team.Allows(e) {
			t.Errorf("team refuses %s", e)
		}
	}
	for _, e := range []notify.Event{notify.UpdateInternal, notify.AlertAttached, notify.AlertsResolved, notify.Unowned, notify.Stuck} {
		if notify.Public.Allows(e) {
			t.Errorf("public allows %s", e)
		}
	}
}

func TestParseEvents(t *testing.T) {
	got, err := notify.ParseEvents([]string{" incident.opened", "incident.opened", "", "incident.stuck"})
	if err != nil || len(got) != 2 || got[0] != notify.Opened || got[1] != notify.Stuck {
		t.Errorf("ParseEvents = %v, %v", got, err)
	}
	if got, err := notify.ParseEvents(nil); err != nil || len(got) != 1 || got[0] != "*" {
		t.Errorf("ParseEvents(nil) = %v, %v", got, err)
	}
	if _, err := notify.ParseEvents([]string{"incident.deleted"}); err == nil {
		t.Error("unknown event accepted")
	}
}

func TestPostToHangingTargetTimesOut(t *testing.T) {
	// Accepts, never answers: the client's timeout ends the attempt as a
	// retryable failure.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conns := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			conns <- c
		}
	}()
	g, err := notify.NewGuard([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	retryable, err := notify.Post(context.Background(), g.Client(100*time.Millisecond), "http://"+l.Addr().String()+"/hook/SECRET", "application/json", nil, []byte("{}"))
	if !retryable || err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("Post = %v, %v", retryable, err)
	}
	(<-conns).Close()
}
