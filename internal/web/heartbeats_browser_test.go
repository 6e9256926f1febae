package web_test

import (
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestHeartbeatsInBrowser drives the heartbeats page and the test-alert
// button in headless Chromium.
func TestHeartbeatsInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	app.User(t, "root", auth.RoleAdmin)
	testenv.RunBrowserTests(t, app.URL, map[string]any{"root": map[string]string{"user": "root", "password": "password-root"}}, "heartbeats.test.mjs")
}
