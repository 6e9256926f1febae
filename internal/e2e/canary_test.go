package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// The canary sweep: internal content never reaches a viewer on any
// surface. Every internal thing carries a marker; then, as an anonymous
// viewer, every GET route Quench registers is fetched with every id the
// world holds, plus the extra URLs below, and the marker must appear in
// none of the answers. A public incident with internal content must also
// look exactly like one without (same counts). New routes are swept
// automatically; give new path parameters values in ids, and add surfaces
// that need a query (search, feeds, exports) to extraURLs.
func TestCanarySweep(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		w := buildCanaryWorld(t, app)
		urls := w.urls(app.Handler.Patterns)
		if len(urls) < 20 {
			t.Fatalf("sweep covers only %d URLs", len(urls))
		}
		for _, u := range urls {
			r := app.Request(t, "GET", u, "", nil)
			markers := append(slices.Clone(w.markers), w.earlierMarkers...)
			if isStatusSurface(u) {
				// Customers see published incidents only, under their
				// customer-facing titles: not even what the team may
				// show viewers inside the organisation.
				markers = append(markers, w.customerMarkers...)
			}
			for _, marker := range markers {
				if strings.Contains(string(r.Body), marker) || strings.Contains(fmt.Sprint(r.Header), marker) {
					t.Errorf("anonymous GET %s (%d) shows %s", u, r.Status, marker)
				}
			}
		}
		// The status surfaces were swept, and they do show what was
		// published: the sweep looked at pages with something to hide.
		for _, u := range []string{"/status", "/status.json", "/status.atom"} {
			if b := string(app.Must(t, 200, "GET", u, "", nil).Body); !strings.Contains(b, "Messages are delayed") || !slices.Contains(urls, u) {
				t.Errorf("%s was not swept with a published incident on it", u)
			}
		}
		// Same shape: the public incident with internal content and the
		// one without answer with the same counts everywhere.
		for _, rest := range []string{"", "/timeline", "/updates", "/checklist", "/links", "/attachments"} {
			a := app.Request(t, "GET", fmt.Sprintf("/api/v1/incidents/%d%s", w.withInternal, rest), "", nil)
			b := app.Request(t, "GET", fmt.Sprintf("/api/v1/incidents/%d%s", w.plain, rest), "", nil)
			if a.Status != b.Status || shape(a.Body) != shape(b.Body) {
				t.Errorf("%s differs for an incident with internal content:\n%s\n%s", rest, shape(a.Body), shape(b.Body))
			}
		}
		for _, q := range w.markers {
			if r := app.Request(t, "GET", "/api/v1/incidents?q="+q, "", nil); r.JSON["total"] != 0.0 {
				t.Errorf("search count for %s is %v", q, r.JSON["total"])
			}
		}
		if r := app.Request(t, "GET", "/api/v1/incidents", "", nil); r.JSON["total"] != float64(w.public) {
			t.Errorf("anonymous total %v, want the %d public incidents", r.JSON["total"], w.public)
		}
		// The team's page of that incident does list its notifications,
		// so the sweep looked at a page that has some to hide.
		team := string(app.Request(t, "GET", fmt.Sprintf("/incidents/%d", w.withInternal), w.team, nil).Body)
		if !strings.Contains(team, `id="notifications"`) || !strings.Contains(team, w.markers[3]) {
			t.Error("the team's incident page lists no notifications")
		}
		// The review is not there for a viewer at all; the insights are,
		// for public incidents.
		for _, u := range []string{"/review", "/reviews/1", "/api/v1/review", "/api/v1/reviews", "/api/v1/reviews/1", "/api/v1/review/schedule"} {
			if r := app.Request(t, "GET", u, "", nil); r.Status != 404 {
				t.Errorf("anonymous GET %s: %d, want 404", u, r.Status)
			}
		}
		if r := app.Request(t, "GET", "/api/v1/insights", "", nil); r.Status != 200 || r.JSON["public_only"] != true || r.JSON["alerts"] != nil {
			t.Errorf("anonymous insights: %d %s", r.Status, r.Body)
		}
		// The team's versions of the swept surfaces do hold the markers,
		// so the sweep looked where there was something to hide.
		for u, marker := range map[string]string{"/api/v1/insights": "confidential-service", "/insights.csv?chart=noisiest-alerts": "alert-name",
			"/api/v1/log?format=md": "confidential-title", "/api/v1/review?format=md": "review-decision", "/review": "review-secret",
			fmt.Sprintf("/api/v1/incidents/%d/links", w.withInternal): "alert-runbook", fmt.Sprintf("/incidents/%d", w.withInternal): "alert-runbook"} {
			if r := app.Request(t, "GET", u, w.team, nil); r.Status != 200 || !strings.Contains(string(r.Body), marker) {
				t.Errorf("the team's %s (%d) lacks %s", u, r.Status, marker)
			}
		}
		t.Logf("swept %d URLs for %d markers", len(urls), len(w.markers))
	})
}

type canaryWorld struct {
	markers []string
	// customerMarkers are in things viewers inside the organisation may
	// see but customers may not: unpublished incidents, the team's own
	// titles of published ones, their summaries.
	customerMarkers []string
	// earlierMarkers are in values a field had before it was changed.
	earlierMarkers []string
	public         int    // public incidents
	withInternal   int64  // public incident with internal updates and files
	plain          int64  // public incident without internal content
	secret         int64  // confidential incident
	team           string // a responder's token
	ids            map[string][]string
}

func buildCanaryWorld(t *testing.T, app *testenv.App) *canaryWorld {
	tok := app.User(t, "ana", auth.RoleResponder)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	w := &canaryWorld{ids: map[string][]string{}, team: tok}
	marker := func(what string) string {
		m := fmt.Sprintf("CANARY-%s-%d", what, len(w.markers))
		w.markers = append(w.markers, m)
		return m
	}
	// Earlier values were current once: channels told of them as they
	// happened, but no anonymous surface shows them now.
	earlier := func(what string) string {
		m := fmt.Sprintf("CANARY-earlier-%s-%d", what, len(w.earlierMarkers))
		w.earlierMarkers = append(w.earlierMarkers, m)
		return m
	}
	customer := func(what string) string {
		m := fmt.Sprintf("CANARY-customer-%s-%d", what, len(w.customerMarkers))
		w.customerMarkers = append(w.customerMarkers, m)
		return m
	}
	num := func(r *testenv.Response) int64 { return int64(r.JSON["number"].(float64)) }
	w.withInternal = num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Queue backlog", "services": []string{"umb"}}))
	w.plain = num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Queue backlog", "services": []string{"umb"}}))
	w.secret = num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": marker("confidential-title"),
		"summary": marker("confidential-summary"), "visibility": "confidential", "labels": map[string]string{"k": marker("confidential-label")}}))
	// Channels from here on get messages: a team channel (its name is
	// internal, and what it is sent may be) and a public one. Their
	// deliveries show on the team's incident page, never a viewer's.
	for _, aud := range []string{"team", "public"} {
		app.Must(t, 201, "POST", "/api/v1/channels", admin, map[string]any{"type": "webhook", "name": marker(aud + "-channel"),
			"url": "http://127.0.0.1:9/" + marker(aud+"-channel-url"), "audience": aud})
	}
	base := func(n int64) string { return fmt.Sprintf("/api/v1/incidents/%d", n) }
	w.public = 2
	// The status page: a component for the team's service, the two
	// public incidents published under a customer-facing title.
	app.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Messaging", "services": []string{"umb"}})
	for _, n := range []int64{w.withInternal, w.plain} {
		app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", n), tok, map[string]any{"on_status_page": true, "status_title": "Messages are delayed"})
	}
	// A published incident whose own title and summary are the team's,
	// and a public incident nobody published.
	teamTitled := num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": customer("team-title"),
		"summary": customer("team-summary"), "services": []string{"umb"}}))
	app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", teamTitled), tok, map[string]any{"on_status_page": true, "status_title": "Slow sign-in"})
	unpublished := num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": customer("unpublished-title"), "services": []string{"umb"}}))
	app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/incidents/%d/updates", unpublished), tok, map[string]any{"body": customer("unpublished-update"), "visibility": "public"})
	// Earlier values: a title and a summary changed since, and what was
	// written while the incident was confidential, before it was made
	// public (and published).
	renamed := num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": earlier("title"), "summary": earlier("summary")}))
	app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", renamed), tok, map[string]any{"title": "Renamed", "summary": "Now it says this."})
	once := num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": marker("confidential-then-title"),
		"visibility": "confidential", "services": []string{"umb"}}))
	app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", once), tok, map[string]any{"title": "Disk pressure", "owners": map[string]string{"active": "ana"}})
	app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/incidents/%d/checklist", once), tok, map[string]any{"text": marker("confidential-then-item")})
	app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", once), tok, map[string]any{"visibility": "public"})
	app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", once), tok, map[string]any{"on_status_page": true})
	w.public += 4
	for _, n := range []int64{w.withInternal, w.plain} {
		app.Must(t, 201, "POST", base(n)+"/updates", tok, map[string]any{"body": "we are on it", "visibility": "public"})
	}
	internal := app.Must(t, 201, "POST", base(w.withInternal)+"/updates", tok, map[string]any{"body": "oc rsh " + marker("internal-update")})
	// Links and checklist items are internal unless said otherwise.
	app.Must(t, 201, "POST", base(w.withInternal)+"/links", tok, map[string]any{"url": "https://grafana.example/" + marker("internal-link"),
		"title": marker("internal-link-title")})
	app.Must(t, 201, "POST", base(w.withInternal)+"/checklist", tok, map[string]any{"text": marker("internal-item"), "phase": "resolved"})
	made := app.Must(t, 201, "POST", base(w.withInternal)+"/links", tok, map[string]any{"url": "https://x.example/" + marker("link-made-internal"),
		"visibility": "public"})
	app.Must(t, 200, "PATCH", fmt.Sprintf("%s/links/%v", base(w.withInternal), made.JSON["id"]), tok, map[string]any{"visibility": "internal"})
	withdrawn := app.Must(t, 201, "POST", base(w.withInternal)+"/updates", tok, map[string]any{"body": marker("withdrawn-update"), "visibility": "public"})
	app.Must(t, 200, "PATCH", fmt.Sprintf("%s/updates/%v", base(w.withInternal), withdrawn.JSON["id"]), tok, map[string]any{"visibility": "internal"})
	app.Must(t, 201, "POST", base(w.secret)+"/updates", tok, map[string]any{"body": marker("public-update-on-confidential"), "visibility": "public"})
	app.Must(t, 201, "POST", base(w.secret)+"/checklist", tok, map[string]any{"text": marker("confidential-checklist")})
	// Checklist templates are the team's: a template for a service no
	// public incident has, so its items land nowhere a viewer looks.
	app.Must(t, 201, "POST", "/api/v1/checklist-templates", admin, map[string]any{"name": marker("template-name"), "service": "nowhere",
		"items": []map[string]string{{"phase": "resolved", "text": marker("template-item")}}})
	app.Must(t, 201, "POST", base(w.secret)+"/links", tok, map[string]any{"url": "https://x.example/" + marker("confidential-link")})

	upload := func(n int64, name, content string, fields ...string) string {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for i := 0; i+1 < len(fields); i += 2 {
			mw.WriteField(fields[i], fields[i+1])
		}
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write([]byte(content))
		mw.Close()
		r := app.Request(t, "POST", base(n)+"/attachments", tok, buf.String(), "Content-Type", mw.FormDataContentType())
		if r.Status != 201 {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		return r.JSON["id"].(string)
	}
	w.ids["attachment"] = []string{
		upload(w.withInternal, marker("file-name")+".txt", marker("file-content"), "update", fmt.Sprint(internal.JSON["id"])),
		upload(w.withInternal, "internal-by-default.txt", marker("incident-file")),
		upload(w.secret, marker("confidential-file")+".txt", marker("confidential-file-content"), "visibility", "public"),
	}
	// An alert with internal details lands on the public incident.
	_, in := integration(t, app, admin)
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.id, in.token, map[string]any{"title": "disk full",
		"severity": "warning", "labels": map[string]string{"host": marker("alert-host")}})
	app.Must(t, 200, "POST", base(w.withInternal)+"/alerts", tok, map[string]any{"alerts": []int{1}})
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.id, in.token, map[string]any{"title": marker("alert-name"), "severity": "warning"})
	// Triage done and undone: the dismissal's reason stays in the audit log.
	app.Must(t, 200, "POST", "/api/v1/alerts/dismiss", tok, map[string]any{"alerts": []int{2}, "reason": marker("dismiss-reason")})
	app.Must(t, 200, "POST", "/api/v1/alerts/restore", tok, map[string]any{"alerts": []int{2}})
	app.Must(t, 200, "POST", "/api/v1/alerts/ack", tok, map[string]any{"alerts": []int{2}})
	app.Must(t, 200, "POST", "/api/v1/alerts/unack", tok, map[string]any{"alerts": []int{2}})
	// An alert's runbook becomes a link of the public incident it joins:
	// an internal one, the team's only.
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.id, in.token, map[string]any{"title": "runbook alert", "severity": "warning",
		"links": []map[string]string{{"kind": "runbook", "url": "https://runbooks.example/" + marker("alert-runbook")}}})
	app.Must(t, 200, "POST", base(w.withInternal)+"/alerts", tok, map[string]any{"alerts": []int{3}})
	app.Must(t, 200, "PATCH", base(w.secret), tok, map[string]any{"services": []string{marker("confidential-service")}})
	// The weekly review is the team's: its minutes, attendees and
	// decisions (on a public incident too) reach no viewer.
	app.Must(t, 201, "POST", "/api/v1/reviews", tok, map[string]any{"minutes": marker("review-minutes"), "attendees": []string{marker("review-attendee")},
		"decisions": []map[string]any{{"incident": w.withInternal, "text": marker("review-decision")}, {"incident": w.secret, "text": marker("review-secret")}}})
	// A customer's report: the team's inbox only.
	if r := app.Request(t, "POST", "/status/report", "", "text="+marker("report-text"), "Content-Type", "application/x-www-form-urlencoded"); r.Status != 303 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}

	// A heartbeat whose name, labels and failure log are internal: its
	// ping answers (no login needed) say only ok and the state. It is
	// not page-worthy, so its alert waits in the inbox.
	hb := app.Must(t, 201, "POST", "/api/v1/heartbeats", admin, map[string]any{"name": marker("heartbeat-name"), "period": "1h",
		"labels": map[string]string{"service": marker("heartbeat-label")}})
	key := strings.TrimPrefix(hb.JSON["ping_url"].(string), app.URL+"/api/v1/ping/")
	app.Must(t, 200, "POST", "/api/v1/ping/"+key+"/fail", "", marker("heartbeat-log"))
	// Edited and rotated: the new labels are internal too, and the old
	// key is swept along with the new one.
	hbPath := "/api/v1/heartbeats/" + hb.JSON["id"].(string)
	app.Must(t, 200, "PATCH", hbPath, admin, map[string]any{"period": "2h", "labels": map[string]string{"service": marker("heartbeat-label-edited")}})
	rot := app.Must(t, 200, "POST", hbPath+"/rotate", admin, nil)
	w.ids["key"] = []string{strings.TrimPrefix(rot.JSON["ping_url"].(string), app.URL+"/api/v1/ping/"), key, "hb_wrong"}
	// And a test alert, sent as the integration.
	app.Must(t, 201, "POST", "/api/v1/integrations/"+in.id+"/test", admin, map[string]any{"severity": "warning"})

	for _, n := range []int64{w.withInternal, w.plain, w.secret, teamTitled, unpublished, renamed, once, 999} {
		w.ids["number"] = append(w.ids["number"], fmt.Sprint(n))
	}
	w.ids["id"] = append([]string{"1", "2", "3", "4", "5", in.id, hb.JSON["id"].(string)}, w.ids["attachment"]...)
	w.ids["username"] = []string{"ana", "root"}
	w.ids["type"] = []string{"generic", "alertmanager"}
	// Periods end now, excluded: a minute on, everything above is in them.
	app.Clock.Advance(time.Minute)
	return w
}

type integrationRef struct{ id, token string }

func integration(t *testing.T, app *testenv.App, admin string) (*testenv.Response, integrationRef) {
	r := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	return r, integrationRef{r.JSON["id"].(string), r.JSON["token"].(string)}
}

// extraURLs are surfaces a route pattern alone does not reach.
func (w *canaryWorld) extraURLs() []string {
	out := []string{"/api/v1/incidents?q=oc+rsh", "/api/v1/incidents?q=CANARY", "/api/v1/incidents?label=k%3D" + w.markers[2],
		"/api/v1/incidents?limit=500", "/api/v1/incidents?phase=active&sort=updated", "/no/such/page", "/api/v1/no/such/endpoint",
		"/api/v1/deliveries?incident=1", "/admin/deliveries?incident=1", "/admin/deliveries?state=failing&channel=1",
		"/api/v1/log?format=md", "/api/v1/log?format=csv", "/api/v1/log?format=json", "/api/v1/log?format=md&q=CANARY",
		"/api/v1/log?format=csv&sort=-updated&from=2000-01-01", "/incidents?from=2000-01-01&to=2100-01-01", "/api/v1/review?format=md",
		"/api/v1/insights?since=2000-01-01", "/insights?since=2000-01-01",
		"/status/report?sent=1", "/status/subscribe?sent=1", "/status/confirm?token=1.x", "/status/unsubscribe?token=1.x", "/status?x=1",
		"/alerts?undo=restore&undo_alert=2", "/alerts?undo=unack&undo_alert=2"}

	for _, chart := range []string{"mitigate-by-month", "mitigate-by-severity", "resolve-by-month", "resolve-by-severity", "close-by-month",
		"close-by-severity", "monitoring-by-month", "detection-sources", "services", "noisiest-alerts"} {
		out = append(out, "/insights.csv?chart="+chart)
	}
	for _, m := range w.markers {
		out = append(out, "/api/v1/incidents?q="+m)
	}
	return out
}

var param = regexp.MustCompile(`\{(\w+)\$?\}`)

// isStatusSurface reports whether u is a page customers see.
func isStatusSurface(u string) bool { return strings.HasPrefix(u, "/status") }

// urls expands every GET pattern with every id of its parameters.
func (w *canaryWorld) urls(patterns []string) []string {
	set := map[string]bool{}
	for _, p := range patterns {
		method, path, _ := strings.Cut(p, " ")
		if method != "GET" {
			continue
		}
		paths := []string{path}
		for _, m := range param.FindAllStringSubmatch(path, -1) {
			values := w.ids[m[1]]
			if len(values) == 0 {
				values = []string{"1"}
			}
			var next []string
			for _, p := range paths {
				for _, v := range values {
					next = append(next, strings.Replace(p, m[0], v, 1))
				}
			}
			paths = next
		}
		for _, p := range paths {
			set[strings.TrimSuffix(p, "/")+map[bool]string{true: "/", false: ""}[strings.HasSuffix(p, "/")]] = true
		}
	}
	for _, u := range w.extraURLs() {
		set[u] = true
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// shape summarises a JSON answer by its keys and array lengths, so two
// incidents compare equal when they hold the same number of things.
func shape(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return fmt.Sprintf("non-JSON %d bytes", len(body))
	}
	var b strings.Builder
	var walk func(string, any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(path+"."+k, x[k])
			}
		case []any:
			fmt.Fprintf(&b, "%s[%d] ", path, len(x))
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", v)
	return b.String()
}

// The live stream tells viewers of changes to public incidents only, and
// only their numbers.
func TestEventStreamHidesConfidential(t *testing.T) {
	app := testenv.StartApp(t, "sqlite")
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "public"})
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "CANARY-stream", "visibility": "confidential"})
	read := func(token string) string {
		req, _ := http.NewRequest("GET", app.URL+"/events", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// The stream sends its retry: line once it listens for changes.
		subscribed, got := make(chan struct{}), make(chan string, 1)
		go func() {
			var b strings.Builder
			buf := make([]byte, 1024)
			listening := false
			for {
				n, err := resp.Body.Read(buf)
				b.Write(buf[:n])
				if !listening && strings.Contains(b.String(), "retry:") {
					listening = true
					close(subscribed)
				}
				if strings.Count(b.String(), "event: change") >= 2 || err != nil {
					got <- b.String()
					return
				}
			}
		}()
		select {
		case <-subscribed:
		case s := <-got:
			t.Fatalf("stream ended before it listened: %q", s)
		}
		app.Must(t, 201, "POST", "/api/v1/incidents/2/updates", tok, map[string]any{"body": "secret move"})
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", tok, map[string]any{"body": "hello", "visibility": "public"})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/2", tok, map[string]any{"title": "CANARY-stream 2"})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", tok, map[string]any{"title": "public 2"})
		return <-got
	}
	anon := read("")
	if strings.Contains(anon, `"incident":2`) || strings.Contains(anon, "CANARY") || strings.Count(anon, `"incident":1`) != 2 {
		t.Fatalf("viewer stream: %q", anon)
	}
	if team := read(tok); !strings.Contains(team, `"incident":2`) {
		t.Fatalf("team stream lacks the confidential incident: %q", team)
	}
}

// The canary sweep of what leaves Quench: public channels of every type
// (Slack, webhook, e-mail) subscribed to everything they may receive never
// get a marker, while a team channel gets them (so the markers did travel).
func TestCanaryOutbound(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			mail := testenv.NewMailSink(t)
			app := testenv.StartApp(t, d, func(o *service.Options) { o.Email, o.BaseURL = true, "https://quench.example" })
			ctx := context.Background()
			// A customer subscribed to the status page, confirmed.
			form(t, app, "/status/subscribe", url.Values{"email": {"customer@example.com"}})
			app.Outbox(mail.Config).Drain(ctx)
			if r := form(t, app, "/status/confirm", url.Values{"token": {links(t, mail.Take()[0])["confirm"]}}); r.Status != 200 {
				t.Fatalf("confirm: %d", r.Status)
			}
			slackSink, hookSink, teamSink := testenv.NewSink(t), testenv.NewSink(t), testenv.NewSink(t)
			for _, c := range []service.ChannelInput{
				{Type: ptr("slack"), Name: ptr("public-slack"), URL: ptr(slackSink.URL), Audience: ptr("public")},
				{Type: ptr("webhook"), Name: ptr("public-hook"), URL: ptr(hookSink.URL), Audience: ptr("public")},
				{Type: ptr("email"), Name: ptr("public-mail"), Recipients: &[]string{"customers@example.com"}, Audience: ptr("public")},
				{Type: ptr("webhook"), Name: ptr("team-hook"), URL: ptr(teamSink.URL), Audience: ptr("team")},
			} {
				if _, _, err := app.Svc.CreateChannel(ctx, service.System, c); err != nil {
					t.Fatal(err)
				}
			}
			w := buildCanaryWorld(t, app)
			tok := app.Token(t, "ana")
			marker := func(what string) string {
				m := fmt.Sprintf("CANARY-%s-%d", what, len(w.markers))
				w.markers = append(w.markers, m)
				return m
			}
			base := func(n int64) string { return fmt.Sprintf("/api/v1/incidents/%d", n) }
			// More internal things that events carry: a checklist item ticked
			// on the public incident, a transition note and owner change on
			// the confidential one.
			item := app.Must(t, 201, "POST", base(w.withInternal)+"/checklist", tok, map[string]any{"text": marker("internal-checklist")})
			app.Must(t, 200, "PATCH", fmt.Sprintf("%s/checklist/%v", base(w.withInternal), item.JSON["id"]), tok, map[string]any{"done": true})
			app.Must(t, 200, "PATCH", base(w.secret), tok, map[string]any{"owners": map[string]string{"active": "ana"}})
			app.Must(t, 200, "POST", base(w.secret)+"/transitions", tok, map[string]any{"to": "mitigated", "note": marker("confidential-note"), "override": true})
			app.Must(t, 200, "POST", base(w.withInternal)+"/transitions", tok, map[string]any{"to": "mitigated", "note": "restarted the consumer"})
			app.Outbox(mail.Config).Drain(ctx)

			public := map[string][]string{}
			for name, s := range map[string]*testenv.Sink{"slack": slackSink, "webhook": hookSink} {
				for _, r := range s.Take() {
					public[name] = append(public[name], string(r.Body)+fmt.Sprint(r.Header))
				}
			}
			var customer []string
			for _, m := range mail.Take() {
				if m.To[0] == "customer@example.com" {
					text, html := parts(t, m)
					customer = append(customer, text+html+fmt.Sprint(m.Msg.Header))
					continue
				}
				public["email"] = append(public["email"], string(m.Data))
			}
			// The subscriber hears of the published incidents, in the
			// words the status page uses and nothing more.
			if len(customer) < 3 {
				t.Errorf("the subscriber got only %d messages: the sweep proves little", len(customer))
			}
			for _, body := range customer {
				for _, marker := range append(slices.Clone(w.markers), w.customerMarkers...) {
					if strings.Contains(body, marker) {
						t.Errorf("a status page subscriber got %s", marker)
					}
				}
			}
			for medium, msgs := range public {
				if len(msgs) < 4 {
					t.Errorf("public %s channel got only %d messages: the sweep proves little", medium, len(msgs))
				}
				for _, body := range msgs {
					for _, marker := range w.markers {
						if strings.Contains(body, marker) {
							t.Errorf("public %s channel got %s", medium, marker)
						}
					}
				}
			}
			var team strings.Builder
			for _, r := range teamSink.Take() {
				team.Write(r.Body)
			}
			for _, want := range []string{"internal-update", "confidential-note", "internal-checklist"} {
				if !strings.Contains(team.String(), want) {
					t.Errorf("the team channel did not get %s: the markers did not travel", want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Merged and cancelled incidents join the sweep: a public incident merged
// into a confidential one shows viewers "merged" and nothing of the
// target (number, title, reason); a confidential one cannot be merged
// into a public one; a cancelled one shows its public reason only.
func TestCanaryMergedAndCancelled(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		w := buildCanaryWorld(t, app)
		tok := w.team
		num := func(r *testenv.Response) int64 { return int64(r.JSON["number"].(float64)) }
		marker := func(what string) string {
			m := fmt.Sprintf("CANARY-%s-%d", what, len(w.markers))
			w.markers = append(w.markers, m)
			return m
		}
		dup := num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Queue backlog, again"}))
		app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/incidents/%d/updates", dup), tok, map[string]any{"body": "looking", "visibility": "public"})
		app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/incidents/%d/links", dup), tok, map[string]any{"url": "https://x.example/dup"})
		app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/merge", dup), tok, map[string]any{"into": w.secret, "reason": marker("merge-reason")})
		// Confidential into public: refused, nothing pulled into the
		// public story.
		r := app.Request(t, "POST", fmt.Sprintf("/api/v1/incidents/%d/merge", w.secret), tok, map[string]any{"into": w.plain, "reason": marker("refused-reason")})
		if r.Status != 422 || r.Code() != "confidential_into_public" {
			t.Errorf("confidential into public: %d %s", r.Status, r.Body)
		}
		cancelled := num(app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Queue alarm"}))
		app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/incidents/%d/links", cancelled), tok, map[string]any{"url": "https://x.example/alarm"})
		app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/cancel", cancelled), tok, map[string]any{"reason": "a load test"})
		w.ids["number"] = append(w.ids["number"], fmt.Sprint(dup), fmt.Sprint(cancelled))

		urls := append(w.urls(app.Handler.Patterns), "/api/v1/incidents?state=ended", "/api/v1/incidents?state=merged",
			"/incidents?state=ended", "/api/v1/log?format=md&state=ended", "/api/v1/log?format=json&state=merged", "/api/v1/log?format=csv")
		target := fmt.Sprintf("/incidents/%d", w.secret)
		for _, u := range urls {
			r := app.Request(t, "GET", u, "", nil)
			for _, m := range w.markers {
				if strings.Contains(string(r.Body), m) {
					t.Errorf("anonymous GET %s (%d) shows %s", u, r.Status, m)
				}
			}
			if strings.Contains(string(r.Body), target) || strings.Contains(string(r.Body), fmt.Sprintf(`"merged_into":%d`, w.secret)) {
				t.Errorf("anonymous GET %s names the confidential target #%d", u, w.secret)
			}
		}
		anon := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d", dup), "", nil)
		if anon.JSON["end_state"] != "merged" || anon.JSON["merged_into"] != nil {
			t.Errorf("a viewer's merged incident: %s", anon.Body)
		}
		page := string(app.Must(t, 200, "GET", fmt.Sprintf("/incidents/%d", dup), "", nil).Body)
		if !strings.Contains(page, "Merged into another incident.") {
			t.Errorf("a viewer's page of a merged incident does not say merged")
		}
		if r := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d", cancelled), "", nil); r.JSON["end_state"] != "cancelled" || r.JSON["end_reason"] != "a load test" {
			t.Errorf("a viewer's cancelled incident: %s", r.Body)
		}
		// The team reads the target and the reason.
		team := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d", dup), tok, nil)
		if team.JSON["merged_into"] != float64(w.secret) {
			t.Errorf("the team's merged incident: %s", team.Body)
		}
		if body := string(app.Must(t, 200, "GET", fmt.Sprintf("/incidents/%d", dup), tok, nil).Body); !strings.Contains(body, target) || !strings.Contains(body, "merge-reason") {
			t.Errorf("the team's page of the merged incident lacks the target or the reason")
		}
		t.Logf("swept %d URLs for %d markers", len(urls), len(w.markers))
	})
}
