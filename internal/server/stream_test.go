package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// stream is an open /events response read block by block.
type stream struct {
	t *testing.T
	r *bufio.Reader
}

// openStream opens base/events with headers (pairs; an empty value is
// left out) and reads its opening: from then on the stream is subscribed
// to changes and its ticker runs on the app's clock.
func openStream(t *testing.T, base string, headers ...string) *stream {
	t.Helper()
	// A guard so a stream that never ends fails the test instead of
	// hanging it; nothing is measured.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %d", resp.StatusCode)
	}
	s := &stream{t: t, r: bufio.NewReader(resp.Body)}
	if got := s.next(); got != "retry: 3000" {
		t.Fatalf("stream opening %q", got)
	}
	return s
}

// next returns the stream's next block ("event: change\ndata: …", ": ping"),
// or "" when the stream has ended.
func (s *stream) next() string {
	s.t.Helper()
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ""
		}
		if line = strings.TrimRight(line, "\n"); line == "" {
			if len(lines) > 0 {
				return strings.Join(lines, "\n")
			}
			continue
		}
		lines = append(lines, line)
	}
}

// rest reads until the server ends the stream and returns what came.
func (s *stream) rest() string {
	s.t.Helper()
	b, err := io.ReadAll(s.r)
	if err != nil {
		s.t.Fatalf("stream did not end: %v (after %q)", err, b)
	}
	return string(b)
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// signedIn logs a new browser in as user and returns its cookie header.
func signedIn(t *testing.T, app *testenv.App, user string) (*browser, string) {
	t.Helper()
	app.User(t, user, auth.RoleResponder)
	b := newBrowser(t, app)
	if resp := b.login(user, "password-"+user); resp.StatusCode != 303 {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	var cookie []string
	for _, c := range b.http.Jar.Cookies(mustURL(app.URL)) {
		cookie = append(cookie, c.String())
	}
	return b, strings.Join(cookie, "; ")
}

// A live stream hears of the team's incidents only while its session or
// token holds: it is checked again before each event and on each tick of
// the clock, and the stream ends with it.
func TestLiveStreamEndsWithItsSession(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin)
		// Each change is a confidential incident: team-only news.
		change := func() {
			t.Helper()
			app.Must(t, 201, "POST", "/api/v1/incidents", admin, map[string]any{"title": "secret", "visibility": "confidential"})
		}
		sessionID := func(user string) string {
			t.Helper()
			for _, s := range app.Must(t, 200, "GET", "/api/v1/sessions", admin, nil).JSON["sessions"].([]any) {
				if s := s.(map[string]any); s["user"] == user {
					return s["id"].(string)
				}
			}
			t.Fatalf("no session of %s", user)
			return ""
		}
		ended := func(t *testing.T, s *stream) {
			t.Helper()
			if rest := s.rest(); rest != "" {
				t.Fatalf("after its session ended the stream sent %q", rest)
			}
		}

		t.Run("sign-out", func(t *testing.T) {
			b, cookie := signedIn(t, app, "ana")
			s := openStream(t, app.URL, "Cookie", cookie)
			change()
			if got := s.next(); !strings.Contains(got, "event: change") {
				t.Fatalf("team event before sign-out: %q", got)
			}
			if resp, _ := b.post("/logout", url.Values{"csrf": {b.csrf()}}); resp.StatusCode != 303 {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
			change()
			ended(t, s)
		})

		t.Run("user disabled", func(t *testing.T) {
			_, cookie := signedIn(t, app, "bo")
			s := openStream(t, app.URL, "Cookie", cookie)
			app.Must(t, 200, "PATCH", "/api/v1/users/bo", admin, map[string]any{"disabled": true})
			change()
			ended(t, s)
		})

		t.Run("revoked while idle", func(t *testing.T) {
			_, cookie := signedIn(t, app, "cy")
			s := openStream(t, app.URL, "Cookie", cookie)
			// A tick with the session intact: checked, kept, pinged.
			app.Clock.Advance(30 * time.Second)
			if got := s.next(); got != ": ping" {
				t.Fatalf("tick: %q", got)
			}
			// Revoking sends no event; the next tick notices.
			app.Must(t, 204, "DELETE", "/api/v1/sessions/"+sessionID("cy"), admin, nil)
			app.Clock.Advance(30 * time.Second)
			ended(t, s)
		})

		t.Run("expired while idle", func(t *testing.T) {
			_, cookie := signedIn(t, app, "dee")
			s := openStream(t, app.URL, "Cookie", cookie)
			app.Clock.Advance(service.SessionIdle + time.Minute)
			ended(t, s)
		})

		t.Run("token revoked", func(t *testing.T) {
			app.User(t, "eve", auth.RoleResponder)
			secret, tk, err := app.Svc.CreateToken(context.Background(), service.System, service.NewToken{Username: "eve", Name: "stream", Scopes: []auth.Scope{auth.ScopeRead}})
			if err != nil {
				t.Fatal(err)
			}
			s := openStream(t, app.URL, "Authorization", bearer(secret))
			change()
			if got := s.next(); !strings.Contains(got, "event: change") {
				t.Fatalf("team event before revocation: %q", got)
			}
			if err := app.Svc.RevokeToken(context.Background(), service.System, tk.ID); err != nil {
				t.Fatal(err)
			}
			change()
			ended(t, s)
		})

		t.Run("anonymous viewer stays", func(t *testing.T) {
			s := openStream(t, app.URL)
			app.Clock.Advance(30 * time.Second)
			if got := s.next(); got != ": ping" {
				t.Fatalf("tick: %q", got)
			}
			app.Must(t, 201, "POST", "/api/v1/incidents", admin, map[string]any{"title": "public"})
			if got := s.next(); !strings.Contains(got, "event: change") {
				t.Fatalf("public event: %q", got)
			}
		})
	})
}
