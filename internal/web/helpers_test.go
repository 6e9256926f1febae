package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/testenv"
)

// session is a browser-like client: a cookie jar, no redirect following.
type session struct {
	t    *testing.T
	app  *testenv.App
	http *http.Client
	csrf string
}

func signIn(t *testing.T, app *testenv.App, user string) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &session{t: t, app: app, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if user == "" {
		return s
	}
	resp, _ := s.post("/login", url.Values{"username": {user}, "password": {"password-" + user}})
	if resp.StatusCode != 303 {
		t.Fatalf("sign in as %s: %d", user, resp.StatusCode)
	}
	_, body := s.get("/account")
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token")
	}
	s.csrf = m[1]
	return s
}

func (s *session) do(req *http.Request) (*http.Response, string) {
	s.t.Helper()
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (s *session) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", s.app.URL+path, nil)
	return s.do(req)
}

// post sends a form; the session's CSRF token is added unless the form
// already has a csrf field (set it to "" to leave it out).
func (s *session) post(path string, form url.Values) (*http.Response, string) {
	if _, ok := form["csrf"]; !ok && s.csrf != "" {
		form.Set("csrf", s.csrf)
	}
	req, _ := http.NewRequest("POST", s.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

func mustPrincipal(tb testing.TB, app *testenv.App, token string) auth.Principal {
	p, err := app.Svc.AuthenticateToken(context.Background(), token)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func incidentVisibility(s string) incident.Visibility { return incident.Visibility(s) }
