package web_test

import (
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestInboxInBrowser drives the new-incident form and the alert inbox in
// headless Chromium.
func TestInboxInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	app.User(t, "ana", auth.RoleResponder)
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	xss := `"><img src=x onerror="window.__xss.push(1)">`
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string), map[string]any{"alerts": []map[string]any{
		{"title": "queue growing", "severity": "warning", "labels": map[string]string{"team": "ci"}},
		{"title": xss, "severity": "info", "labels": map[string]string{"x": xss}, "annotations": map[string]string{"description": xss},
			"links": []map[string]string{{"url": "https://x.example/", "title": xss}}},
	}})
	testenv.RunBrowserTests(t, app.URL, map[string]any{"ana": map[string]string{"user": "ana", "password": "password-ana"}}, "inbox.test.mjs")
}
