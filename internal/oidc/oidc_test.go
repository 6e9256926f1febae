package oidc

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv/oidctest"
)

const secret = "client-secret-XYZ"

// rig is a Quench-side server with the two SSO routes and a browser.
type rig struct {
	t       *testing.T
	idp     *oidctest.Provider
	p       *Provider
	srv     *httptest.Server
	browser *http.Client
	clock   time.Time

	mu  sync.Mutex
	id  service.Identity
	err error
}

func newRig(t *testing.T, mutate func(*Config)) *rig {
	r := &rig{t: t, idp: oidctest.Start(t, "quench", secret), clock: time.Now()}
	mux := http.NewServeMux()
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	cfg := Config{Issuer: r.idp.Issuer(), ClientID: "quench", ClientSecret: secret, RedirectURL: r.srv.URL + "/login/oidc/callback",
		Now: func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.clock }}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	mux.HandleFunc("/login/oidc", p.Begin)
	mux.HandleFunc("/login/oidc/callback", func(w http.ResponseWriter, req *http.Request) {
		id, err := p.Finish(w, req)
		r.mu.Lock()
		r.id, r.err = id, err
		r.mu.Unlock()
	})
	jar, _ := cookiejar.New(nil)
	r.browser = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return r
}

func (r *rig) get(u string) *http.Response {
	r.t.Helper()
	resp, err := r.browser.Get(u)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// toProvider starts a sign-in and returns the provider's answer: the
// callback URL with code and state.
func (r *rig) toProvider() string {
	resp := r.get(r.srv.URL + "/login/oidc")
	if resp.StatusCode != 302 {
		r.t.Fatalf("begin: %d", resp.StatusCode)
	}
	auth := resp.Header.Get("Location")
	if !strings.Contains(auth, "code_challenge_method=S256") || !strings.Contains(auth, "nonce=") {
		r.t.Fatalf("authorize URL lacks PKCE or nonce: %s", auth)
	}
	resp = r.get(auth)
	if resp.StatusCode != 302 {
		r.t.Fatalf("provider: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func (r *rig) finish(callback string) (service.Identity, error) {
	r.get(callback)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id, r.err
}

func (r *rig) checkSafe(err error) {
	r.t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{secret, "code=", "eyJ"} {
		if strings.Contains(err.Error(), s) {
			r.t.Fatalf("error leaks %q: %v", s, err)
		}
	}
}

func TestSignIn(t *testing.T) {
	r := newRig(t, nil)
	r.idp.SetUser(oidctest.User{Subject: "s-42", Email: "ana@example.com", EmailVerified: true, Name: "Ana", Groups: []string{"sre", "ci"}})
	id, err := r.finish(r.toProvider())
	if err != nil || id.Issuer != r.idp.Issuer() || id.Subject != "s-42" || id.Email != "ana@example.com" || !id.EmailVerified ||
		id.Name != "Ana" || strings.Join(id.Groups, ",") != "sre,ci" {
		t.Fatalf("identity %+v, %v", id, err)
	}
}

func TestSignInFailures(t *testing.T) {
	cases := []struct {
		name string
		run  func(r *rig) error
		want string
	}{
		{"state mismatch", func(r *rig) error {
			cb := strings.Replace(r.toProvider(), "state=", "state=x", 1)
			_, err := r.finish(cb)
			return err
		}, "does not belong"},
		{"no flow cookie", func(r *rig) error {
			cb := r.toProvider()
			r.browser.Jar, _ = cookiejar.New(nil)
			_, err := r.finish(cb)
			return err
		}, "start again"},
		{"forged flow cookie", func(r *rig) error {
			cb := r.toProvider()
			u, _ := url.Parse(r.srv.URL + "/login/oidc")
			c := r.browser.Jar.Cookies(u)[0]
			c.Value = "AAAA" + c.Value[4:]
			c.Path = "/login/oidc" // replace the genuine cookie
			r.browser.Jar.SetCookies(u, []*http.Cookie{c})
			_, err := r.finish(cb)
			return err
		}, "could not be checked"},
		{"replayed code", func(r *rig) error {
			cb := r.toProvider()
			if _, err := r.finish(cb); err != nil {
				return err
			}
			// The browser starts again; an attacker replays the old answer.
			r.get(r.srv.URL + "/login/oidc")
			_, err := r.finish(cb)
			return err
		}, "does not belong"},
		{"wrong audience", func(r *rig) error {
			r.idp.Tamper(oidctest.WrongAudience)
			_, err := r.finish(r.toProvider())
			return err
		}, "not valid"},
		{"wrong nonce", func(r *rig) error { r.idp.Tamper(oidctest.WrongNonce); _, err := r.finish(r.toProvider()); return err }, "does not belong"},
		{"expired token", func(r *rig) error { r.idp.Tamper(oidctest.Expired); _, err := r.finish(r.toProvider()); return err }, "not valid"},
		{"bad signature", func(r *rig) error {
			r.idp.Tamper(oidctest.BadSignature)
			_, err := r.finish(r.toProvider())
			return err
		}, "not valid"},
		{"wrong issuer", func(r *rig) error { r.idp.Tamper(oidctest.WrongIssuer); _, err := r.finish(r.toProvider()); return err }, "not valid"},
		{"PKCE verifier mismatch", func(r *rig) error {
			cb := r.toProvider()
			// A flow cookie from another sign-in carries another verifier:
			// forge nothing, just swap in a second begin's cookie with the
			// first answer's state replaced by the second's.
			r.get(r.srv.URL + "/login/oidc")
			u, _ := url.Parse(r.srv.URL + "/login/oidc")
			f, err := r.p.readFlow(&http.Request{Header: http.Header{"Cookie": {flowCookie + "=" + r.browser.Jar.Cookies(u)[0].Value}}})
			if err != nil {
				return err
			}
			q, _ := url.Parse(cb)
			v := q.Query()
			v.Set("state", f.State)
			_, err = r.finish(r.srv.URL + "/login/oidc/callback?" + v.Encode())
			return err
		}, "did not accept"},
		{"provider refused", func(r *rig) error {
			r.get(r.srv.URL + "/login/oidc")
			_, err := r.finish(r.srv.URL + "/login/oidc/callback?error=access_denied&state=x")
			return err
		}, "refused"},
		{"too slow", func(r *rig) error {
			cb := r.toProvider()
			r.mu.Lock()
			r.clock = r.clock.Add(11 * time.Minute)
			r.mu.Unlock()
			_, err := r.finish(cb)
			return err
		}, "too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, nil)
			err := c.run(r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			r.checkSafe(err)
		})
	}
}

func TestMayCreate(t *testing.T) {
	p := &Provider{cfg: Config{AllowedDomains: []string{"example.com"}, AllowedGroups: []string{"sre"}}}
	for _, c := range []struct {
		id   service.Identity
		want bool
	}{
		{service.Identity{Email: "ana@example.com", EmailVerified: true}, true},
		{service.Identity{Email: "ana@EXAMPLE.com", EmailVerified: true}, true},
		{service.Identity{Email: "ana@example.com", EmailVerified: false}, false},
		{service.Identity{Email: "ana@evil-example.com", EmailVerified: true}, false},
		{service.Identity{Email: "ana@example.com.evil.net", EmailVerified: true}, false},
		{service.Identity{Email: "example.com", EmailVerified: true}, false},
		{service.Identity{Groups: []string{"ci", "sre"}}, true},
		{service.Identity{Groups: []string{"SRE"}}, false},
	} {
		if got := p.MayCreate(c.id); got != c.want {
			t.Errorf("MayCreate(%+v) = %v", c.id, got)
		}
	}
	if (&Provider{}).MayCreate(service.Identity{Email: "a@b.c", EmailVerified: true, Groups: []string{"x"}}) {
		t.Error("an empty policy allowed someone")
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, ok, err := ConfigFromEnv(env(nil), "http://q"); ok || err != nil {
		t.Fatal("no issuer: SSO must be off")
	}
	if _, _, err := ConfigFromEnv(env(map[string]string{"QUENCH_OIDC_ISSUER": "https://idp"}), "http://q"); err == nil {
		t.Fatal("issuer without client accepted")
	}
	cfg, ok, err := ConfigFromEnv(env(map[string]string{"QUENCH_OIDC_ISSUER": "https://idp", "QUENCH_OIDC_CLIENT_ID": "q",
		"QUENCH_OIDC_CLIENT_SECRET": "s", "QUENCH_OIDC_ALLOWED_DOMAINS": "example.com, example.org", "QUENCH_OIDC_NAME": "Keycloak"}), "https://quench.example/")
	if !ok || err != nil || cfg.RedirectURL != "https://quench.example/login/oidc/callback" || len(cfg.AllowedDomains) != 2 || !cfg.Secure || cfg.DisplayName != "Keycloak" {
		t.Fatalf("%+v %v %v", cfg, ok, err)
	}
}

func TestDiscoveryFailures(t *testing.T) {
	if _, err := New(context.Background(), Config{Issuer: "http://127.0.0.1:1", ClientID: "q", ClientSecret: "s", RedirectURL: "http://q/cb"}); err == nil {
		t.Fatal("unreachable issuer accepted")
	}
	idp := oidctest.Start(t, "q", "s")
	if _, err := New(context.Background(), Config{Issuer: idp.Issuer() + "/", ClientID: "q", ClientSecret: "s", RedirectURL: "http://q/cb"}); err == nil {
		t.Fatal("issuer mismatch accepted")
	}
}
