package web_test

import (
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestReviewInBrowser records a weekly review in headless Chromium.
func TestReviewInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Certificates broken", "detection_source": "customer"})
	app.Clock.Advance(time.Minute)
	testenv.RunBrowserTests(t, app.URL, map[string]any{"ana": map[string]string{"user": "ana", "password": "password-ana"}}, "review.test.mjs")
}
