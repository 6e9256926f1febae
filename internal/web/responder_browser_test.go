package web_test

import (
	"context"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func who(names ...string) map[string]any {
	m := map[string]any{}
	for _, n := range names {
		m[n] = map[string]string{"user": n, "password": "password-" + n}
	}
	return m
}

// TestResponderPageInBrowser drives the incident page built for
// responders: owners edited in place, the u and m shortcuts, an incident
// opened from a checklist template, and the accessibility tree (labels,
// landmarks, headings) read through the DevTools protocol.
func TestResponderPageInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	ana := app.User(t, "ana", auth.RoleResponder)
	app.User(t, "bo", auth.RoleResponder)
	app.User(t, "cy", auth.RoleResponder)
	app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	if _, err := app.Svc.CreateTemplate(context.Background(), service.System, incident.Template{Name: "database", Service: "db",
		Items: []incident.TemplateItem{{Phase: incident.Mitigated, Text: "check replication lag"},
			{Phase: incident.Resolved, Text: "document recovery procedure"}, {Phase: incident.Resolved, Text: "add to incident log"}}}); err != nil {
		t.Fatal(err)
	}
	app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "Queue backlog", "detection_source": "alert",
		"owners": map[string]string{"mitigated": "bo"}, "checklist_template": "none", "services": []string{"queue"}})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", ana, map[string]any{"body": "consumers restarted", "visibility": "public"})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/checklist", ana, map[string]any{"text": "scale the consumers", "phase": "active"})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/links", ana, map[string]any{"url": "https://grafana.example/d/q", "title": "queue dashboard"})
	testenv.RunBrowserTests(t, app.URL, who("ana", "root"), "responder.test.mjs")
}

// TestFirstRunInBrowser: an empty instance shows the setup checklist,
// which ticks itself as people are created, an integration connected, a
// test alert sent and a first incident opened, then goes away.
func TestFirstRunInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	root := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	data := who("root")
	data["token"] = root
	testenv.RunBrowserTests(t, app.URL, data, "firstrun.test.mjs")
}
