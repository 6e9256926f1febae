package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// A Sentry integration is created before Sentry shows its client secret:
// until an admin gives it the secret, deliveries are refused with a clear
// 409 and store nothing; then they are taken.
func TestSentrySecretGivenLater(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeAdmin)
		r := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "sentry", "name": "sentry"})
		if r.JSON["signed"] != false || r.JSON["token"] != nil || !strings.Contains(r.JSON["snippet"].(string), "--secret-file") {
			t.Fatalf("created: %s", r.Body)
		}
		id, url := r.JSON["id"].(string), strings.TrimPrefix(r.JSON["url"].(string), app.URL)
		const secret = "sentry-client-secret"
		body := fixture(t, "../intake/sentry/testdata/issue.created.json")
		post := func(reqID string) *testenv.Response {
			return app.Request(t, "POST", url, "", body, "Sentry-Hook-Resource", "issue", "Sentry-Hook-Signature", sign(secret, body),
				"Request-ID", reqID, "Sentry-Hook-Timestamp", fmt.Sprint(app.Svc.Now().Unix()))
		}
		if r := post("r1"); r.Status != 409 || r.Code() != "secret_missing" || !strings.Contains(r.Code()+string(r.Body), "integration update "+id) {
			t.Fatalf("before the secret: %d %s", r.Status, r.Body)
		}
		if n := len(alerts(t, app, tok, "")); n != 0 {
			t.Fatalf("a refused delivery stored %d alerts", n)
		}
		// Only admins set it; the answer never shows it.
		if r := app.Request(t, "PATCH", "/api/v1/integrations/"+id, tok, map[string]any{"secret": secret}); r.Status != 403 {
			t.Fatalf("responder sets the secret: %d", r.Status)
		}
		for _, bad := range []map[string]any{{}, {"secret": "  "}, {"secret": strings.Repeat("x", 513)}} {
			if r := app.Request(t, "PATCH", "/api/v1/integrations/"+id, admin, bad); r.Status != 422 {
				t.Errorf("secret %v: %d %s", bad, r.Status, r.Body)
			}
		}
		if r := app.Request(t, "PATCH", "/api/v1/integrations/nope", admin, map[string]any{"secret": secret}); r.Status != 404 {
			t.Errorf("unknown integration: %d", r.Status)
		}
		r = app.Must(t, 200, "PATCH", "/api/v1/integrations/"+id, admin, map[string]any{"secret": secret})
		if r.JSON["signed"] != true || strings.Contains(string(r.Body), secret) {
			t.Fatalf("secret set: %s", r.Body)
		}
		audit := app.Must(t, 200, "GET", "/api/v1/audit", admin, nil)
		if !strings.Contains(string(audit.Body), "integration_secret_set") || strings.Contains(string(audit.Body), secret) {
			t.Fatalf("audit: %s", audit.Body)
		}
		if r := post("r2"); r.Status != 200 || r.JSON["new"] != 1.0 {
			t.Fatalf("with the secret: %d %s", r.Status, r.Body)
		}
		// A generic integration takes no secret.
		g := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
		if r := app.Request(t, "PATCH", "/api/v1/integrations/"+g.JSON["id"].(string), admin, map[string]any{"secret": "x"}); r.Status != 422 {
			t.Fatalf("generic secret: %d", r.Status)
		}
	})
}

// Sentry signs the body, not its time: a delivery whose timestamp is more
// than 5 minutes from now, or whose body came before under another
// Request-ID, is refused and stores nothing.
func TestSentryStaleAndReplayedRefused(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		const secret = "sentry-client-secret"
		url, _ := integration(t, app, "sentry", secret)
		body := fixture(t, "../intake/sentry/testdata/issue.created.json")
		post := func(reqID string, at time.Time, headers ...string) *testenv.Response {
			h := append([]string{"Sentry-Hook-Resource", "issue", "Sentry-Hook-Signature", sign(secret, body), "Request-ID", reqID}, headers...)
			if !at.IsZero() {
				h = append(h, "Sentry-Hook-Timestamp", fmt.Sprint(at.Unix()))
			}
			return app.Request(t, "POST", url, "", body, h...)
		}
		now := app.Svc.Now()
		for name, r := range map[string]*testenv.Response{
			"6 minutes old":   post("old", now.Add(-6*time.Minute)),
			"6 minutes ahead": post("ahead", now.Add(6*time.Minute)),
			"a day old":       post("day", now.Add(-24*time.Hour)),
			"no timestamp":    post("none", time.Time{}),
			"garbled":         post("garbled", time.Time{}, "Sentry-Hook-Timestamp", "yesterday"),
		} {
			if r.Status != 401 || r.Code() != "stale_delivery" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		if n := len(alerts(t, app, tok, "")); n != 0 {
			t.Fatalf("stale deliveries stored %d alerts", n)
		}
		if r := post("fresh", now.Add(-4*time.Minute)); r.Status != 200 || r.JSON["new"] != 1.0 {
			t.Fatalf("4 minutes old: %d %s", r.Status, r.Body)
		}
		// The same delivery again is a replay that changes nothing; the
		// same body under a new Request-ID is refused.
		if r := post("fresh", now); r.Status != 200 || r.JSON["replayed"] != true {
			t.Fatalf("same Request-ID: %d %s", r.Status, r.Body)
		}
		app.Clock.Advance(time.Minute)
		if r := post("captured-and-replayed", app.Svc.Now()); r.Status != 409 || r.Code() != "replayed_delivery" {
			t.Fatalf("replayed body: %d %s", r.Status, r.Body)
		}
		if a := alerts(t, app, tok, ""); len(a) != 1 || a[0]["received"] != 1.0 {
			t.Fatalf("after the replays: %v", a)
		}
		// Nothing of the refused delivery was kept: not even its
		// Request-ID, so Sentry sending it with another body is taken.
		other := strings.Replace(body, `"title":`, `"title": "x", "old_title":`, 1)
		r := app.Request(t, "POST", url, "", other, "Sentry-Hook-Resource", "issue", "Sentry-Hook-Signature", sign(secret, other),
			"Request-ID", "captured-and-replayed", "Sentry-Hook-Timestamp", fmt.Sprint(app.Svc.Now().Unix()))
		if r.Status != 200 || r.JSON["replayed"] == true {
			t.Fatalf("another body under the refused Request-ID: %d %s", r.Status, r.Body)
		}
	})
}

// Alertmanager cut a group with max_alerts: the number it left out is kept
// on the alerts (the inbox shows it), in the incident's alert-attached
// event and in the incident's alert counts.
func TestTruncatedGroupRecorded(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		url, itok := integration(t, app, "alertmanager", "")
		body := fixture(t, amFixtures+"firing-group-truncated-max-alerts-2.json")
		app.Must(t, 200, "POST", url, itok, body)
		for _, a := range alerts(t, app, tok, "") {
			if a["truncated_alerts"] != 1.0 || a["incident"] != nil {
				t.Fatalf("inbox alert: %v", a)
			}
		}
		// The same group, critical, from another Alertmanager: it opens
		// an incident.
		critical := strings.ReplaceAll(strings.ReplaceAll(body, `"warning"`, `"critical"`), `"truncatedAlerts":1`, `"truncatedAlerts":7`)
		url2, itok2 := integration(t, app, "alertmanager", "")
		r := app.Must(t, 200, "POST", url2, itok2, critical)
		if fmt.Sprint(r.JSON["opened"]) != "[1]" {
			t.Fatalf("critical group: %s", r.Body)
		}
		sum := app.Must(t, 200, "GET", "/api/v1/incidents/1/alerts", tok, nil).JSON
		if sum["truncated_alerts"] != 7.0 || sum["attached"] != 2.0 || sum["firing"] != 2.0 || len(sum["alerts"].([]any)) != 2 {
			t.Fatalf("incident alerts: %v", sum)
		}
		var found bool
		for _, e := range app.Must(t, 200, "GET", "/api/v1/incidents/1/timeline", tok, nil).JSON["events"].([]any) {
			ev := e.(map[string]any)
			if ev["kind"] == "alert_attached" {
				d := ev["data"].(map[string]any)
				if found = d["truncated_alerts"] == 7.0 && d["count"] == 2.0 && len(d["alerts"].([]any)) == 2; !found {
					t.Fatalf("alert event: %v", ev)
				}
			}
		}
		if !found {
			t.Fatal("no alert-attached event")
		}
	})
}
