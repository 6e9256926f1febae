package web_test

import (
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestIncidentPageInBrowser drives the incident page in headless Chromium.
func TestIncidentPageInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Queue backlog", "detection_source": "team"})
	xss := `<img src=x onerror="window.__xss.push(1)">`
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": xss, "summary": "[x](javascript:window.__xss.push(1)) " + xss,
		"labels": map[string]string{"x": xss}, "services": []string{xss}})
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Disk filling", "detection_source": "team"})
	app.Must(t, 201, "POST", "/api/v1/incidents/2/links", tok, map[string]any{"url": "https://x.example/", "title": xss})
	testenv.RunBrowserTests(t, app.URL, map[string]any{"ana": map[string]string{"user": "ana", "password": "password-ana"}}, "incident.test.mjs")
}
