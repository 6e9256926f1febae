package web_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// An admin adds a heartbeat on its page and sees its ping URL once; the
// list shows when it is due and, once missed, that it is down. Others
// may not see the page.
func TestHeartbeatsPage(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "root", auth.RoleAdmin)
		app.User(t, "ana", auth.RoleResponder)
		s := signIn(t, app, "root")
		if resp, body := s.get("/admin/heartbeats"); resp.StatusCode != 200 || !strings.Contains(body, "No heartbeats yet") {
			t.Fatalf("empty page: %d", resp.StatusCode)
		}
		if _, body := s.get("/admin"); !strings.Contains(body, `href="/admin/heartbeats"`) {
			t.Fatal("the admin overview does not link to heartbeats")
		}
		resp, body := s.post("/admin/heartbeats", url.Values{"name": {"nightly-backup"}, "period": {"1h"}, "grace": {"10m"},
			"labels": {"service=backup, severity=critical"}})
		m := regexp.MustCompile(`(http://[^\s<"]+/api/v1/ping/hb_[a-z0-9]+)`).FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil || !strings.Contains(body, "crontab") {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		key := m[1][strings.LastIndex(m[1], "/")+1:]
		_, body = s.get("/admin/heartbeats")
		if !strings.Contains(body, "nightly-backup") || !strings.Contains(body, "service=backup, severity=critical") || strings.Contains(body, key) {
			t.Fatal("the list does not show the heartbeat, or shows its key")
		}
		if resp, body := s.post("/admin/heartbeats", url.Values{"name": {"x"}, "period": {"30s"}}); resp.StatusCode != 422 || !strings.Contains(body, "at least 1m") {
			t.Fatalf("period of 30s: %d", resp.StatusCode)
		}
		if resp, body := s.post("/admin/heartbeats", url.Values{"name": {"x"}, "period": {"1h"}, "labels": {"nonsense"}}); resp.StatusCode != 422 || !strings.Contains(body, "name=value") {
			t.Fatalf("bad labels: %d", resp.StatusCode)
		}

		app.Must(t, 200, "POST", "/api/v1/ping/"+key+"/fail", "", "tar: /var/backups: No space left on device")
		_, body = s.get("/admin/heartbeats")
		if !strings.Contains(body, "(failed)") || !strings.Contains(body, "No space left on device") {
			t.Fatal("the page does not show the failure and its log")
		}
		app.Must(t, 200, "GET", "/api/v1/ping/"+key, "", nil)
		app.Clock.Advance(71 * time.Minute)
		if n, err := app.Svc.CheckHeartbeats(context.Background()); err != nil || n != 1 {
			t.Fatalf("check: %d %v", n, err)
		}
		_, body = s.get("/admin/heartbeats")
		if !strings.Contains(body, "(missed)") {
			t.Fatal("the page does not show the miss")
		}

		ana := signIn(t, app, "ana")
		if resp, _ := ana.get("/admin/heartbeats"); resp.StatusCode != 403 {
			t.Fatalf("responder sees the page: %d", resp.StatusCode)
		}
		if resp, _ := ana.post("/admin/heartbeats", url.Values{"name": {"y"}, "period": {"1h"}}); resp.StatusCode != 403 {
			t.Fatalf("responder adds a heartbeat: %d", resp.StatusCode)
		}

		id := regexp.MustCompile(`/admin/heartbeats/([a-z0-9]+)/remove`).FindStringSubmatch(body)
		if id == nil {
			t.Fatal("no remove form")
		}
		if resp, _ := s.post("/admin/heartbeats/"+id[1]+"/remove", url.Values{}); resp.StatusCode != 422 {
			t.Fatalf("remove without confirm: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/admin/heartbeats/"+id[1]+"/remove", url.Values{"confirm": {"1"}}); resp.StatusCode != 303 {
			t.Fatalf("remove: %d", resp.StatusCode)
		}
		if r := app.Request(t, "GET", "/api/v1/ping/"+key, "", nil); r.Status != 404 {
			t.Fatalf("ping after remove: %d", r.Status)
		}
	})
}

// "Send a test alert" on the integrations page goes through the rules and
// says where the alert went; the inbox and the incident mark it a test.
func TestSendTestAlertButton(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "alertmanager", "name": "prod"})
		id := in.JSON["id"].(string)
		s := signIn(t, app, "root")
		if _, body := s.get("/admin/integrations"); !strings.Contains(body, `action="/admin/integrations/`+id+`/test"`) {
			t.Fatal("no test button")
		}
		resp, _ := s.post("/admin/integrations/"+id+"/test", url.Values{"severity": {"critical"}})
		loc, _ := url.QueryUnescape(resp.Header.Get("Location"))
		if resp.StatusCode != 303 || !strings.Contains(loc, "opened incident #1") {
			t.Fatalf("test alert: %d %s", resp.StatusCode, loc)
		}
		_, body := s.get(resp.Header.Get("Location"))
		if !strings.Contains(html.UnescapeString(body), "opened incident #1") {
			t.Fatal("no notice")
		}
		resp, _ = s.post("/admin/integrations/"+id+"/test", url.Values{"severity": {"warning"}})
		if loc, _ := url.QueryUnescape(resp.Header.Get("Location")); !strings.Contains(loc, "inbox") {
			t.Fatalf("warning test alert: %s", loc)
		}
		_, body = s.get("/alerts")
		if strings.Count(body, `class="badge test-alert"`) != 2 {
			t.Fatal("the inbox does not mark both test alerts")
		}
		_, body = s.get("/incidents/1")
		if !strings.Contains(body, "[test] Test alert from Quench") || !strings.Contains(body, "test: opened by a test alert") {
			t.Fatal("the incident is not marked a test")
		}
	})
}
