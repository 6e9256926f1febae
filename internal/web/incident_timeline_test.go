package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// A long timeline lists its newest 200 events, says how many there are and
// links to all of them, in either order.
func TestIncidentPageListsNewestEvents(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "long one", "severity": "minor"})
	for i := range 210 {
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", tok, map[string]any{"body": fmt.Sprintf("note-%03d", i), "visibility": "public"})
	}
	timeline := func(path string) string {
		_, s, _ := strings.Cut(string(app.Must(t, 200, "GET", path, tok, nil).Body), `id="timeline"`)
		s, _, _ = strings.Cut(s, "</section>")
		return s
	}
	entries := func(s string) int { return strings.Count(s, "<li") }
	s := timeline("/incidents/1")
	// 211 events: the opening and 210 updates.
	if n := entries(s); n != 200 || !strings.Contains(s, `<span class="count">211</span>`) || !strings.Contains(s, "Show all 211 events") {
		t.Fatalf("default timeline lists %d events:\n%.2000s", n, s)
	}
	if all := timeline("/incidents/1?events=all&timeline=newest"); entries(all) != 211 || !strings.Contains(all, `href="?timeline=oldest&amp;events=all#timeline"`) {
		t.Fatalf("?events=all lists %d events", entries(all))
	}
}
