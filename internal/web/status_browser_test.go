package web_test

import (
	"testing"

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
	app.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Search", "services": []string{"search"}})
	testenv.RunBrowserTests(t, app.URL, map[string]any{"ana": map[string]string{"user": "ana", "password": "password-ana"},
		"checkout": c.JSON["id"]}, "status.test.mjs")
}
