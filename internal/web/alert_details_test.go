package web_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// The team's incident page shows each alert's summary, description,
// runbook, dashboard and source links and status; the runbook_url became
// a runbook link of the incident. A viewer sees neither.
func TestIncidentPageShowsAlertDetails(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "alertmanager", "name": "prom"})
	labels := map[string]string{"alertname": "BackendDown", "instance": "api-1", "severity": "critical"}
	app.Must(t, 200, "POST", "/api/v1/intake/alertmanager/"+in.JSON["id"].(string), in.JSON["token"].(string), map[string]any{
		"version": "4", "status": "firing", "receiver": "quench", "groupKey": `{}:{alertname="BackendDown"}`,
		"alerts": []map[string]any{{"status": "firing", "labels": labels, "fingerprint": alert.Fingerprint(labels),
			"annotations": map[string]string{"summary": "Backend api-1 is down", "description": "No scrape for 5 minutes: connection refused",
				"runbook_url": "https://runbooks.example.com/backend-down", "dashboard_url": "https://grafana.example.com/d/backend"},
			"generatorURL": "http://prometheus.example:9090/graph?g0.expr=up", "startsAt": "2026-11-24T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}}})
	page := string(app.Must(t, 200, "GET", "/incidents/1", admin, nil).Body)
	_, section, _ := strings.Cut(page, `id="alerts"`)
	for _, want := range []string{"Backend api-1 is down", "No scrape for 5 minutes: connection refused", `href="https://runbooks.example.com/backend-down"`,
		`href="https://grafana.example.com/d/backend"`, `href="http://prometheus.example:9090/graph?g0.expr=up"`, ">firing<", "firing since"} {
		if !strings.Contains(section, want) {
			t.Errorf("the alerts of the team's incident page lack %s", want)
		}
	}
	_, links, _ := strings.Cut(page, `id="links"`)
	links, _, _ = strings.Cut(links, "</ul>")
	if !strings.Contains(links, "runbook") || strings.Count(links, `href="https://runbooks.example.com/backend-down"`) != 1 {
		t.Errorf("the runbook_url is not a runbook link of the incident:\n%s", links)
	}
	viewer := string(app.Must(t, 200, "GET", "/incidents/1", "", nil).Body)
	if strings.Contains(viewer, "runbooks.example.com") || strings.Contains(viewer, "No scrape") {
		t.Error("a viewer sees alert details")
	}
}

// Triage forms return to the inbox view they came from, and only to it.
func TestTriageFormsReturnToTheInbox(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string), map[string]any{"title": "disk", "severity": "warning"})
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	// The view it came from, with the offer to undo the acknowledgement.
	for back, want := range map[string]string{
		"/alerts?status=firing&dismissed=any":             "/alerts?dismissed=any&status=firing&undo=unack&undo_alert=1",
		"//evil.example/alerts":                           "/alerts?undo=unack&undo_alert=1",
		"https://evil.example/alerts":                     "/alerts?undo=unack&undo_alert=1",
		"/admin":                                          "/alerts?undo=unack&undo_alert=1",
		"/alerts?status=firing&undo=restore&undo_alert=9": "/alerts?status=firing&undo=unack&undo_alert=1",
	} {
		r := app.Request(t, "POST", "/alerts/ack", admin, "alert=1&back="+url.QueryEscape(back), form...)
		if r.Status != 303 || r.Header.Get("Location") != want {
			t.Errorf("back %q: %d to %q, want %q", back, r.Status, r.Header.Get("Location"), want)
		}
	}
	// A refused form shows the inbox with the reason and changes nothing.
	r := app.Request(t, "POST", "/alerts/dismiss", admin, "alert=1&reason=", form...)
	if r.Status != 422 || !strings.Contains(string(r.Body), "say why") {
		t.Fatalf("dismiss without a reason: %d", r.Status)
	}
	if list := app.Must(t, 200, "GET", "/api/v1/alerts", admin, nil).JSON["alerts"].([]any); len(list) != 1 {
		t.Fatal("a refused dismissal hid the alert")
	}
}

// A storm's incident lists its newest 50 alerts, says how many there are
// and links to all of them.
func TestIncidentPageListsNewestAlerts(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "alertmanager", "name": "prom"})
	var alerts []map[string]any
	for i := range 60 {
		labels := map[string]string{"alertname": "BackendDown", "instance": "api-" + strconv.Itoa(i), "severity": "critical"}
		alerts = append(alerts, map[string]any{"status": "firing", "labels": labels, "fingerprint": alert.Fingerprint(labels),
			"annotations": map[string]string{}, "startsAt": "2026-11-24T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z"})
	}
	app.Must(t, 200, "POST", "/api/v1/intake/alertmanager/"+in.JSON["id"].(string), in.JSON["token"].(string), map[string]any{
		"version": "4", "status": "firing", "receiver": "quench", "groupKey": `{}:{alertname="BackendDown"}`, "alerts": alerts})
	section := func(path string) string {
		_, s, _ := strings.Cut(string(app.Must(t, 200, "GET", path, admin, nil).Body), `id="alerts"`)
		s, _, _ = strings.Cut(s, "</section>")
		return s
	}
	s := section("/incidents/1")
	if n := strings.Count(s, `class="alert-detail"`); n != 50 || !strings.Contains(s, `<span class="count">60</span>`) ||
		!strings.Contains(s, `href="?alerts=all#alerts"`) || !strings.Contains(s, "instance=api-59") || strings.Contains(s, "instance=api-0<") {
		t.Fatalf("default page lists %d alerts:\n%s", n, s)
	}
	if n := strings.Count(section("/incidents/1?alerts=all"), `class="alert-detail"`); n != 60 {
		t.Fatalf("?alerts=all lists %d alerts, want 60", n)
	}
}
