package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// Editing and rotating a heartbeat on /admin/heartbeats, without
// JavaScript, on both databases: the row's form holds the current values
// and saves new ones; a bad value says why (422) and changes nothing; a
// rotation needs its box ticked, shows the new URL once, and the old one
// answers 404 at once.
func TestHeartbeatEditAndRotatePage(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "root", auth.RoleAdmin)
		app.User(t, "ana", auth.RoleResponder)
		s := signIn(t, app, "root")
		_, body := s.post("/admin/heartbeats", url.Values{"name": {"nightly-backup"}, "period": {"1h"}, "grace": {"10m"}, "labels": {"service=backup"}})
		old := regexp.MustCompile(`/api/v1/ping/hb_[a-z0-9]+`).FindString(body)
		_, body = s.get("/admin/heartbeats")
		id := regexp.MustCompile(`/admin/heartbeats/([a-z0-9]+)/edit`).FindStringSubmatch(body)
		if old == "" || id == nil || !strings.Contains(body, `name="period" required value="1h"`) || !strings.Contains(body, `name="labels" value="service=backup"`) {
			t.Fatalf("no edit form with the current values")
		}
		edit := "/admin/heartbeats/" + id[1] + "/edit"
		if resp, body := s.post(edit, url.Values{"name": {"nightly-backup"}, "period": {"30s"}, "grace": {"10m"}}); resp.StatusCode != 422 || !strings.Contains(body, "at least 1m") {
			t.Fatalf("edit to 30s: %d", resp.StatusCode)
		}
		ana := signIn(t, app, "ana")
		if resp, _ := ana.post(edit, url.Values{"name": {"x"}, "period": {"2h"}}); resp.StatusCode != 403 {
			t.Fatalf("responder edits: %d", resp.StatusCode)
		}
		resp, _ := s.post(edit, url.Values{"name": {"backup"}, "period": {"2h"}, "grace": {"15m"}, "labels": {"service=db, team=ops"}})
		if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "saved") {
			t.Fatalf("edit: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, body = s.get("/admin/heartbeats")
		if !strings.Contains(body, `name="name" required value="backup"`) || !strings.Contains(body, `name="grace" value="15m"`) ||
			!strings.Contains(body, "service=db, team=ops") || strings.Contains(body, `data-heartbeat="nightly-backup"`) {
			t.Fatal("the page does not show the edit")
		}

		rotate := "/admin/heartbeats/" + id[1] + "/rotate"
		if resp, _ := s.post(rotate, url.Values{}); resp.StatusCode != 422 {
			t.Fatalf("rotate without confirm: %d", resp.StatusCode)
		}
		app.Must(t, 200, "GET", old, "", nil) // still the URL
		resp, body = s.post(rotate, url.Values{"confirm": {"1"}})
		fresh := regexp.MustCompile(`/api/v1/ping/hb_[a-z0-9]+`).FindString(body)
		if resp.StatusCode != 200 || fresh == "" || fresh == old || !strings.Contains(body, "The old URL answers 404") {
			t.Fatalf("rotate: %d", resp.StatusCode)
		}
		if r := app.Request(t, "GET", old, "", nil); r.Status != 404 {
			t.Fatalf("old URL after rotating: %d", r.Status)
		}
		app.Must(t, 200, "GET", fresh, "", nil)
		if _, body := s.get("/admin/heartbeats"); strings.Contains(body, fresh[len("/api/v1/ping/"):]) {
			t.Fatal("the list shows the new key")
		}
	})
}
