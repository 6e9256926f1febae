package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t    *testing.T
	app  *testenv.App
	http *http.Client
}

func newBrowser(t *testing.T, app *testenv.App) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, app: app, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(method, path string, body io.Reader, headers ...string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.app.URL+path, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	return b.do("POST", path, strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

func (b *browser) login(user, password string) *http.Response {
	resp, _ := b.post("/login", url.Values{"username": {user}, "password": {password}, "next": {"/account"}})
	return resp
}

var csrfRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

func (b *browser) csrf() string {
	_, body := b.do("GET", "/account", nil)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		b.t.Fatalf("no CSRF token on /account: %s", body)
	}
	return m[1]
}

func TestLoginSessionAndLogout(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "ana", auth.RoleResponder)
		b := newBrowser(t, app)
		resp := b.login("ana", "password-ana")
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/account" {
			t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		c := resp.Header.Get("Set-Cookie")
		for _, want := range []string{"quench_session=qs_", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(c, want) {
				t.Errorf("cookie %q lacks %s", c, want)
			}
		}
		// The session reads internal content and writes with its CSRF token.
		resp, _ = b.do("GET", "/api/v1/me", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("me: %d", resp.StatusCode)
		}
		body := `{"title":"via the browser session"}`
		if resp, _ := b.do("POST", "/api/v1/incidents", strings.NewReader(body), "Content-Type", "application/json"); resp.StatusCode != 403 {
			t.Fatalf("session POST without CSRF token: %d", resp.StatusCode)
		}
		if resp, _ := b.do("POST", "/api/v1/incidents", strings.NewReader(body), "Content-Type", "application/json", "X-CSRF-Token", "wrong"); resp.StatusCode != 403 {
			t.Fatalf("session POST with a wrong CSRF token: %d", resp.StatusCode)
		}
		token := b.csrf()
		if resp, body := b.do("POST", "/api/v1/incidents", strings.NewReader(body), "Content-Type", "application/json", "X-CSRF-Token", token); resp.StatusCode != 201 {
			t.Fatalf("session POST with CSRF token: %d %s", resp.StatusCode, body)
		}
		// Cross-site requests are refused even with the token.
		if resp, _ := b.do("POST", "/api/v1/incidents", strings.NewReader(body), "Content-Type", "application/json", "X-CSRF-Token", token, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 403 {
			t.Fatalf("cross-site POST: %d", resp.StatusCode)
		}
		if resp, _ := b.do("POST", "/api/v1/incidents", strings.NewReader(body), "Content-Type", "application/json", "X-CSRF-Token", token, "Origin", "https://evil.example"); resp.StatusCode != 403 {
			t.Fatalf("foreign-origin POST: %d", resp.StatusCode)
		}
		// Logout needs the token too, then the cookie is dead.
		if resp, _ := b.post("/logout", url.Values{}); resp.StatusCode != 403 {
			t.Fatalf("logout without token: %d", resp.StatusCode)
		}
		old := b.http.Jar.Cookies(mustURL(app.URL))
		if resp, _ := b.post("/logout", url.Values{"csrf": {token}}); resp.StatusCode != 303 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		replay := newBrowser(t, app)
		replay.http.Jar.SetCookies(mustURL(app.URL), old)
		resp, body = replay.do("GET", "/api/v1/me", nil)
		if resp.StatusCode != 401 || strings.Contains(body, old[0].Value) {
			t.Fatalf("ended session: %d %s", resp.StatusCode, body)
		}
		if !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatal("ended session cookie not cleared")
		}
	})
}

func mustURL(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}

func TestMalformedCookieIs401(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	for _, v := range []string{"garbage", "qs_" + strings.Repeat("a", 52), "qs_<script>"} {
		resp, body := newBrowser(t, app).do("GET", "/api/v1/incidents", nil, "Cookie", "quench_session="+v)
		if resp.StatusCode != 401 || strings.Contains(body, v) {
			t.Errorf("cookie %q: %d %s", v, resp.StatusCode, body)
		}
		resp, body = newBrowser(t, app).do("GET", "/account", nil, "Cookie", "quench_session="+v)
		if resp.StatusCode != 401 || strings.Contains(body, v) || !strings.Contains(body, "Sign in") {
			t.Errorf("page with cookie %q: %d", v, resp.StatusCode)
		}
	}
}

// Unknown users and wrong passwords look the same; repeated failures are
// throttled per account, even for the right password afterwards.
func TestLoginFailuresAndThrottling(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	app.User(t, "ana", auth.RoleResponder)
	_, wrong := newBrowser(t, app).post("/login", url.Values{"username": {"ana"}, "password": {"nope-nope-nope"}})
	_, unknown := newBrowser(t, app).post("/login", url.Values{"username": {"ghost"}, "password": {"nope-nope-nope"}})
	norm := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "ghost", "X"), "ana", "X") }
	if norm(wrong) != norm(unknown) {
		t.Fatalf("wrong password and unknown user answer differently:\n%s\n%s", wrong, unknown)
	}
	b := newBrowser(t, app)
	for i := 0; i < 4; i++ {
		if resp := b.login("ana", "wrong-password"); resp.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	if resp := b.login("ana", "wrong-password"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("throttled attempt: %d", resp.StatusCode)
	}
	if resp := b.login("ana", "password-ana"); resp.StatusCode != 429 {
		t.Fatalf("right password while throttled: %d", resp.StatusCode)
	}
	app.Clock.Advance(16 * time.Minute)
	if resp := b.login("ana", "password-ana"); resp.StatusCode != 303 {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
	admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeAdmin)
	entries := app.Must(t, 200, "GET", "/api/v1/audit?limit=100", admin, nil).JSON["audit"].([]any)
	count := map[string]int{}
	var throttled float64
	for _, e := range entries {
		e := e.(map[string]any)
		count[e["action"].(string)]++
		if e["action"] == "login_throttled" {
			throttled = e["detail"].(map[string]any)["count"].(float64)
		}
	}
	// Both throttled attempts are one row, counted once the window ended.
	if count["login_failed"] != 6 || count["login_throttled"] != 1 || throttled != 2 || count["login"] != 1 || count["token_created"] < 1 {
		t.Fatalf("audit counts %v, throttled %v", count, throttled)
	}
	if r := app.Request(t, "GET", "/api/v1/audit", app.Token(t, "root", auth.ScopeRead), nil); r.Status != 403 {
		t.Fatalf("audit with a read token: %d", r.Status)
	}
}

// Disabling a user, resetting or changing a password end sessions and
// tokens on the next request; tokens ended by disabling stay ended.
func TestRevocation(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin)
		tok := app.User(t, "ana", auth.RoleResponder)
		one, two := newBrowser(t, app), newBrowser(t, app)
		one.login("ana", "password-ana")
		two.login("ana", "password-ana")
		me := func(b *browser) int { resp, _ := b.do("GET", "/api/v1/me", nil); return resp.StatusCode }

		// A changed password ends the other session, not this one.
		resp, body := one.post("/account/password", url.Values{"csrf": {one.csrf()}, "current": {"password-ana"}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-1"}})
		if resp.StatusCode != 303 {
			t.Fatalf("change password: %d %s", resp.StatusCode, body)
		}
		if me(one) != 200 || me(two) != 401 {
			t.Fatalf("after password change: this %d, other %d", me(one), me(two))
		}
		// Revoking a session by the API ends it.
		three := newBrowser(t, app)
		three.login("ana", "a-new-password-1")
		sessions := app.Must(t, 200, "GET", "/api/v1/sessions", admin, nil).JSON["sessions"].([]any)
		if len(sessions) != 2 {
			t.Fatalf("sessions: %v", sessions)
		}
		for _, s := range sessions {
			id := s.(map[string]any)["id"].(string)
			app.Must(t, 204, "DELETE", "/api/v1/sessions/"+id, admin, nil)
		}
		if me(one) != 401 || me(three) != 401 {
			t.Fatal("revoked sessions still work")
		}
		// Disabling ends sessions and tokens on the next request.
		four := newBrowser(t, app)
		four.login("ana", "a-new-password-1")
		app.Must(t, 200, "PATCH", "/api/v1/users/ana", admin, map[string]any{"disabled": true})
		if me(four) != 401 {
			t.Fatal("disabled user's session works")
		}
		if r := app.Request(t, "GET", "/api/v1/incidents", tok, nil); r.Status != 401 {
			t.Fatalf("disabled user's token: %d", r.Status)
		}
		if resp := newBrowser(t, app).login("ana", "a-new-password-1"); resp.StatusCode != 401 {
			t.Fatalf("disabled user logs in: %d", resp.StatusCode)
		}
		// Re-enabled, the old token stays revoked; an admin password reset
		// ends every session and, by default, every token.
		app.Must(t, 200, "PATCH", "/api/v1/users/ana", admin, map[string]any{"disabled": false})
		if r := app.Request(t, "GET", "/api/v1/incidents", tok, nil); r.Status != 401 {
			t.Fatalf("token after re-enable: %d", r.Status)
		}
		five := newBrowser(t, app)
		five.login("ana", "a-new-password-1")
		fresh := app.Token(t, "ana")
		app.Must(t, 200, "PATCH", "/api/v1/users/ana", admin, map[string]any{"password": "reset-by-admin-1"})
		if me(five) != 401 {
			t.Fatal("session survived an admin password reset")
		}
		if r := app.Request(t, "GET", "/api/v1/incidents", fresh, nil); r.Status != 401 {
			t.Fatalf("token after a password reset: %d", r.Status)
		}
		// Asked to, a reset leaves the tokens alone (sessions still end).
		kept := app.Token(t, "ana")
		six := newBrowser(t, app)
		six.login("ana", "reset-by-admin-1")
		app.Must(t, 200, "PATCH", "/api/v1/users/ana", admin, map[string]any{"password": "reset-by-admin-2", "revoke_tokens": false})
		if me(six) != 401 {
			t.Fatal("session survived a password reset that kept tokens")
		}
		if r := app.Request(t, "GET", "/api/v1/incidents", kept, nil); r.Status != 200 {
			t.Fatalf("kept token after a password reset: %d", r.Status)
		}
		// The audit log says what ended.
		details := map[string]map[string]any{}
		for _, e := range app.Must(t, 200, "GET", "/api/v1/audit?limit=100", admin, nil).JSON["audit"].([]any) {
			e := e.(map[string]any)
			if _, seen := details[e["action"].(string)]; !seen { // newest first
				details[e["action"].(string)] = e["detail"].(map[string]any)
			}
		}
		if d := details["user_disabled"]; d["tokens_revoked"] != 1.0 || d["sessions_ended"] != 1.0 {
			t.Errorf("user_disabled detail %v", d)
		}
		if d := details["password_reset"]; d["revoke_tokens"] != false || d["tokens_revoked"] != nil || d["sessions_ended"] != 1.0 {
			t.Errorf("last password_reset detail %v", d)
		}
	})
}

// After signing in, people land only on this site's paths.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	app.User(t, "ana", auth.RoleResponder)
	for next, want := range map[string]string{
		"/incidents/4": "/incidents/4", "https://evil.example": "/", "//evil.example": "/", "/\\evil.example": "/",
		"https:evil.example": "/", "/%2F%2Fevil.example": "/", "\\/\\/evil.example": "/",
	} {
		resp, _ := newBrowser(t, app).post("/login", url.Values{"username": {"ana"}, "password": {"password-ana"}, "next": {next}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != want {
			t.Errorf("next=%q: %d → %q, want %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

// Signing in works on the first try whatever ended session the browser
// still sends: the stale cookie is replaced by the new session's, not
// answered with "your session has ended". The sign-in form stays
// protected against cross-site posts all the same.
func TestLoginOverEndedSession(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeAdmin)
		app.User(t, "ana", auth.RoleResponder)
		me := func(b *browser) int { resp, _ := b.do("GET", "/api/v1/me", nil); return resp.StatusCode }
		signIn := func(b *browser, why string) {
			t.Helper()
			resp := b.login("ana", "password-ana")
			if resp.StatusCode != 303 || resp.Header.Get("Location") != "/account" {
				t.Fatalf("sign-in over a %s session: %d %s", why, resp.StatusCode, resp.Header.Get("Location"))
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) != 1 || !strings.HasPrefix(c[0], "quench_session=qs_") {
				t.Fatalf("sign-in over a %s session sets cookies %q, want only the new session", why, c)
			}
			if me(b) != 200 {
				t.Fatalf("the session opened over a %s one does not work", why)
			}
		}

		revoked := newBrowser(t, app)
		revoked.login("ana", "password-ana")
		sessions := app.Must(t, 200, "GET", "/api/v1/sessions", admin, nil).JSON["sessions"].([]any)
		if len(sessions) != 1 {
			t.Fatalf("sessions: %v", sessions)
		}
		app.Must(t, 204, "DELETE", "/api/v1/sessions/"+sessions[0].(map[string]any)["id"].(string), admin, nil)

		// A cross-site post of the right credentials is refused before
		// the stale cookie is looked at, and opens no session.
		form := url.Values{"username": {"ana"}, "password": {"password-ana"}, "next": {"/account"}}
		for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
			resp, _ := revoked.do("POST", "/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded", h[0], h[1])
			if resp.StatusCode != 403 || strings.Contains(resp.Header.Get("Set-Cookie"), "qs_") {
				t.Fatalf("cross-site sign-in (%s) over a revoked session: %d %q", h[0], resp.StatusCode, resp.Header.Get("Set-Cookie"))
			}
		}
		signIn(revoked, "revoked")

		// Sessions left idle past their limit: a wrong password is told as
		// such, the right one signs in.
		idle, mistyped := newBrowser(t, app), newBrowser(t, app)
		idle.login("ana", "password-ana")
		mistyped.login("ana", "password-ana")
		app.Clock.Advance(8 * 24 * time.Hour)
		resp, body := mistyped.post("/login", url.Values{"username": {"ana"}, "password": {"wrong-password"}})
		if resp.StatusCode != 401 || !strings.Contains(body, "wrong user name or password") {
			t.Fatalf("wrong password over an expired session: %d %s", resp.StatusCode, body)
		}
		signIn(idle, "expired")
	})
}
