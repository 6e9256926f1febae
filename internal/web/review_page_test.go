package web_test

import (
	"encoding/csv"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// The review page: the agenda, recording the meeting with a decision per
// listed incident, the past review's page, and the review day form.
func TestReviewPage(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		app.User(t, "root", auth.RoleAdmin)
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Certificates <broken>", "detection_source": "customer"})
		app.Clock.Advance(time.Minute)
		s := signIn(t, app, "ana")
		resp, page := s.get("/review")
		if resp.StatusCode != 200 || !strings.Contains(page, "Certificates &lt;broken&gt;") || !strings.Contains(page, "no detection improvement yet") ||
			!strings.Contains(page, `name="decision-1"`) || strings.Contains(page, `action="/review/schedule"`) {
			t.Fatalf("review page: %d\n%s", resp.StatusCode, page)
		}
		if resp, _ := signIn(t, app, "").get("/review"); resp.StatusCode != 404 {
			t.Errorf("anonymous review page: %d, want 404", resp.StatusCode)
		}
		since := regexp.MustCompile(`name="since" value="([^"]+)"`).FindStringSubmatch(page)
		until := regexp.MustCompile(`name="until" value="([^"]+)"`).FindStringSubmatch(page)
		if since == nil || until == nil {
			t.Fatal("the form does not carry the agenda's period")
		}
		// Nothing to record: shown again with what was typed.
		if resp, body := s.post("/review", url.Values{"attendees": {"ana, bo"}, "since": {since[1]}, "until": {until[1]}}); resp.StatusCode != 422 ||
			!strings.Contains(body, "minutes or a decision") || !strings.Contains(body, `value="ana, bo"`) {
			t.Fatalf("empty review: %d", resp.StatusCode)
		}
		resp, _ = s.post("/review", url.Values{"attendees": {"ana, bo"}, "minutes": {"We met. See #1."}, "decision-1": {"ask the CA team"},
			"since": {since[1]}, "until": {until[1]}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/reviews/1" {
			t.Fatalf("record: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, held := s.get("/reviews/1")
		if !strings.Contains(held, "ask the CA team") || !strings.Contains(held, "ana, bo") || !strings.Contains(held, `href="/incidents/1"`) {
			t.Errorf("past review page:\n%s", held)
		}
		app.Clock.Advance(time.Minute)
		if _, page := s.get("/review"); !strings.Contains(page, "Last time we decided") || !strings.Contains(page, "ask the CA team") ||
			!strings.Contains(page, `href="/reviews/1"`) {
			t.Error("the next agenda lacks the decision")
		}
		if resp, _ := s.get("/reviews/2"); resp.StatusCode != 404 {
			t.Errorf("a review that does not exist: %d", resp.StatusCode)
		}
		// Only admins set the review day.
		if resp, _ := s.post("/review/schedule", url.Values{"weekday": {"friday"}, "time": {"14:30"}}); resp.StatusCode != 403 {
			t.Errorf("responder sets the review day: %d", resp.StatusCode)
		}
		root := signIn(t, app, "root")
		if resp, body := root.post("/review/schedule", url.Values{"weekday": {"friday"}, "time": {"25:00"}}); resp.StatusCode != 422 || !strings.Contains(body, "HH:MM") {
			t.Errorf("bad time: %d", resp.StatusCode)
		}
		if resp, _ := root.post("/review/schedule", url.Values{"weekday": {"friday"}, "time": {"14:30"}, "timezone": {"Europe/Berlin"}}); resp.StatusCode != 303 {
			t.Fatalf("set the review day: %d", resp.StatusCode)
		}
		if _, page := root.get("/review?schedule=saved"); !strings.Contains(page, "Every Friday at 14:30 (Europe/Berlin)") ||
			!strings.Contains(page, "The review day is saved.") || !strings.Contains(page, "next meeting") {
			t.Errorf("review day not shown:\n%s", page)
		}
	})
}

// The insights page draws its charts as SVG with their numbers as tables
// and CSV downloads; a viewer gets the public incidents' figures.
func TestInsightsPage(t *testing.T) {
	app := testenv.StartApp(t, "sqlite")
	tok := app.User(t, "ana", auth.RoleResponder)
	for _, src := range []string{"alert", "alert", "customer", "exception"} {
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "x", "detection_source": src, "services": []string{"api"}})
	}
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "x", "detection_source": "team", "visibility": "confidential",
		"services": []string{"vault"}})
	app.Clock.Advance(20 * time.Minute)
	app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", tok, map[string]any{"to": "mitigated", "note": "n"})
	app.Clock.Advance(time.Minute)

	r := app.Must(t, 200, "GET", "/insights", tok, nil)
	page := string(r.Body)
	for _, want := range []string{"Found by monitoring before customers: <strong>60%</strong>", `<svg xmlns="http://www.w3.org/2000/svg"`,
		`role="img"`, `<title id="mitigate-by-month-t">`, `/insights.csv?chart=services`, "vault", `id="alert-ratio"`, "20 min"} {
		if !strings.Contains(page, want) {
			t.Errorf("team insights lack %q", want)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") || strings.Contains(page, "style=") || strings.Contains(page, "<script>") {
		t.Error("the charts need a looser policy than the pages'")
	}
	viewer := string(app.Must(t, 200, "GET", "/insights", "", nil).Body)
	if strings.Contains(viewer, "vault") || !strings.Contains(viewer, "public incidents only") || !strings.Contains(viewer, "<strong>75%</strong>") ||
		strings.Contains(viewer, "alert-ratio") {
		t.Error("the viewer's insights show more than public incidents")
	}
	c := app.Must(t, 200, "GET", "/insights.csv?chart=detection-sources", tok, nil)
	rows, err := csv.NewReader(strings.NewReader(string(c.Body))).ReadAll()
	if err != nil || len(rows) != 6 || strings.Join(rows[0], ",") != "detection_source,incidents,share" || strings.Join(rows[1], ",") != "alert,2,0.4" {
		t.Errorf("CSV: %v %q", err, rows)
	}
	if r := app.Request(t, "GET", "/insights.csv?chart=noisiest-alerts", "", nil); r.Status != 404 {
		t.Errorf("a viewer's alert chart: %d", r.Status)
	}
	if r := app.Request(t, "GET", "/insights?since=2027-01-01&until=2026-01-01", tok, nil); r.Status != 400 {
		t.Errorf("backward period: %d", r.Status)
	}
}

// The log page's period and filters, and its presets.
func TestLogPagePeriodAndFilters(t *testing.T) {
	app := testenv.StartApp(t, "sqlite")
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "in November", "detection_source": "customer"})
	app.Clock.Advance(10 * 24 * time.Hour)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "in December", "detection_source": "alert"})
	body := func(q string) string { return string(app.Must(t, 200, "GET", "/incidents?"+q, tok, nil).Body) }
	if p := body("from=2026-12-01&to=2026-12-31"); !strings.Contains(p, "in December") || strings.Contains(p, "in November") || !strings.Contains(p, "1 incident(s)") {
		t.Error("period filter")
	}
	if p := body("source=customer"); !strings.Contains(p, "in November") || strings.Contains(p, "in December") {
		t.Error("detection source filter")
	}
	p := body("source=customer")
	for _, want := range []string{"last 7 days", "/incidents?from=2026-11-01&amp;source=customer&amp;to=2026-11-30", "this quarter",
		"/api/v1/log?format=md&amp;source=customer", "/api/v1/log?format=csv&amp;source=customer"} {
		if !strings.Contains(p, want) {
			t.Errorf("log page lacks %q", want)
		}
	}
	if r := app.Request(t, "GET", "/incidents?from=tomorrow", tok, nil); r.Status != 400 {
		t.Errorf("bad period: %d", r.Status)
	}
}
