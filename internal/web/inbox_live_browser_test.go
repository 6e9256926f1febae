package web_test

import (
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestInboxCountLiveInBrowser: the board's inbox count changes in
// headless Chromium when alerts are posted, without a reload.
func TestInboxCountLiveInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	app.User(t, "ana", auth.RoleResponder)
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	testenv.RunBrowserTests(t, app.URL, map[string]any{
		"ana":   map[string]string{"user": "ana", "password": "password-ana"},
		"hook":  "/api/v1/intake/generic/" + in.JSON["id"].(string),
		"token": in.JSON["token"].(string),
	}, "inbox_live.test.mjs")
}
