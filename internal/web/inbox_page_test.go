package web_test

import (
	"encoding/csv"
	"net/url"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

func TestAlertInboxPage(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		app.User(t, "ana", auth.RoleResponder)
		in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
		intake := "/api/v1/intake/generic/" + in.JSON["id"].(string)
		app.Must(t, 200, "POST", intake, in.JSON["token"].(string), `{"alerts":[
			{"title":"queue growing","severity":"warning","service":"umb","labels":{"team":"ci"}},
			{"title":"consumer lag","severity":"warning","service":"umb"},
			{"title":"<script>alert(1)</script>","severity":"info","labels":{"x":"<img src=x onerror=alert(1)>"}}]}`)
		s := signIn(t, app, "ana")
		resp, body := s.get("/alerts?unattached=1")
		if resp.StatusCode != 200 || !strings.Contains(body, "queue growing") || strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Fatalf("inbox: %d", resp.StatusCode)
		}
		if _, body := s.get("/alerts?match=" + url.QueryEscape(`team="ci"`)); !strings.Contains(body, "queue growing") || strings.Contains(body, "consumer lag") {
			t.Fatal("label filter")
		}
		if resp, body := s.get("/alerts?match=" + url.QueryEscape(`team=~"(("`)); resp.StatusCode != 400 || !strings.Contains(body, "Label matchers") {
			t.Fatalf("bad matcher: %d", resp.StatusCode)
		}
		if resp, body := s.post("/alerts/declare", url.Values{}); resp.StatusCode != 422 || !strings.Contains(body, "select at least one alert") {
			t.Fatalf("declare nothing: %d", resp.StatusCode)
		}
		resp, _ = s.post("/alerts/declare", url.Values{"alert": {"1"}, "severity": {"major"}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/incidents/1" {
			t.Fatalf("declare: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := s.post("/alerts/attach", url.Values{"alert": {"2"}, "incident": {"1"}}); resp.StatusCode != 303 {
			t.Fatalf("attach: %d", resp.StatusCode)
		}
		if resp, body := s.post("/alerts/declare", url.Values{"alert": {"2"}}); resp.StatusCode != 409 || !strings.Contains(body, "already belongs to incident #1") {
			t.Fatalf("declare an attached alert: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/alerts/declare", url.Values{"alert": {"3"}, "csrf": {""}}); resp.StatusCode != 403 {
			t.Fatalf("declare without CSRF: %d", resp.StatusCode)
		}
		if resp, _ := signIn(t, app, "").get("/alerts"); resp.StatusCode != 303 {
			t.Fatalf("anonymous inbox: %d", resp.StatusCode)
		}
	})
}

func TestNewIncidentFormAndLog(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		s := signIn(t, app, "ana")
		if resp, body := s.post("/incidents", url.Values{"title": {" "}, "summary": {"kept text"}}); resp.StatusCode != 422 || !strings.Contains(body, "kept text") {
			t.Fatalf("empty title: %d", resp.StatusCode)
		}
		resp, _ := s.post("/incidents", url.Values{"title": {"=HYPERLINK(\"http://evil\")"}, "severity": {"critical"}, "services": {"umb, api"},
			"detection_source": {"customer"}, "visibility": {"public"}, "summary": {"customers complained"}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/incidents/1" {
			t.Fatalf("create: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "SECRET", "visibility": "confidential"})
		app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", tok, map[string]any{"to": "mitigated", "note": "restarted"})

		_, log := s.get("/incidents")
		if !strings.Contains(log, "Mitigation:</strong> restarted") || !strings.Contains(log, "SECRET") {
			t.Fatal("team log")
		}
		anon := signIn(t, app, "")
		_, alog := anon.get("/incidents")
		if strings.Contains(alog, "SECRET") || !strings.Contains(alog, "1 incident(s)") {
			t.Fatal("viewer log shows the confidential incident")
		}
		resp, csvBody := anon.get("/incidents.csv")
		rows, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
		if resp.StatusCode != 200 || err != nil || len(rows) != 2 || rows[1][1] != `'=HYPERLINK("http://evil")` || rows[1][11] != "restarted" {
			t.Fatalf("csv: %d %v %q", resp.StatusCode, err, rows)
		}
		if _, j := anon.get("/incidents.json?phase=mitigated"); strings.Contains(j, "SECRET") || !strings.Contains(j, `"mitigated": "restarted"`) {
			t.Fatalf("json export: %s", j)
		}
		if resp, _ := anon.get("/incidents?phase=sideways"); resp.StatusCode != 400 {
			t.Fatalf("bad phase filter: %d", resp.StatusCode)
		}
		if resp, _ := anon.get("/incidents/new"); resp.StatusCode != 303 {
			t.Fatalf("anonymous new form: %d", resp.StatusCode)
		}
		ro := app.Token(t, "ana", auth.ScopeRead)
		if r := app.Request(t, "GET", "/incidents/new", ro, nil); r.Status != 403 {
			t.Fatalf("read token new form: %d", r.Status)
		}
	})
}
