package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Principals of the access matrix.
const (
	anon       = "anonymous"
	responder  = "responder"  // ana, token read+write
	admin      = "admin"      // root, token with every scope
	readTok    = "read"       // root, read scope only
	writeTok   = "write"      // ana, write scope only
	ingestTok  = "ingest"     // ana, ingest scope only
	adminScope = "adminscope" // root, admin scope only
	session    = "session"    // ana, browser session (cookie + CSRF token)
)

var principals = []string{anon, responder, admin, readTok, writeTok, ingestTok, adminScope, session}

// fixture is the world each cell of the matrix starts from.
type fixture struct {
	app         *testenv.App
	tokens      map[string]string
	cookie      string
	csrf        string
	integration string
	victimToken int64
	victimSess  string
	cssPath     string
	attachment  string
	channel     int64
	delivery    *notify.Delivery
}

func ptr[T any](v T) *T { return &v }

func newFixture(t *testing.T) *fixture {
	app := testenv.StartApp(t, store.SQLite)
	ctx := context.Background()
	f := &fixture{app: app, tokens: map[string]string{}}
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"ana", auth.RoleResponder}, {"root", auth.RoleAdmin}, {"bo", auth.RoleResponder}} {
		if _, err := app.Svc.CreateUser(ctx, service.System, service.NewUser{Username: u.name, Role: u.role, Password: "password-" + u.name}); err != nil {
			t.Fatal(err)
		}
	}
	f.tokens[responder] = app.Token(t, "ana", auth.ScopeRead, auth.ScopeWrite)
	f.tokens[writeTok] = app.Token(t, "ana", auth.ScopeWrite)
	f.tokens[ingestTok] = app.Token(t, "ana", auth.ScopeIngest)
	f.tokens[admin] = app.Token(t, "root", auth.Scopes...)
	f.tokens[readTok] = app.Token(t, "root", auth.ScopeRead)
	f.tokens[adminScope] = app.Token(t, "root", auth.ScopeAdmin)
	_, victim, err := app.Svc.CreateToken(ctx, service.System, service.NewToken{Username: "ana", Name: "victim", Scopes: []auth.Scope{auth.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	f.victimToken = victim.ID
	var sess *auth.Session
	if f.cookie, sess, err = app.Svc.Login(ctx, "ana", "password-ana", service.Client{}); err != nil {
		t.Fatal(err)
	}
	f.csrf = sess.CSRF
	if _, sess, err = app.Svc.Login(ctx, "ana", "password-ana", service.Client{}); err != nil {
		t.Fatal(err)
	}
	f.victimSess = sess.ID

	ana := f.tokens[responder]
	app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "public outage"})
	app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "secret", "visibility": "confidential"})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", ana, map[string]any{"body": "public note", "visibility": "public"})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/checklist", ana, map[string]any{"text": "fix it", "phase": "mitigated"})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/links", ana, map[string]any{"url": "https://dashboards.example/x"})
	tok, in, err := app.Svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "generic", Name: "cron"})
	if err != nil {
		t.Fatal(err)
	}
	f.integration = in.ID
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.ID, tok, map[string]any{"title": "disk filling", "severity": "warning"})
	if _, err := app.Svc.CreateSnooze(ctx, service.System, service.NewSnooze{Matchers: `alertname="planned"`, For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	up := uploadBody()
	r := app.Request(t, "POST", "/api/v1/incidents/1/attachments", ana, up.body, "Content-Type", up.contentType)
	if r.Status != 201 {
		t.Fatalf("fixture upload: %d %s", r.Status, r.Body)
	}
	f.attachment = r.JSON["id"].(string)
	ch, _, err := app.Svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: ptr("webhook"), Name: ptr("hooks"),
		URL: ptr("http://127.0.0.1:9/hook"), Audience: ptr("team")})
	if err != nil {
		t.Fatal(err)
	}
	f.channel = ch.ID
	if f.delivery, err = app.Svc.TestChannel(ctx, service.System, ch.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Svc.CreateTemplate(ctx, service.System, incident.Template{Name: "database",
		Items: []incident.TemplateItem{{Phase: "resolved", Text: "document recovery procedure"}}}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`href="(/static/[^"]+\.css)"`).FindStringSubmatch(string(app.Request(t, "GET", "/login", "", nil).Body))
	if m == nil {
		t.Fatal("no stylesheet on the login page")
	}
	f.cssPath = m[1]
	return f
}

type multipartUpload struct{ body, contentType string }

// uploadBody is a small PNG on the public update 1, as multipart.
func uploadBody() multipartUpload {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("update", "1")
	fw, _ := mw.CreateFormFile("file", "shot.png")
	png.Encode(fw, image.NewGray(image.Rect(0, 0, 2, 2)))
	mw.Close()
	return multipartUpload{buf.String(), mw.FormDataContentType()}
}

// request sends one request as principal who.
func (f *fixture) request(t *testing.T, who, method, path string, body any, form bool) *testenv.Response {
	var headers []string
	if form {
		headers = append(headers, "Content-Type", "application/x-www-form-urlencoded")
	}
	if up, ok := body.(multipartUpload); ok {
		body = up.body
		headers = append(headers, "Content-Type", up.contentType)
	}
	if who == session {
		headers = append(headers, "Cookie", "quench_session="+f.cookie, "X-CSRF-Token", f.csrf)
	}
	return f.app.Request(t, method, path, f.tokens[who], body, headers...)
}

// Expectation kinds.
func all(code int) map[string]int {
	m := map[string]int{}
	for _, p := range principals {
		m[p] = code
	}
	m[ingestTok] = 403
	return m
}

func publicRead() map[string]int { return all(200) }

func teamRead() map[string]int {
	m := all(200)
	m[anon] = 401
	return m
}

func write(code int) map[string]int {
	m := all(code)
	m[anon], m[readTok], m[adminScope] = 401, 403, 403
	return m
}

func adminOnly(code int) map[string]int {
	m := all(403)
	m[anon], m[admin], m[adminScope] = 401, code, code
	return m
}

func with(m map[string]int, kv ...any) map[string]int {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(int)
	}
	return m
}

type cell struct {
	method, path string
	body         any
	form         bool
	want         map[string]int
}

// matrix is the access table: every registered route, every principal.
func matrix(f *fixture) map[string]cell {
	rows := baseMatrix(f)
	for _, more := range []func(*fixture) map[string]cell{incidentPageRows, inboxPageRows, adminPageRows, notifyRows, notifyPageRows, reviewRows, intakeRows, statusRows, heartbeatRows, undoRows} {
		for k, v := range more(f) {
			rows[k] = v
		}
	}
	return rows
}

// baseMatrix holds the API's and the shared pages' rows; each page area
// adds its own from its own file.
func baseMatrix(f *fixture) map[string]cell {
	form := func(kv ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(kv); i += 2 {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(kv[i] + "=" + kv[i+1])
		}
		return b.String()
	}
	return map[string]cell{
		"GET /api/v1/me":                                   {"GET", "/api/v1/me", nil, false, all(200)},
		"GET /api/v1/incidents":                            {"GET", "/api/v1/incidents", nil, false, publicRead()},
		"POST /api/v1/incidents":                           {"POST", "/api/v1/incidents", map[string]any{"title": "x"}, false, write(201)},
		"GET /api/v1/incidents/{number}":                   {"GET", "/api/v1/incidents/1", nil, false, publicRead()},
		"PATCH /api/v1/incidents/{number}":                 {"PATCH", "/api/v1/incidents/1", map[string]any{"title": "y"}, false, write(200)},
		"POST /api/v1/incidents/{number}/transitions":      {"POST", "/api/v1/incidents/1/transitions", map[string]any{"to": "mitigated", "note": "n"}, false, write(200)},
		"POST /api/v1/incidents/{number}/merge":            {"POST", "/api/v1/incidents/1/merge", map[string]any{"into": 2, "reason": "same outage"}, false, write(200)},
		"POST /api/v1/incidents/{number}/cancel":           {"POST", "/api/v1/incidents/1/cancel", map[string]any{"reason": "a test"}, false, write(200)},
		"GET /api/v1/incidents/{number}/timeline":          {"GET", "/api/v1/incidents/1/timeline", nil, false, publicRead()},
		"GET /api/v1/incidents/{number}/updates":           {"GET", "/api/v1/incidents/1/updates", nil, false, publicRead()},
		"POST /api/v1/incidents/{number}/updates":          {"POST", "/api/v1/incidents/1/updates", map[string]any{"body": "x"}, false, write(201)},
		"PATCH /api/v1/incidents/{number}/updates/{id}":    {"PATCH", "/api/v1/incidents/1/updates/1", map[string]any{"visibility": "internal"}, false, write(200)},
		"GET /api/v1/incidents/{number}/checklist":         {"GET", "/api/v1/incidents/1/checklist", nil, false, publicRead()},
		"POST /api/v1/incidents/{number}/checklist":        {"POST", "/api/v1/incidents/1/checklist", map[string]any{"text": "x"}, false, write(201)},
		"PATCH /api/v1/incidents/{number}/checklist/{id}":  {"PATCH", "/api/v1/incidents/1/checklist/1", map[string]any{"done": true}, false, write(200)},
		"DELETE /api/v1/incidents/{number}/checklist/{id}": {"DELETE", "/api/v1/incidents/1/checklist/1", nil, false, write(204)},
		"GET /api/v1/incidents/{number}/links":             {"GET", "/api/v1/incidents/1/links", nil, false, publicRead()},
		"POST /api/v1/incidents/{number}/links":            {"POST", "/api/v1/incidents/1/links", map[string]any{"url": "https://x.example"}, false, write(201)},
		"DELETE /api/v1/incidents/{number}/links/{id}":     {"DELETE", "/api/v1/incidents/1/links/1", nil, false, write(204)},
		"GET /api/v1/users":                                {"GET", "/api/v1/users", nil, false, adminOnly(200)},
		"POST /api/v1/users":                               {"POST", "/api/v1/users", map[string]any{"username": "new1", "password": "long-password-1"}, false, adminOnly(201)},
		"PATCH /api/v1/users/{username}":                   {"PATCH", "/api/v1/users/bo", map[string]any{"display_name": "Bo"}, false, adminOnly(200)},
		"GET /api/v1/tokens":                               {"GET", "/api/v1/tokens", nil, false, with(all(200), anon, 401)},
		// Only a person or an admin-scoped token mints, and a token grants
		// only scopes it holds: the admin-only token lacks "read".
		"POST /api/v1/tokens":                         {"POST", "/api/v1/tokens", map[string]any{"scopes": []string{"read"}}, false, with(all(403), anon, 401, admin, 201, session, 201)},
		"DELETE /api/v1/tokens/{id}":                  {"DELETE", fmt.Sprintf("/api/v1/tokens/%d", f.victimToken), nil, false, with(all(204), anon, 401, readTok, 404)},
		"GET /api/v1/incidents/{number}/attachments":  {"GET", "/api/v1/incidents/1/attachments", nil, false, publicRead()},
		"POST /api/v1/incidents/{number}/attachments": {"POST", "/api/v1/incidents/1/attachments", uploadBody(), false, write(201)},
		"GET /api/v1/attachments/{id}":                {"GET", "/api/v1/attachments/" + f.attachment, nil, false, publicRead()},
		"GET /api/v1/sessions":                        {"GET", "/api/v1/sessions", nil, false, with(all(200), anon, 401)},
		"DELETE /api/v1/sessions/{id}":                {"DELETE", "/api/v1/sessions/" + f.victimSess, nil, false, with(all(204), anon, 401, readTok, 404)},
		"GET /api/v1/audit":                           {"GET", "/api/v1/audit", nil, false, adminOnly(200)},
		// Intake takes integration credentials or an ingest-scoped token; sessions do not count.
		"POST /api/v1/intake/{type}/{id}": {"POST", "/api/v1/intake/generic/" + f.integration, map[string]any{"title": "x"}, false,
			with(all(401), admin, 200, ingestTok, 200)},
		"GET /api/v1/alerts":                     {"GET", "/api/v1/alerts", nil, false, teamRead()},
		"POST /api/v1/alerts/{id}/declare":       {"POST", "/api/v1/alerts/1/declare", map[string]any{}, false, write(201)},
		"GET /api/v1/incidents/{number}/alerts":  {"GET", "/api/v1/incidents/1/alerts", nil, false, teamRead()},
		"POST /api/v1/incidents/{number}/alerts": {"POST", "/api/v1/incidents/1/alerts", map[string]any{"alerts": []int{1}}, false, write(200)},
		// Triage is the team's: viewers and read-only tokens are refused.
		"POST /api/v1/alerts/ack":            {"POST", "/api/v1/alerts/ack", map[string]any{"alerts": []int{1}}, false, write(200)},
		"POST /api/v1/alerts/dismiss":        {"POST", "/api/v1/alerts/dismiss", map[string]any{"alerts": []int{1}, "reason": "noise"}, false, write(200)},
		"GET /api/v1/alerts/snoozes":         {"GET", "/api/v1/alerts/snoozes", nil, false, teamRead()},
		"POST /api/v1/alerts/snoozes":        {"POST", "/api/v1/alerts/snoozes", map[string]any{"matchers": `alertname="x"`, "duration": "1h"}, false, write(201)},
		"DELETE /api/v1/alerts/snoozes/{id}": {"DELETE", "/api/v1/alerts/snoozes/1", nil, false, write(204)},
		"GET /api/v1/integrations":           {"GET", "/api/v1/integrations", nil, false, adminOnly(200)},
		"POST /api/v1/integrations":          {"POST", "/api/v1/integrations", map[string]any{"type": "generic", "name": "x2"}, false, adminOnly(201)},
		"DELETE /api/v1/integrations/{id}":   {"DELETE", "/api/v1/integrations/" + f.integration, nil, false, adminOnly(204)},
		"GET /api/v1/rules":                  {"GET", "/api/v1/rules", nil, false, teamRead()},
		"POST /api/v1/rules":                 {"POST", "/api/v1/rules", map[string]any{"action": "inbox"}, false, adminOnly(201)},
		"DELETE /api/v1/rules/{id}":          {"DELETE", "/api/v1/rules/1", nil, false, adminOnly(204)},
		"GET /api/v1/checklist-templates":    {"GET", "/api/v1/checklist-templates", nil, false, teamRead()},
		"POST /api/v1/checklist-templates": {"POST", "/api/v1/checklist-templates",
			map[string]any{"name": "t2", "items": []map[string]string{{"phase": "resolved", "text": "add to incident log"}}}, false, adminOnly(201)},
		"PATCH /api/v1/checklist-templates/{id}": {"PATCH", "/api/v1/checklist-templates/1",
			map[string]any{"items": []map[string]string{{"phase": "resolved", "text": "book the review"}}}, false, adminOnly(200)},
		"DELETE /api/v1/checklist-templates/{id}": {"DELETE", "/api/v1/checklist-templates/1", nil, false, adminOnly(204)},
		"GET /static/":                       {"GET", f.cssPath, nil, false, all(200)},
		"GET /login":                         {"GET", "/login", nil, false, with(all(200), session, 303)},
		"POST /login":                        {"POST", "/login", form("username", "ana", "password", "password-ana"), true, all(303)},
		"POST /logout":                       {"POST", "/logout", "", true, all(303)},
		"GET /login/oidc":                    {"GET", "/login/oidc", nil, false, all(404)},
		"GET /login/oidc/callback":           {"GET", "/login/oidc/callback", nil, false, all(404)},
		"GET /account":                       {"GET", "/account", nil, false, with(all(200), anon, 303)},
		"POST /account/password":             {"POST", "/account/password", form("current", "password-ana", "new", "another-pass-1", "confirm", "another-pass-1"), true, with(all(403), anon, 401, session, 303)},
		"POST /account/sessions/{id}/revoke": {"POST", "/account/sessions/" + f.victimSess + "/revoke", "", true, with(all(303), anon, 401, readTok, 404)},
		"GET /{$}":                           {"GET", "/", nil, false, all(200)},
		"GET /events":                        {"GET", "/events", nil, false, all(200)},
		"GET /healthz":                       {"GET", "/healthz", nil, false, with(all(200), ingestTok, 200)},
		"GET /readyz":                        {"GET", "/readyz", nil, false, with(all(200), ingestTok, 200)},
		"GET /metrics":                       {"GET", "/metrics", nil, false, with(all(200), anon, 401)},
		"POST /api/v1/onboarding":            {"POST", "/api/v1/onboarding", map[string]any{"service": "billing"}, false, adminOnly(201)},
	}
}

// TestAccessMatrix checks every registered route as every principal, each
// in a fresh app; a route without a row fails the test.
func TestAccessMatrix(t *testing.T) {
	probe := newFixture(t)
	table := matrix(probe)
	var missing, stale []string
	for _, p := range probe.app.Handler.Patterns {
		if _, ok := table[p]; !ok {
			missing = append(missing, p)
		}
	}
	for p := range table {
		if !slices.Contains(probe.app.Handler.Patterns, p) {
			stale = append(stale, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 || len(stale) > 0 {
		t.Fatalf("access table out of date:\n routes without a row: %v\n rows without a route: %v", missing, stale)
	}
	patterns := make([]string, 0, len(table))
	for p := range table {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, pattern := range patterns {
		t.Run(pattern, func(t *testing.T) {
			for _, who := range principals {
				f := newFixture(t)
				c := matrix(f)[pattern]
				want, ok := c.want[who]
				if !ok {
					t.Fatalf("no expectation for %s", who)
				}
				r := f.request(t, who, c.method, c.path, c.body, c.form)
				if r.Status != want {
					t.Errorf("%s: got %d, want %d: %.200s", who, r.Status, want, r.Body)
				}
			}
		})
	}
}
