package web_test

import (
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestBoardInBrowser drives the board in headless Chromium: refused skips,
// drag-and-drop and keyboard transitions, and live updates between sessions.
func TestBoardInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.User(t, "bo", auth.RoleResponder)
	for _, title := range []string{"Queue backlog", "Certificates broken", "Runner pool empty"} {
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": title, "detection_source": "alert"})
	}
	app.Must(t, 201, "POST", "/api/v1/incidents/2/checklist", tok, map[string]any{"text": "restore the old certificate"})
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": `<img src=x onerror="window.__xss.push(1)"> in a title`})
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "CONFIDENTIAL-MARKER", "visibility": "confidential"})
	testenv.RunBrowserTests(t, app.URL, map[string]any{
		"ana": map[string]string{"user": "ana", "password": "password-ana"},
		"bo":  map[string]string{"user": "bo", "password": "password-bo"},
	}, "board.test.mjs")
}
