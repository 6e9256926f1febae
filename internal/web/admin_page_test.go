package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func TestAdminPages(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "root", auth.RoleAdmin)
		app.User(t, "ana", auth.RoleResponder)
		s := signIn(t, app, "root")
		for _, p := range []string{"/admin", "/admin/users", "/admin/tokens", "/admin/integrations", "/admin/sessions", "/admin/audit", "/admin/settings"} {
			if resp, _ := s.get(p); resp.StatusCode != 200 {
				t.Errorf("GET %s: %d", p, resp.StatusCode)
			}
		}
		// A user with a generated password, shown once.
		resp, body := s.post("/admin/users", url.Values{"username": {"bo"}, "display_name": {`<script>alert(1)</script>`}})
		secret := regexp.MustCompile(`id="secret" class="secret">([^<]+)<`).FindStringSubmatch(body)
		if resp.StatusCode != 200 || secret == nil || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("create user: %d %v", resp.StatusCode, secret)
		}
		if _, users := s.get("/admin/users"); strings.Contains(users, secret[1]) || strings.Contains(users, "<script>alert") {
			t.Fatal("user list shows the password or raw script")
		}
		if resp, body := s.post("/admin/users", url.Values{"username": {"Bad Name"}}); resp.StatusCode != 422 || !strings.Contains(body, "user name must be") {
			t.Fatalf("bad user name: %d", resp.StatusCode)
		}
		if resp, body := s.post("/admin/users/root", url.Values{"do": {"disable"}}); resp.StatusCode != 409 || !strings.Contains(body, "last admin") {
			t.Fatalf("disable the last admin: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/admin/users/bo", url.Values{"do": {"role"}, "role": {"admin"}}); resp.StatusCode != 303 {
			t.Fatalf("role: %d", resp.StatusCode)
		}
		// A token, shown once.
		resp, body = s.post("/admin/tokens", url.Values{"user": {"ana"}, "name": {"dashboards"}, "scope": {"read"}, "expires": {"30d"}})
		tok := regexp.MustCompile(`(qnch_[a-z0-9]+)`).FindString(body)
		if resp.StatusCode != 200 || tok == "" {
			t.Fatalf("create token: %d", resp.StatusCode)
		}
		if r := app.Request(t, "GET", "/api/v1/incidents", tok, nil); r.Status != 200 {
			t.Fatalf("new token: %d", r.Status)
		}
		if _, list := s.get("/admin/tokens"); strings.Contains(list, tok) || !strings.Contains(list, "dashboards") {
			t.Fatal("token list")
		}
		if resp, _ := s.post("/admin/tokens", url.Values{"user": {"ana"}, "name": {"x"}, "scope": {"admin"}}); resp.StatusCode != 403 {
			t.Fatalf("admin scope for a responder: %d", resp.StatusCode)
		}
		// An integration with its snippet, once.
		resp, body = s.post("/admin/integrations", url.Values{"type": {"alertmanager"}, "name": {`prod "<b>"`}})
		itok := regexp.MustCompile(`(qnch_int_[a-z0-9]+)`).FindString(body)
		if resp.StatusCode != 200 || itok == "" || !strings.Contains(body, "webhook_configs") || strings.Contains(body, "<b>") {
			t.Fatalf("integration: %d", resp.StatusCode)
		}
		_, list := s.get("/admin/integrations")
		if strings.Contains(list, itok) {
			t.Fatal("integration list shows the token")
		}
		id := regexp.MustCompile(`/admin/integrations/([a-z0-9]+)/remove`).FindStringSubmatch(list)[1]
		if resp, body := s.post("/admin/integrations/"+id+"/remove", url.Values{}); resp.StatusCode != 422 || !strings.Contains(body, "confirm") {
			t.Fatalf("remove without confirming: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/admin/integrations/"+id+"/remove", url.Values{"confirm": {"1"}}); resp.StatusCode != 303 {
			t.Fatalf("remove: %d", resp.StatusCode)
		}
		if resp, body := s.post("/admin/rules", url.Values{"action": {"open"}, "matchers": {`x=~"(("`}}); resp.StatusCode != 422 || !strings.Contains(body, "matchers") {
			t.Fatalf("bad rule: %d", resp.StatusCode)
		}
		if _, audit := s.get("/admin/audit"); !strings.Contains(audit, "token_created") || !strings.Contains(audit, "role_changed") {
			t.Fatal("audit page")
		}
		if resp, _ := s.post("/admin/users", url.Values{"username": {"eve"}, "csrf": {""}}); resp.StatusCode != 403 {
			t.Fatalf("no CSRF token: %d", resp.StatusCode)
		}
		// Responders and viewers are kept out.
		if resp, _ := signIn(t, app, "ana").get("/admin/users"); resp.StatusCode != 403 {
			t.Fatalf("responder: %d", resp.StatusCode)
		}
		if resp, _ := signIn(t, app, "").get("/admin"); resp.StatusCode != 303 {
			t.Fatalf("anonymous: %d", resp.StatusCode)
		}
	})
}

// Resetting a password on the users page revokes the user's API tokens
// unless the admin unticks the box, which is ticked by default; disabling
// revokes them for good.
func TestAdminResetAndDisableEndTokens(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "root", auth.RoleAdmin)
		tok := app.User(t, "ana", auth.RoleResponder)
		s := signIn(t, app, "root")
		works := func(tok string) bool { return app.Request(t, "GET", "/api/v1/incidents", tok, nil).Status == 200 }
		_, page := s.get("/admin/users")
		if !regexp.MustCompile(`<input type="checkbox" name="revoke_tokens" value="1" checked>`).MatchString(page) {
			t.Fatal("the reset form has no ticked revoke-tokens box")
		}
		// Unticked: the browser sends no revoke_tokens field.
		resp, body := s.post("/admin/users/ana", url.Values{"do": {"reset"}})
		if resp.StatusCode != 200 || !strings.Contains(body, "API tokens still work") || !works(tok) {
			t.Fatalf("reset keeping tokens: %d, token works %v", resp.StatusCode, works(tok))
		}
		resp, body = s.post("/admin/users/ana", url.Values{"do": {"reset"}, "revoke_tokens": {"1"}})
		if resp.StatusCode != 200 || !strings.Contains(body, "Every session and API token of ana has ended") || works(tok) {
			t.Fatalf("reset revoking tokens: %d, token works %v", resp.StatusCode, works(tok))
		}
		fresh := app.Token(t, "ana")
		if resp, _ := s.post("/admin/users/ana", url.Values{"do": {"disable"}}); resp.StatusCode != 303 {
			t.Fatalf("disable: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/admin/users/ana", url.Values{"do": {"enable"}}); resp.StatusCode != 303 {
			t.Fatalf("enable: %d", resp.StatusCode)
		}
		if works(fresh) {
			t.Fatal("a token came back with its re-enabled user")
		}
		if _, audit := s.get("/admin/audit"); !strings.Contains(audit, "tokens_revoked") {
			t.Fatal("the audit page does not say tokens were revoked")
		}
	})
}

// The onboarding page writes what `quench onboard` prints: the route and
// receiver with the new integration's token (once), and the rules; a bad
// name is refused with the form kept.
func TestAdminOnboardPage(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	app.User(t, "root", auth.RoleAdmin)
	s := signIn(t, app, "root")
	if resp, body := s.get("/admin/onboard"); resp.StatusCode != 200 || !strings.Contains(body, `name="service"`) {
		t.Fatalf("GET /admin/onboard: %d", resp.StatusCode)
	}
	resp, body := s.post("/admin/onboard", url.Values{"service": {"Billing!"}, "namespace": {"payments"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "Kubernetes") || !strings.Contains(body, `value="payments"`) {
		t.Fatalf("bad name: %d", resp.StatusCode)
	}
	resp, body = s.post("/admin/onboard", url.Values{"service": {"billing"}, "namespace": {"payments"}})
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("onboard: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	for _, want := range []string{"shown only now", "credentials: &#34;qnch_int_", "receiver: quench-billing", "PodCrashLooping", "runbook_url", "alertmanager: billing"} {
		if !strings.Contains(body, want) {
			t.Errorf("onboard page lacks %q", want)
		}
	}
	if _, again := s.post("/admin/onboard", url.Values{"service": {"billing"}}); !strings.Contains(again, "existed already") || strings.Contains(again, "credentials: &#34;qnch_int_") {
		t.Fatal("second onboarding shows a token or creates another integration")
	}
}
