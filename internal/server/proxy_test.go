package server_test

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/server"
	"github.com/quenchhq/quench/internal/testenv"
)

// signIn posts the login form and returns the status.
func signIn(t *testing.T, app *testenv.App, user, password string, headers ...string) int {
	t.Helper()
	form := url.Values{"username": {user}, "password": {password}}.Encode()
	h := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)
	return app.Request(t, "POST", "/login", "", form, h...).Status
}

// Behind a load balancer every request arrives from the balancer: the
// throttle, the audit log and the sessions list must see the client it
// names, and only a trusted balancer may name one.
func TestClientAddressBehindProxy(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "ana", auth.RoleResponder)
		admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin)
		// The test's requests come from 127.0.0.1: the load balancer. A
		// second, internal hop (10.0.0.0/8) sits between it and the client.
		lb := app.WithServer(t, func(o *server.Options) {
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}
		})
		// The leftmost entry was written by the client and proves nothing.
		via := func(client string) []string {
			return []string{"X-Forwarded-For", "198.51.100.66, " + client + ", 10.1.2.3"}
		}

		for i := range 30 {
			if s := signIn(t, lb, fmt.Sprintf("nobody-%d", i), "wrong-password", via("203.0.113.9")...); s != 401 {
				t.Fatalf("failure %d: status %d", i, s)
			}
		}
		if s := signIn(t, lb, "ana", "password-ana", via("203.0.113.9")...); s != 429 {
			t.Fatalf("31st attempt from the failing client: %d, want 429", s)
		}
		if s := signIn(t, lb, "ana", "password-ana", via("203.0.113.10")...); s != 303 {
			t.Fatalf("another client behind the same proxy: %d, want 303 (signed in)", s)
		}
		// A change by a principal through the proxy names the client too.
		lb.Must(t, 201, "POST", "/api/v1/users", admin, map[string]any{"username": "cy", "role": "responder", "password": "password-cy-long"})
		r := lb.Request(t, "POST", "/api/v1/users", admin, map[string]any{"username": "dee", "role": "responder", "password": "password-dee-long"}, via("203.0.113.11")...)
		if r.Status != 201 {
			t.Fatalf("create user via proxy: %d %s", r.Status, r.Body)
		}

		// Which addresses each action was recorded from (how many rows a
		// burst of failures makes is the audit log's business).
		remotes := map[string]map[string]bool{}
		for _, e := range app.Must(t, 200, "GET", "/api/v1/audit?limit=1000", admin, nil).JSON["audit"].([]any) {
			e := e.(map[string]any)
			action, remote := e["action"].(string), e["remote"].(string)
			if remote == "" {
				continue // done by the test's setup, not over HTTP
			}
			if remotes[action] == nil {
				remotes[action] = map[string]bool{}
			}
			remotes[action][remote] = true
		}
		check := func(action string, want ...string) {
			t.Helper()
			var got []string
			for r := range remotes[action] {
				got = append(got, r)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("audit %s from %q, want %q", action, got, want)
			}
		}
		check("login_failed", "203.0.113.9")
		check("login_throttled", "203.0.113.9")
		check("login", "203.0.113.10")
		check("user_created", "203.0.113.11", "127.0.0.1")
		sessions := app.Must(t, 200, "GET", "/api/v1/sessions", admin, nil).JSON["sessions"].([]any)
		if len(sessions) != 1 || sessions[0].(map[string]any)["remote"] != "203.0.113.10" {
			t.Errorf("sessions: %v", sessions)
		}
	})
}

// A peer that is not a trusted proxy cannot pick its address: its
// X-Forwarded-For is ignored, so varying it dodges no throttle.
func TestForwardedForFromUntrustedPeerIgnored(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "ana", auth.RoleResponder)
		admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeAdmin)
		// Proxies are configured, but the test's address is not one.
		elsewhere := app.WithServer(t, func(o *server.Options) {
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		})
		for _, target := range []*testenv.App{app, elsewhere} {
			app.Clock.Advance(time.Hour) // the previous round's lockout is over
			for i := range 30 {
				spoof := fmt.Sprintf("203.0.113.%d", i)
				if s := signIn(t, target, fmt.Sprintf("nobody-%s-%d", target.URL, i), "wrong-password", "X-Forwarded-For", spoof); s != 401 {
					t.Fatalf("failure %d: status %d", i, s)
				}
			}
			if s := signIn(t, target, "ana", "password-ana", "X-Forwarded-For", "198.51.100.1"); s != 429 {
				t.Fatalf("%s: a fresh X-Forwarded-For escaped the throttle: %d", target.URL, s)
			}
		}
		for _, e := range app.Must(t, 200, "GET", "/api/v1/audit?limit=1000", admin, nil).JSON["audit"].([]any) {
			if remote := e.(map[string]any)["remote"]; remote != "127.0.0.1" && remote != "" {
				t.Fatalf("audit entry names a spoofed address: %v", e)
			}
		}
	})
}
