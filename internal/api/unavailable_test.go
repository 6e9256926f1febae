package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// A database that cannot answer is a 503 with Retry-After, so clients try
// again; never a 404, which says the thing is gone. On PostgreSQL the
// locked tables are the incident's content, so each call gets past the
// incident and fails reading its update, checklist item or link: the read
// that used to turn every error into "not found". On SQLite the write lock
// fails every change, and reads go on from their snapshot.
func TestUnavailableContentIsNotNotFound(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		id := func(r *testenv.Response) int64 { return int64(r.JSON["id"].(float64)) }
		// One incident per change, so that no change waits on another's
		// lock of the incident row.
		type content struct{ update, item, link int64 }
		var c [5]content
		for n := int64(1); n <= 4; n++ {
			open(t, app, tok, map[string]any{"title": fmt.Sprintf("incident %d", n)})
			c[n] = content{
				update: id(app.Must(t, 201, "POST", path(n, "/updates"), tok, map[string]any{"body": "looking"})),
				item:   id(app.Must(t, 201, "POST", path(n, "/checklist"), tok, map[string]any{"text": "fix config"})),
				link:   id(app.Must(t, 201, "POST", path(n, "/links"), tok, map[string]any{"url": "https://dash.example.com/d/1"})),
			}
		}
		changes := []testenv.Call{ // each answers 200 or 204 when the database is back
			{Method: "PATCH", Path: path(1, fmt.Sprintf("/updates/%d", c[1].update)), Token: tok, Body: map[string]any{"visibility": "public"}},
			{Method: "PATCH", Path: path(2, fmt.Sprintf("/checklist/%d", c[2].item)), Token: tok, Body: map[string]any{"done": true}},
			{Method: "DELETE", Path: path(3, fmt.Sprintf("/checklist/%d", c[3].item)), Token: tok},
			{Method: "DELETE", Path: path(4, fmt.Sprintf("/links/%d", c[4].link)), Token: tok},
		}
		reads := []testenv.Call{
			{Method: "GET", Path: path(1, "/updates"), Token: tok},
			{Method: "GET", Path: path(1, "/checklist"), Token: tok},
			{Method: "GET", Path: path(1, "/links"), Token: tok},
			{Method: "GET", Path: "/incidents/1"}, // the page, for a viewer
		}
		calls := append(changes, reads...)
		got := app.Outage(t, []string{"updates", "checklist_items", "links"}, calls...)

		readsFail := app.Store.Dialect() == store.Postgres
		for i, r := range got {
			call := calls[i]
			if i >= len(changes) && !readsFail {
				if r.Status != http.StatusOK {
					t.Errorf("%s %s while SQLite is locked for writes: %d %s", call.Method, call.Path, r.Status, r.Body)
				}
				continue
			}
			if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
				t.Errorf("%s %s: %d, Retry-After %q, want 503 with Retry-After: %s", call.Method, call.Path,
					r.Status, r.Header.Get("Retry-After"), r.Body)
			}
			if r.JSON != nil && r.Code() != "unavailable" {
				t.Errorf("%s %s: code %q, want unavailable", call.Method, call.Path, r.Code())
			}
		}

		// Nothing was half done, everything works again without a
		// restart, and what is really missing is still a 404.
		if items := app.Must(t, 200, "GET", path(3, "/checklist"), tok, nil).JSON["checklist"]; len(items.([]any)) != 1 {
			t.Errorf("checklist of #3 after the outage: %v", items)
		}
		for _, ch := range changes {
			if r := app.Request(t, ch.Method, ch.Path, ch.Token, ch.Body); r.Status != 200 && r.Status != 204 {
				t.Errorf("%s %s after the outage: %d %s", ch.Method, ch.Path, r.Status, r.Body)
			}
		}
		if r := app.Request(t, "DELETE", path(4, fmt.Sprintf("/links/%d", c[4].link)), tok, nil); r.Status != http.StatusNotFound || r.Code() != "not_found" {
			t.Errorf("removed link: %d %s, want 404", r.Status, r.Body)
		}
	})
}
