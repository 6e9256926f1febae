package web_test

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// statusWorld is a status page with two components and incidents of every
// kind: published (under a customer-facing title), public but not
// published, and confidential.
type statusWorld struct {
	admin, tok string
	checkout   float64 // component ids
	search     float64
}

func newStatusWorld(t *testing.T, app *testenv.App) *statusWorld {
	t.Helper()
	w := &statusWorld{admin: app.User(t, "root", auth.RoleAdmin, auth.Scopes...), tok: app.User(t, "ana", auth.RoleResponder)}
	w.checkout = app.Must(t, 201, "POST", "/api/v1/components", w.admin, map[string]any{"name": "Checkout", "services": []string{"checkout", "payments"},
		"description": "Paying for orders", "position": 1}).JSON["id"].(float64)
	w.search = app.Must(t, 201, "POST", "/api/v1/components", w.admin, map[string]any{"name": "Search", "services": []string{"search"},
		"group": "Shop", "position": 2}).JSON["id"].(float64)
	app.Must(t, 201, "POST", "/api/v1/incidents", w.tok, map[string]any{"title": "TEAM-TITLE payments-db primary OOM", "severity": "major",
		"services": []string{"payments"}, "summary": "TEAM-SUMMARY"})
	app.Must(t, 200, "PATCH", "/api/v1/incidents/1", w.tok, map[string]any{"on_status_page": true, "status_title": "Card payments fail"})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.tok, map[string]any{"body": "We are **rolling back**.", "visibility": "public"})
	app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.tok, map[string]any{"body": "INTERNAL-UPDATE oc rsh payments-db-0"})
	app.Must(t, 201, "POST", "/api/v1/incidents", w.tok, map[string]any{"title": "UNPUBLISHED search latency", "severity": "critical",
		"services": []string{"search"}})
	app.Must(t, 201, "POST", "/api/v1/incidents/2/updates", w.tok, map[string]any{"body": "UNPUBLISHED-UPDATE", "visibility": "public"})
	app.Must(t, 201, "POST", "/api/v1/incidents", w.tok, map[string]any{"title": "CONFIDENTIAL breach", "severity": "critical",
		"services": []string{"checkout"}, "visibility": "confidential"})
	return w
}

// The status page shows published incidents only, under their
// customer-facing titles, with public updates; it answers a conditional
// request with 304 until something it shows changes.
func TestStatusPage(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		w := newStatusWorld(t, app)
		r := app.Must(t, 200, "GET", "/status", "", nil)
		body := string(r.Body)
		for _, want := range []string{"Card payments fail", "rolling back", "Checkout", "Partial outage", "Search", "Shop", "Paying for orders"} {
			if !strings.Contains(body, want) {
				t.Errorf("/status lacks %q", want)
			}
		}
		for _, hidden := range []string{"TEAM-TITLE", "TEAM-SUMMARY", "INTERNAL-UPDATE", "UNPUBLISHED", "CONFIDENTIAL", "payments-db", ">payments<"} {
			if strings.Contains(body, hidden) {
				t.Errorf("/status shows %q", hidden)
			}
		}
		etag := r.Header.Get("ETag")
		if etag == "" || !strings.Contains(r.Header.Get("Cache-Control"), "public") {
			t.Fatalf("not cache-friendly: ETag %q, Cache-Control %q", etag, r.Header.Get("Cache-Control"))
		}
		if r := app.Request(t, "GET", "/status", "", nil, "If-None-Match", etag); r.Status != 304 || len(r.Body) != 0 {
			t.Fatalf("conditional request: %d with %d bytes", r.Status, len(r.Body))
		}
		// An internal change leaves the page as it is: still 304.
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.tok, map[string]any{"body": "INTERNAL-2"})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/2", w.tok, map[string]any{"title": "UNPUBLISHED renamed"})
		if r := app.Request(t, "GET", "/status", "", nil, "If-None-Match", etag); r.Status != 304 {
			t.Fatalf("an internal change changed the page: %d", r.Status)
		}
		// A public update changes it.
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.tok, map[string]any{"body": "Payments work again.", "visibility": "public"})
		r = app.Request(t, "GET", "/status", "", nil, "If-None-Match", etag)
		if r.Status != 200 || r.Header.Get("ETag") == etag || !strings.Contains(string(r.Body), "Payments work again.") {
			t.Fatalf("after a public update: %d, ETag %s", r.Status, r.Header.Get("ETag"))
		}

		// The JSON form.
		j := app.Must(t, 200, "GET", "/status.json", "", nil)
		var page struct {
			Status     struct{ Indicator string }
			Components []struct {
				ID      float64
				Name    string
				Status  string
				History []struct {
					Date      string
					Status    string
					Incidents []string
				}
			}
			Incidents []struct {
				ID, Title, State, Impact string
				Components               []float64
				Updates                  []struct{ Body string }
			}
		}
		if err := json.Unmarshal(j.Body, &page); err != nil {
			t.Fatal(err)
		}
		if page.Status.Indicator != "partial_outage" || len(page.Components) != 2 || page.Components[0].Status != "partial_outage" ||
			page.Components[1].Status != "operational" {
			t.Fatalf("status.json: %s", j.Body)
		}
		if len(page.Incidents) != 1 || page.Incidents[0].Title != "Card payments fail" || page.Incidents[0].State != "investigating" ||
			len(page.Incidents[0].Updates) != 2 || page.Incidents[0].Components[0] != w.checkout {
			t.Fatalf("status.json incidents: %s", j.Body)
		}
		if h := page.Components[0].History; len(h) != 1 || h[0].Date != "2026-11-24" || h[0].Incidents[0] != page.Incidents[0].ID {
			t.Fatalf("history: %+v", h)
		}
		if strings.Contains(string(j.Body), `"1"`) || strings.Contains(string(j.Body), "payments\"") {
			t.Errorf("status.json names the team's numbers or services: %s", j.Body)
		}
		if j.Header.Get("ETag") == "" || app.Request(t, "GET", "/status.json", "", nil, "If-None-Match", j.Header.Get("ETag")).Status != 304 {
			t.Error("status.json is not conditional")
		}

		// The Atom feed parses, with an entry per published incident.
		a := app.Must(t, 200, "GET", "/status.atom", "", nil)
		var feed struct {
			XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
			ID      string   `xml:"id"`
			Updated string   `xml:"updated"`
			Entries []struct {
				ID      string `xml:"id"`
				Title   string `xml:"title"`
				Updated string `xml:"updated"`
				Content string `xml:"content"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(a.Body, &feed); err != nil {
			t.Fatalf("atom: %v\n%s", err, a.Body)
		}
		if feed.ID == "" || feed.Updated == "" || len(feed.Entries) != 1 || feed.Entries[0].Title != "Card payments fail" ||
			!strings.Contains(feed.Entries[0].Content, "rolling back") {
			t.Fatalf("atom feed: %s", a.Body)
		}
		if _, err := time.Parse(time.RFC3339, feed.Updated); err != nil {
			t.Errorf("feed updated %q: %v", feed.Updated, err)
		}

		// Taken off, it is gone from every form at once.
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", w.tok, map[string]any{"on_status_page": false})
		for _, u := range []string{"/status", "/status.json", "/status.atom"} {
			if b := string(app.Must(t, 200, "GET", u, "", nil).Body); strings.Contains(b, "Card payments fail") {
				t.Errorf("%s still shows the unpublished incident", u)
			}
		}
	})
}

// The status page is for customers: it answers anonymous visitors even
// where QUENCH_PUBLIC_VIEWING=false keeps the board and incident pages to
// the team.
func TestStatusPageOnAPrivateInstance(t *testing.T) {
	app := testenv.StartApp(t, "sqlite", func(o *service.Options) { o.PrivateInstance = true })
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "x"})
	app.Must(t, 200, "PATCH", "/api/v1/incidents/1", tok, map[string]any{"on_status_page": true, "status_title": "Slow pages"})
	if r := app.Request(t, "GET", "/", "", nil); r.Status != 303 {
		t.Fatalf("board on a private instance: %d", r.Status)
	}
	for _, u := range []string{"/status", "/status.json", "/status.atom", "/status/report"} {
		if r := app.Request(t, "GET", u, "", nil); r.Status != 200 || (u != "/status/report" && !strings.Contains(string(r.Body), "Slow pages")) {
			t.Errorf("%s on a private instance: %d", u, r.Status)
		}
	}
	if r := app.Request(t, "POST", "/status/report", "", "text=slow", "Content-Type", "application/x-www-form-urlencoded"); r.Status != 303 {
		t.Errorf("report on a private instance: %d", r.Status)
	}
}
