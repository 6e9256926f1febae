package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv/oidctest"
)

// secret has characters client_secret_basic must form-encode.
const secret = "client-secret/XYZ+&=%"

// rig is a Quench-side server with the two SSO routes, a provider, and a
// browser that keeps cookies but does not follow redirects.
type rig struct {
	t       *testing.T
	idp     *oidctest.Provider
	p       *Provider
	srv     *httptest.Server
	browser *http.Client

	mu       sync.Mutex
	clock    time.Time
	id       service.Identity
	err      error
	finished bool
	callback *http.Response
}

func newRig(t *testing.T, mutate func(*Config)) *rig {
	t.Helper()
	r := &rig{t: t, idp: oidctest.Start(t, "quench", secret), clock: time.Now()}
	mux := http.NewServeMux()
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	cfg := Config{Issuer: r.idp.Issuer(), ClientID: "quench", ClientSecret: secret, RedirectURL: r.srv.URL + "/login/oidc/callback",
		now: func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.clock }}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	mux.HandleFunc("GET /login/oidc", p.Begin)
	mux.HandleFunc("GET /login/oidc/callback", func(w http.ResponseWriter, req *http.Request) {
		id, err := p.Finish(w, req)
		r.mu.Lock()
		r.id, r.err, r.finished = id, err, true
		r.mu.Unlock()
	})
	jar, _ := cookiejar.New(nil)
	r.browser = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return r
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clock = r.clock.Add(d)
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

// begin asks Quench to start a sign-in and returns the authorize URL.
func (r *rig) begin() string {
	r.t.Helper()
	resp := r.get(r.srv.URL + "/login/oidc")
	if resp.StatusCode != http.StatusFound {
		r.t.Fatalf("begin: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// toProvider starts a sign-in, lets the provider answer and returns its
// redirect: the callback URL with code and state.
func (r *rig) toProvider() string {
	r.t.Helper()
	resp := r.get(r.begin())
	if resp.StatusCode != http.StatusFound {
		r.t.Fatalf("provider: %d", resp.StatusCode)
	}
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, r.srv.URL+"/login/oidc/callback?") {
		r.t.Fatalf("provider sent the browser to %s", cb)
	}
	return cb
}

// finish follows the provider's redirect back to the callback.
func (r *rig) finish(callback string) (service.Identity, error) {
	r.t.Helper()
	r.mu.Lock()
	r.finished = false
	r.mu.Unlock()
	resp := r.get(callback)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.finished {
		r.t.Fatalf("callback not reached: %d", resp.StatusCode)
	}
	r.callback = resp
	return r.id, r.err
}

// flowCookie returns the browser's flow cookie value, "" if none.
func (r *rig) flowCookie() string {
	u, _ := url.Parse(r.srv.URL + "/login/oidc/callback")
	for _, c := range r.browser.Jar.Cookies(u) {
		if c.Name == flowCookie {
			return c.Value
		}
	}
	return ""
}

func (r *rig) setFlowCookie(value string) {
	u, _ := url.Parse(r.srv.URL + "/login/oidc")
	r.browser.Jar.SetCookies(u, []*http.Cookie{{Name: flowCookie, Value: value, Path: "/login/oidc"}})
}

// flow decodes the browser's flow cookie as Quench would.
func (r *rig) flow() *flow {
	r.t.Helper()
	req := httptest.NewRequest("GET", "/login/oidc/callback", nil)
	req.AddCookie(&http.Cookie{Name: flowCookie, Value: r.flowCookie()})
	f, err := r.p.readFlow(req)
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

func param(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Query().Get(name)
}

func withParam(rawURL, name, value string) string {
	u, _ := url.Parse(rawURL)
	q := u.Query()
	if value == "" {
		q.Del(name)
	} else {
		q.Set(name, value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// checkSafe fails if an error shown to a person leaks the client secret,
// the code or a token.
func checkSafe(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		return
	}
	leaks := []string{secret, url.QueryEscape(secret), "eyJ", "code="}
	if code != "" {
		leaks = append(leaks, code)
	}
	msg := err.Error()
	if p, ok := problem.As(err); ok {
		msg += " " + p.Message
	}
	for _, s := range leaks {
		if strings.Contains(msg, s) {
			t.Fatalf("error leaks %q: %v", s, err)
		}
	}
}

func TestBegin(t *testing.T) {
	for _, secure := range []bool{false, true} {
		r := newRig(t, func(c *Config) { c.Secure = secure })
		w := httptest.NewRecorder()
		r.p.Begin(w, httptest.NewRequest("GET", "/login/oidc", nil))
		resp := w.Result()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("begin: %d %v", resp.StatusCode, resp.Header)
		}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies: %v", cookies)
		}
		c := cookies[0]
		if c.Name != flowCookie || c.Path != "/login/oidc" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.MaxAge != 600 || c.Secure != secure {
			t.Fatalf("flow cookie %+v", c)
		}
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, r.idp.Issuer()+"/authorize?") {
			t.Fatalf("redirect to %s", loc)
		}
		r.setFlowCookie(c.Value)
		f := r.flow()
		sum := sha256.Sum256([]byte(f.Verifier))
		for k, want := range map[string]string{
			"response_type": "code", "client_id": "quench", "redirect_uri": r.srv.URL + "/login/oidc/callback",
			"scope": "openid email profile", "state": f.State, "nonce": f.Nonce,
			"code_challenge_method": "S256", "code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]),
		} {
			if got := param(loc, k); got != want {
				t.Errorf("authorize %s = %q, want %q", k, got, want)
			}
		}
		if strings.Contains(loc, f.Verifier) || strings.Contains(loc, secret) {
			t.Fatal("the authorize URL carries the PKCE verifier or the secret")
		}
		if len(f.State) < 20 || len(f.Nonce) < 20 || len(f.Verifier) < 43 || f.State == f.Nonce {
			t.Fatalf("weak flow %+v", f)
		}
	}
	// Two sign-ins never share a state, nonce or verifier.
	r := newRig(t, nil)
	r.begin()
	a := r.flow()
	r.begin()
	b := r.flow()
	if a.State == b.State || a.Nonce == b.Nonce || a.Verifier == b.Verifier {
		t.Fatal("flows repeat")
	}
	if r.p.Name() != "single sign-on" {
		t.Fatalf("default name %q", r.p.Name())
	}
}

func TestSignIn(t *testing.T) {
	r := newRig(t, func(c *Config) { c.DisplayName = "Example SSO" })
	r.idp.SetUser(oidctest.User{Subject: "s-42", Email: "ana@example.com", EmailVerified: true, Name: "Ana", Groups: []string{"sre", "ci"}})
	cb := r.toProvider()
	id, err := r.finish(cb)
	if err != nil || id.Issuer != r.idp.Issuer() || id.Subject != "s-42" || id.Email != "ana@example.com" || !id.EmailVerified ||
		id.Name != "Ana" || strings.Join(id.Groups, ",") != "sre,ci" {
		t.Fatalf("identity %+v, %v", id, err)
	}
	if r.p.Name() != "Example SSO" {
		t.Fatalf("name %q", r.p.Name())
	}
	// The callback cleared the flow cookie: the answer is good once.
	if r.flowCookie() != "" {
		t.Fatal("flow cookie survives the callback")
	}
	if cc := r.callback.Cookies(); len(cc) != 1 || cc[0].Name != flowCookie || cc[0].MaxAge >= 0 || cc[0].Path != "/login/oidc" {
		t.Fatalf("callback cookies %v", cc)
	}
	if _, err := r.finish(cb); !problem.Is(err, "sso_no_flow") {
		t.Fatalf("second use of the answer: %v", err)
	}

	// An unverified address comes through as unverified, no groups as none.
	r.idp.SetUser(oidctest.User{Subject: "s-43", Email: "bob@example.com", Name: "Bob"})
	id, err = r.finish(r.toProvider())
	if err != nil || id.Subject != "s-43" || id.EmailVerified || id.Groups != nil {
		t.Fatalf("identity %+v, %v", id, err)
	}
}

func TestSignInFailures(t *testing.T) {
	cases := []struct {
		name string
		run  func(r *rig) (code string, err error)
		want string // problem code
		says string // in the message
	}{
		{"state mismatch", func(r *rig) (string, error) {
			cb := r.toProvider()
			_, err := r.finish(withParam(cb, "state", "x"+param(cb, "state")))
			return param(cb, "code"), err
		}, "sso_state_mismatch", "does not belong"},
		{"state missing", func(r *rig) (string, error) {
			cb := r.toProvider()
			_, err := r.finish(withParam(cb, "state", ""))
			return param(cb, "code"), err
		}, "sso_state_mismatch", "does not belong"},
		{"state of another sign-in", func(r *rig) (string, error) {
			// The attacker's own callback, planted in the victim's browser
			// (login CSRF): the victim's cookie holds another state.
			cb := r.toProvider()
			r.browser.Jar, _ = cookiejar.New(nil)
			r.begin()
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_state_mismatch", "does not belong"},
		{"no flow cookie", func(r *rig) (string, error) {
			cb := r.toProvider()
			r.browser.Jar, _ = cookiejar.New(nil)
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_no_flow", "start again"},
		{"tampered flow cookie", func(r *rig) (string, error) {
			cb := r.toProvider()
			v := r.flowCookie()
			r.setFlowCookie("AAAA" + v[4:])
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_bad_flow", "could not be checked"},
		{"flow cookie without MAC", func(r *rig) (string, error) {
			cb := r.toProvider()
			v, _, _ := strings.Cut(r.flowCookie(), ".")
			r.setFlowCookie(v)
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_bad_flow", "could not be checked"},
		{"flow cookie forged with another key", func(r *rig) (string, error) {
			// The attacker knows the state (it is in the URL) and makes up
			// a verifier, but not the key derived from the client secret.
			cb := r.toProvider()
			f := r.flow()
			f.Verifier = "attacker-chosen-verifier-attacker-chosen-verifier"
			other, err := New(context.Background(), Config{Issuer: r.idp.Issuer(), ClientID: "quench", ClientSecret: "guess",
				RedirectURL: r.srv.URL + "/login/oidc/callback"})
			if err != nil {
				return "", err
			}
			v, _ := other.encode(*f)
			r.setFlowCookie(v)
			_, err = r.finish(cb)
			return param(cb, "code"), err
		}, "sso_bad_flow", "could not be checked"},
		{"replayed code", func(r *rig) (string, error) {
			// Someone who captured both the callback URL and the flow
			// cookie replays them after the sign-in: the provider has
			// spent the code.
			cb := r.toProvider()
			saved := r.flowCookie()
			if _, err := r.finish(cb); err != nil {
				return "", err
			}
			r.setFlowCookie(saved)
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_exchange_failed", "invalid_grant"},
		{"PKCE verifier mismatch", func(r *rig) (string, error) {
			// Same state and nonce, another verifier: only PKCE can object.
			cb := r.toProvider()
			f := r.flow()
			f.Verifier = "another-verifier-another-verifier-another-verifier"
			v, _ := r.p.encode(*f)
			r.setFlowCookie(v)
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_exchange_failed", "invalid_grant"},
		{"no code", func(r *rig) (string, error) {
			cb := r.toProvider()
			_, err := r.finish(withParam(cb, "code", ""))
			return param(cb, "code"), err
		}, "sso_no_code", "no authorization code"},
		{"wrong client secret", func(r *rig) (string, error) {
			r2 := newRig(r.t, func(c *Config) { c.ClientSecret = "not-" + secret })
			cb := r2.toProvider()
			_, err := r2.finish(cb)
			return param(cb, "code"), err
		}, "sso_exchange_failed", "invalid_client"},
		{"wrong audience", func(r *rig) (string, error) {
			r.idp.Tamper(oidctest.WrongAudience)
			cb := r.toProvider()
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_bad_token", "audience"},
		{"wrong nonce", func(r *rig) (string, error) {
			r.idp.Tamper(oidctest.WrongNonce)
			cb := r.toProvider()
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_nonce_mismatch", "nonce"},
		{"expired token", func(r *rig) (string, error) {
			r.idp.Tamper(oidctest.Expired)
			cb := r.toProvider()
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_bad_token", "expired"},
		{"bad signature", func(r *rig) (string, error) {
			r.idp.Tamper(oidctest.BadSignature)
			cb := r.toProvider()
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_bad_token", "signature"},
		{"wrong issuer", func(r *rig) (string, error) {
			r.idp.Tamper(oidctest.WrongIssuer)
			cb := r.toProvider()
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_bad_token", "another issuer"},
		{"access denied", func(r *rig) (string, error) {
			r.begin()
			_, err := r.finish(r.srv.URL + "/login/oidc/callback?error=access_denied&error_description=eyJ-user-said-no&state=" + r.flow().State)
			if r.flowCookie() != "" {
				return "", nil // the flow must end here too
			}
			return "", err
		}, "sso_denied", "refused the sign-in"},
		{"other provider error", func(r *rig) (string, error) {
			r.begin()
			_, err := r.finish(r.srv.URL + "/login/oidc/callback?error=temporarily_unavailable" +
				"&error_description=" + url.QueryEscape("<script>alert(1)</script>"))
			if err != nil && (strings.Contains(err.Error(), "<") || strings.Contains(err.Error(), "alert")) {
				return "", nil // the provider's text must not be echoed
			}
			return "", err
		}, "sso_provider_error", "(temporarily_unavailable)"},
		{"flow older than 10 minutes", func(r *rig) (string, error) {
			cb := r.toProvider()
			r.advance(10*time.Minute + time.Second)
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_flow_expired", "too long"},
		{"flow from the future", func(r *rig) (string, error) {
			cb := r.toProvider()
			r.advance(-2 * time.Minute)
			_, err := r.finish(cb)
			return param(cb, "code"), err
		}, "sso_flow_expired", "too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, nil)
			code, err := c.run(r)
			p, ok := problem.As(err)
			if !ok || p.Code != c.want || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v, want %s saying %q", err, c.want, c.says)
			}
			wantKind := problem.Unauthenticated
			if c.want == "sso_denied" {
				wantKind = problem.Forbidden
			}
			if p.Kind != wantKind || p.Cause != nil {
				t.Fatalf("kind %v, cause %v", p.Kind, p.Cause)
			}
			checkSafe(t, err, code)
		})
	}
}

func TestCleanCode(t *testing.T) {
	for in, want := range map[string]string{"invalid_grant": "invalid_grant", "Bad<script>x": "adscriptx",
		strings.Repeat("a", 100): strings.Repeat("a", 40), "eyJ.abc": "eyabc"} {
		if got := cleanCode(in); got != want {
			t.Errorf("cleanCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// A flow is good for ten minutes by the MAC'd time, whatever the browser
// does with the cookie's Max-Age.
func TestFlowAge(t *testing.T) {
	r := newRig(t, nil)
	for _, c := range []struct {
		age  time.Duration
		want bool
	}{{0, true}, {9*time.Minute + 59*time.Second, true}, {10 * time.Minute, true}, {10*time.Minute + time.Second, false},
		{time.Hour, false}, {-30 * time.Second, true}, {-2 * time.Minute, false}} {
		v, err := r.p.encode(flow{State: "s", Nonce: "n", Verifier: "v", Created: r.clock.Add(-c.age)})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/login/oidc/callback", nil)
		req.AddCookie(&http.Cookie{Name: flowCookie, Value: v})
		if _, err := r.p.readFlow(req); (err == nil) != c.want {
			t.Errorf("age %v: %v", c.age, err)
		}
	}
}

func TestIdentityClaims(t *testing.T) {
	for _, c := range []struct {
		name   string
		claims map[string]any
		claim  string
		want   service.Identity
	}{
		{"full", map[string]any{"email": "a@x.org", "email_verified": true, "name": "A", "preferred_username": "a", "groups": []any{"g1", "g2"}},
			"groups", service.Identity{Email: "a@x.org", EmailVerified: true, Name: "A", Groups: []string{"g1", "g2"}}},
		{"preferred_username when no name", map[string]any{"preferred_username": "ana"}, "groups", service.Identity{Name: "ana"}},
		{"verified as a string", map[string]any{"email": "a@x.org", "email_verified": "true"}, "groups",
			service.Identity{Email: "a@x.org", EmailVerified: true}},
		{"unverified as a string", map[string]any{"email": "a@x.org", "email_verified": "false"}, "groups", service.Identity{Email: "a@x.org"}},
		{"verified missing", map[string]any{"email": "a@x.org"}, "groups", service.Identity{Email: "a@x.org"}},
		{"verified as a number", map[string]any{"email": "a@x.org", "email_verified": 1.0}, "groups", service.Identity{Email: "a@x.org"}},
		{"one group as a string", map[string]any{"roles": "sre"}, "roles", service.Identity{Groups: []string{"sre"}}},
		{"custom claim, other ignored", map[string]any{"roles": []any{"sre", 3.0, ""}, "groups": []any{"x"}}, "roles",
			service.Identity{Groups: []string{"sre"}}},
	} {
		got := identity("iss", "sub", c.claims, c.claim)
		c.want.Issuer, c.want.Subject = "iss", "sub"
		if got.Issuer != c.want.Issuer || got.Subject != c.want.Subject || got.Email != c.want.Email ||
			got.EmailVerified != c.want.EmailVerified || got.Name != c.want.Name || strings.Join(got.Groups, ",") != strings.Join(c.want.Groups, ",") {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestMayCreate(t *testing.T) {
	p := &Provider{cfg: Config{AllowedDomains: []string{"example.com", " @Example.ORG "}, AllowedGroups: []string{"sre"}}}
	for _, c := range []struct {
		id   service.Identity
		want bool
	}{
		{service.Identity{Email: "ana@example.com", EmailVerified: true}, true},
		{service.Identity{Email: "ana@EXAMPLE.com", EmailVerified: true}, true},
		{service.Identity{Email: "ana@example.org", EmailVerified: true}, true},
		{service.Identity{Email: "ana@example.com", EmailVerified: false}, false},
		{service.Identity{Email: "ana@evil-example.com", EmailVerified: true}, false},
		{service.Identity{Email: "ana@evilexample.com", EmailVerified: true}, false},
		{service.Identity{Email: "ana@mail.example.com", EmailVerified: true}, false},
		{service.Identity{Email: "ana@example.com.evil.net", EmailVerified: true}, false},
		{service.Identity{Email: "ana@example.com.", EmailVerified: true}, false},
		{service.Identity{Email: "ana@example.co", EmailVerified: true}, false},
		{service.Identity{Email: "ana@example.com@evil.net", EmailVerified: true}, false},
		{service.Identity{Email: "ana@exampl\u0435.com", EmailVerified: true}, false}, // Cyrillic е
		{service.Identity{Email: "example.com", EmailVerified: true}, false},
		{service.Identity{Email: "@example.com", EmailVerified: true}, false},
		{service.Identity{Email: "ana@", EmailVerified: true}, false},
		{service.Identity{Email: "", EmailVerified: true}, false},
		{service.Identity{Groups: []string{"ci", "sre"}}, true},
		{service.Identity{Email: "ana@evil.net", EmailVerified: false, Groups: []string{"sre"}}, true},
		{service.Identity{Groups: []string{"SRE"}}, false},
		{service.Identity{Groups: []string{"sre-admins"}}, false},
		{service.Identity{Groups: []string{""}}, false},
	} {
		if got := p.MayCreate(c.id); got != c.want {
			t.Errorf("MayCreate(%+v) = %v", c.id, got)
		}
	}
	// ASCII folding only: the Kelvin sign folds to k under Unicode rules.
	k := &Provider{cfg: Config{AllowedDomains: []string{"kafka.example"}}}
	if k.MayCreate(service.Identity{Email: "a@\u212aafka.example", EmailVerified: true}) {
		t.Error("a Unicode look-alike domain matched")
	}
	for _, p := range []*Provider{{}, {cfg: Config{AllowedDomains: []string{""}, AllowedGroups: []string{""}}}} {
		for _, id := range []service.Identity{{Email: "a@b.c", EmailVerified: true, Groups: []string{"x"}}, {Email: "@", EmailVerified: true, Groups: []string{""}}} {
			if p.MayCreate(id) {
				t.Errorf("an empty policy allowed %+v", id)
			}
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, ok, err := ConfigFromEnv(env(nil), "http://q"); ok || err != nil {
		t.Fatal("no issuer: SSO must be off")
	}
	for _, m := range []map[string]string{
		{"QUENCH_OIDC_ISSUER": "https://idp"},
		{"QUENCH_OIDC_ISSUER": "https://idp", "QUENCH_OIDC_CLIENT_ID": "q"},
		{"QUENCH_OIDC_ISSUER": "https://idp", "QUENCH_OIDC_CLIENT_SECRET": secret},
		{"QUENCH_OIDC_ISSUER": "https://idp", "QUENCH_OIDC_CLIENT_ID": "q", "QUENCH_OIDC_CLIENT_SECRET_FILE": "/nonexistent/" + secret[:6]},
	} {
		_, ok, err := ConfigFromEnv(env(m), "http://q")
		if !ok || err == nil {
			t.Fatalf("%v accepted", m)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the secret: %v", err)
		}
	}
	cfg, ok, err := ConfigFromEnv(env(map[string]string{"QUENCH_OIDC_ISSUER": "https://idp", "QUENCH_OIDC_CLIENT_ID": "q",
		"QUENCH_OIDC_CLIENT_SECRET": "s", "QUENCH_OIDC_ALLOWED_DOMAINS": "example.com, example.org,,", "QUENCH_OIDC_NAME": "Keycloak",
		"QUENCH_OIDC_ALLOWED_GROUPS": "sre", "QUENCH_OIDC_GROUPS_CLAIM": "roles", "QUENCH_OIDC_SCOPES": "openid,email,groups"}), "https://quench.example/")
	if !ok || err != nil || cfg.Issuer != "https://idp" || cfg.ClientID != "q" || cfg.ClientSecret != "s" ||
		cfg.RedirectURL != "https://quench.example/login/oidc/callback" || !cfg.Secure || cfg.DisplayName != "Keycloak" ||
		strings.Join(cfg.AllowedDomains, "|") != "example.com|example.org" || strings.Join(cfg.AllowedGroups, "|") != "sre" ||
		cfg.GroupsClaim != "roles" || strings.Join(cfg.Scopes, " ") != "openid email groups" {
		t.Fatalf("%+v %v %v", cfg, ok, err)
	}
	// The secret file wins and loses its trailing newline; plain http is
	// not Secure.
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, ok, err = ConfigFromEnv(env(map[string]string{"QUENCH_OIDC_ISSUER": "https://idp", "QUENCH_OIDC_CLIENT_ID": "q",
		"QUENCH_OIDC_CLIENT_SECRET": "ignored", "QUENCH_OIDC_CLIENT_SECRET_FILE": path}), "http://localhost:8080")
	if !ok || err != nil || cfg.ClientSecret != secret || cfg.Secure || cfg.RedirectURL != "http://localhost:8080/login/oidc/callback" ||
		cfg.AllowedDomains != nil || cfg.Scopes != nil {
		t.Fatalf("%+v %v %v", cfg, ok, err)
	}
}

func TestNew(t *testing.T) {
	idp := oidctest.Start(t, "q", secret)
	ok := Config{Issuer: idp.Issuer(), ClientID: "q", ClientSecret: secret, RedirectURL: "http://q/login/oidc/callback"}
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		says   string
	}{
		{"unreachable issuer", func(c *Config) { c.Issuer = "http://127.0.0.1:1" }, "cannot reach the issuer http://127.0.0.1:1"},
		{"issuer differs (trailing slash)", func(c *Config) { c.Issuer += "/" }, "names the issuer \"" + idp.Issuer() + "\""},
		{"no discovery document", func(c *Config) { c.Issuer += "/realms/none" }, "discovery at"},
		{"missing settings", func(c *Config) { c.ClientID, c.RedirectURL = "", "" }, "client id, redirect URL required"},
		{"relative redirect", func(c *Config) { c.RedirectURL = "/login/oidc/callback" }, "not an absolute"},
	} {
		cfg := ok
		c.mutate(&cfg)
		_, err := New(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want %q", c.name, err, c.says)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error leaks the secret", c.name)
		}
	}
	p, err := New(context.Background(), Config{Issuer: idp.Issuer(), ClientID: "q", ClientSecret: secret,
		RedirectURL: "http://q/login/oidc/callback", Scopes: []string{"email", "groups"}})
	if err != nil || strings.Join(p.oauth.Scopes, " ") != "openid email groups" || p.cfg.GroupsClaim != "groups" {
		t.Fatalf("defaults: %v %+v", err, p)
	}
}
