package web_test

import (
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestStatusPageInBrowser drives the status page, the report form and
// publishing in headless Chromium.
func TestStatusPageInBrowser(t *testing.T) {
	// E-mail is set up (so the form asks for an address); nothing is sent
	// in this test.
	app := testenv.StartApp(t, store.SQLite, func(o *service.Options) { o.Email = true })
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	app.User(t, "ana", auth.RoleResponder)
	c := app.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Checkout", "services": []string{"checkout"}})
	// Hostile text wherever the status page shows it: a component, planned
	// maintenance, a past incident's customer-facing title and update.
	xss := `<img src=x onerror="window.__xss.push(1)"><script>window.__xss.push(1)</script>`
	app.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Search " + xss, "description": xss, "group": xss,
		"services": []string{"search"}})
	app.Must(t, 201, "POST", "/api/v1/maintenance", admin, map[string]any{"title": xss, "body": "[x](javascript:window.__xss.push(1)) " + xss,
		"starts_at": app.Clock.Now().Add(24 * time.Hour), "ends_at": app.Clock.Now().Add(25 * time.Hour)})
	ana := app.Token(t, "ana")
	app.Clock.Advance(-48 * time.Hour)
	app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "old", "services": []string{"search"}})
	app.Must(t, 200, "PATCH", "/api/v1/incidents/1", ana, map[string]any{"on_status_page": true, "status_title": xss})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", ana, map[string]any{"body": xss, "visibility": "public"})
	for _, to := range []string{"mitigated", "resolved"} {
		app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", ana, map[string]any{"to": to, "note": "done"})
	}
	app.Clock.Advance(48 * time.Hour)
	testenv.RunBrowserTests(t, app.URL, map[string]any{"ana": map[string]string{"user": "ana", "password": "password-ana"},
		"checkout": c.JSON["id"]}, "status.test.mjs")
}
