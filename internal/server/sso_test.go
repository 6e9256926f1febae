package server_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/oidc"
	"github.com/quenchhq/quench/internal/server"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
	"github.com/quenchhq/quench/internal/testenv/oidctest"
)

// ssoRig runs Quench with single sign-on against an in-process provider.
type ssoRig struct {
	app *testenv.App
	idp *oidctest.Provider
	url string
}

func newSSORig(t *testing.T) *ssoRig {
	app := testenv.StartApp(t, store.SQLite)
	idp := oidctest.Start(t, "quench", "sso-secret")
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	p, err := oidc.New(context.Background(), oidc.Config{Issuer: idp.Issuer(), ClientID: "quench", ClientSecret: "sso-secret",
		RedirectURL: base + "/login/oidc/callback", DisplayName: "Example SSO", AllowedDomains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.New(app.Svc, server.Options{BaseURL: base, SSO: p})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return &ssoRig{app: app, idp: idp, url: base}
}

// signIn walks the browser through the provider and back; it returns the
// final status and the principal the session belongs to ("" if none).
// The browser starts with the cookies given, if any.
func (r *ssoRig) signIn(t *testing.T, u oidctest.User, cookies ...*http.Cookie) (int, string, string) {
	r.idp.SetUser(u)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(mustURL(r.url), cookies)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := r.url + "/login/oidc"
	var resp *http.Response
	var body string
	for i := 0; i < 5; i++ {
		var err error
		if resp, err = c.Get(next); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 64<<10)
		n, _ := resp.Body.Read(b)
		resp.Body.Close()
		body = string(b[:n])
		if resp.StatusCode != 302 || strings.HasPrefix(resp.Header.Get("Location"), "/") {
			break
		}
		next = resp.Header.Get("Location")
	}
	if resp.StatusCode != 303 {
		return resp.StatusCode, "", body
	}
	me, err := c.Get(r.url + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	defer me.Body.Close()
	b := make([]byte, 4096)
	n, _ := me.Body.Read(b)
	return 303, string(b[:n]), body
}

func TestSingleSignOn(t *testing.T) {
	r := newSSORig(t)
	// The login page offers the button.
	resp, _ := http.Get(r.url + "/login")
	b := make([]byte, 8192)
	n, _ := resp.Body.Read(b)
	resp.Body.Close()
	if !strings.Contains(string(b[:n]), "Sign in with Example SSO") {
		t.Fatal("no SSO button")
	}

	// A verified address in the allowed domain gets a responder account.
	status, me, body := r.signIn(t, oidctest.User{Subject: "s-1", Email: "new.person@example.com", EmailVerified: true, Name: "New Person"})
	if status != 303 || !strings.Contains(me, `"username":"new.person"`) || !strings.Contains(me, `"role":"responder"`) {
		t.Fatalf("first sign-in: %d %s %.200s", status, me, body)
	}
	// Next time the same (issuer, subject) lands in the same account.
	if _, me, _ := r.signIn(t, oidctest.User{Subject: "s-1", Email: "changed@elsewhere.org", EmailVerified: true}); !strings.Contains(me, `"username":"new.person"`) {
		t.Fatalf("second sign-in: %s", me)
	}

	// A local account is never taken over by e-mail, verified or not.
	r.app.User(t, "ana", auth.RoleAdmin)
	r.app.Must(t, 200, "PATCH", "/api/v1/users/ana", r.app.User(t, "root", auth.RoleAdmin, auth.Scopes...), map[string]any{"email": "ana@corp.example"})
	for _, u := range []oidctest.User{
		{Subject: "s-2", Email: "ana@corp.example", EmailVerified: false},
		{Subject: "s-3", Email: "ana@corp.example", EmailVerified: true},
		{Subject: "s-4", Email: "someone@evil-example.com", EmailVerified: true},
		{Subject: "s-5", Email: "x@example.com", EmailVerified: false},
	} {
		if status, me, body := r.signIn(t, u); status != 403 || me != "" || !strings.Contains(body, "not linked") {
			t.Fatalf("%+v: %d %s", u, status, me)
		}
	}

	// An admin links an identity to ana: then it signs in as ana.
	if err := r.app.Svc.LinkIdentity(context.Background(), service.System, "ana", r.idp.Issuer(), "s-3"); err != nil {
		t.Fatal(err)
	}
	if _, me, _ := r.signIn(t, oidctest.User{Subject: "s-3", Email: "ana@corp.example", EmailVerified: true}); !strings.Contains(me, `"username":"ana"`) {
		t.Fatalf("linked identity: %s", me)
	}
	// Disabled accounts stay out.
	r.app.Must(t, 200, "PATCH", "/api/v1/users/new.person", r.app.Token(t, "root", auth.Scopes...), map[string]any{"disabled": true})
	if status, _, _ := r.signIn(t, oidctest.User{Subject: "s-1", Email: "new.person@example.com", EmailVerified: true}); status != 403 {
		t.Fatalf("disabled account: %d", status)
	}
	// A tampered token is refused.
	r.idp.Tamper(oidctest.WrongAudience)
	if status, _, _ := r.signIn(t, oidctest.User{Subject: "s-3", Email: "ana@corp.example", EmailVerified: true}); status != 403 {
		t.Fatalf("tampered token: %d", status)
	}
}

// Single sign-on works on the first try over an ended session's cookie.
func TestSingleSignOnOverEndedSession(t *testing.T) {
	r := newSSORig(t)
	r.app.User(t, "ana", auth.RoleResponder)
	ctx := context.Background()
	if err := r.app.Svc.LinkIdentity(ctx, service.System, "ana", r.idp.Issuer(), "s-1"); err != nil {
		t.Fatal(err)
	}
	secret, _, err := r.app.Svc.Login(ctx, "ana", "password-ana", service.Client{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.app.Svc.AuthenticateSession(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.app.Svc.Logout(ctx, p, service.Client{}); err != nil {
		t.Fatal(err)
	}
	ended := &http.Cookie{Name: "quench_session", Value: secret}
	status, me, body := r.signIn(t, oidctest.User{Subject: "s-1", Email: "ana@example.com", EmailVerified: true}, ended)
	if status != 303 || !strings.Contains(me, `"username":"ana"`) {
		t.Fatalf("sign-in over an ended session: %d %s %.300s", status, me, body)
	}
}
