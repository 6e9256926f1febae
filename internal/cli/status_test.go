package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Components and planned maintenance with an admin token, publishing with
// a responder's: the status page shows what they did.
func TestStatusCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": app.User(t, "root", auth.RoleAdmin, auth.Scopes...)}}
	ana := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": app.User(t, "ana", auth.RoleResponder)}}

	if out := admin.ok("component", "add", "--name", "Checkout", "--services", "checkout,payments", "--group", "Shop"); !strings.Contains(out, `component 1 "Checkout" added (services checkout, payments)`) {
		t.Fatalf("component add: %q", out)
	}
	admin.ok("component", "add", "--name", "Search", "--services", "search", "--position", "2")
	if list := admin.ok("component", "list"); !strings.Contains(list, "Checkout") || !strings.Contains(list, "Search") || !strings.Contains(list, "checkout,payments") {
		t.Fatalf("component list: %q", list)
	}
	if _, errs, code := ana.do("", "component", "add", "--name", "X", "--services", "x"); code != 1 || !strings.Contains(errs, "may not") {
		t.Fatalf("a responder adds a component: %d %q", code, errs)
	}
	if _, _, code := admin.do("", "component", "add", "--name", "X"); code != 2 {
		t.Fatal("a component without services accepted")
	}
	admin.ok("component", "remove", "2")
	admin.ok("maintenance", "add", "--title", "Database upgrade", "--start", "2026-12-01T22:00:00Z", "--end", "2026-12-01T23:00:00Z", "--component", "1")
	if list := admin.ok("maintenance", "list"); !strings.Contains(list, "Database upgrade") {
		t.Fatalf("maintenance list: %q", list)
	}

	ana.ok("incident", "open", "--title", "payments-db OOM", "--service", "payments")
	if out := ana.ok("incident", "publish", "1", "--title", "Card payments fail"); out != "#1 is on the status page as \"Card payments fail\"\n" {
		t.Fatalf("publish: %q", out)
	}
	if show := ana.ok("incident", "show", "1"); !strings.Contains(show, `on the status page as "Card payments fail"`) {
		t.Fatalf("show: %q", show)
	}
	var page struct {
		Components []struct{ Name, Status string }
		Incidents  []struct{ Title string }
	}
	if err := json.Unmarshal(app.Must(t, 200, "GET", "/status.json", "", nil).Body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Components) != 1 || page.Components[0].Status != "partial_outage" || len(page.Incidents) != 1 || page.Incidents[0].Title != "Card payments fail" {
		t.Fatalf("status page: %+v", page)
	}
	if out := ana.ok("incident", "unpublish", "1"); out != "#1 is not on the status page\n" {
		t.Fatalf("unpublish: %q", out)
	}
	if out := ana.ok("incident", "publish", "1", "--json"); !strings.Contains(out, `"on_status_page":true`) {
		t.Fatalf("publish --json: %q", out)
	}
	admin.ok("maintenance", "remove", "1")
}
