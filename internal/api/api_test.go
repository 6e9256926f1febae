package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func open(t *testing.T, app *testenv.App, tok string, body map[string]any) int64 {
	t.Helper()
	r := app.Must(t, http.StatusCreated, "POST", "/api/v1/incidents", tok, body)
	if r.JSON["phase"] != "active" {
		t.Fatalf("new incident phase %v", r.JSON["phase"])
	}
	return int64(r.JSON["number"].(float64))
}

func path(n int64, rest string) string { return fmt.Sprintf("/api/v1/incidents/%d%s", n, rest) }

// moveTo advances incident n from active to phase via every phase between.
func moveTo(t *testing.T, app *testenv.App, tok string, n int64, target incident.Phase) {
	t.Helper()
	for _, p := range incident.Phases[1:] {
		body := map[string]any{"to": p, "note": "did " + string(p), "detection_improvement": "probe"}
		app.Must(t, http.StatusOK, "POST", path(n, "/transitions"), tok, body)
		if p == target {
			return
		}
	}
}

func TestPhaseMachineOverHTTP(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		for _, from := range incident.Phases {
			for _, to := range incident.Phases {
				n := open(t, app, tok, map[string]any{"title": fmt.Sprintf("%s to %s", from, to), "detection_source": "alert"})
				if from != incident.Active {
					moveTo(t, app, tok, n, from)
				}
				before := app.Must(t, 200, "GET", path(n, ""), tok, nil)
				events := len(app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any))
				r := app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": to, "note": "n", "reason": "regressed"})
				next, _ := from.Next()
				allowed := to == next || (to == incident.Active && from != incident.Active)
				after := app.Must(t, 200, "GET", path(n, ""), tok, nil)
				eventsAfter := len(app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any))
				if allowed {
					if r.Status != 200 || after.JSON["phase"] != string(to) || eventsAfter != events+1 {
						t.Fatalf("%s→%s: status %d phase %v events %d→%d", from, to, r.Status, after.JSON["phase"], events, eventsAfter)
					}
					continue
				}
				if r.Status != http.StatusConflict || r.Code() != "phase_skip" {
					t.Fatalf("%s→%s: got %d %s", from, to, r.Status, r.Body)
				}
				if string(before.Body) != string(after.Body) || eventsAfter != events {
					t.Fatalf("%s→%s: refused skip changed the incident", from, to)
				}
			}
		}
	})
}

func TestTransitionRules(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		n := open(t, app, tok, map[string]any{"title": "umb messages missing", "detection_source": "customer"})

		r := app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": "mitigated", "note": "   "})
		if r.Status != 422 || r.Code() != "note_required" {
			t.Fatalf("empty note: %d %s", r.Status, r.Body)
		}
		r = app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": "sideways", "note": "x"})
		if r.Status != 400 || r.Code() != "invalid_phase" {
			t.Fatalf("unknown phase: %d %s", r.Status, r.Body)
		}

		// An open item of the phase being left blocks, unless overridden.
		item := app.Must(t, 201, "POST", path(n, "/checklist"), tok, map[string]any{"text": "send missing messages", "phase": "active"})
		r = app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": "mitigated", "note": "fixed config"})
		if r.Status != 409 || r.Code() != "checklist_open" || !strings.Contains(string(r.Body), "send missing messages") {
			t.Fatalf("open item: %d %s", r.Status, r.Body)
		}
		app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": "mitigated", "note": "fixed config", "override": true})
		tl := app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any)
		last := tl[len(tl)-1].(map[string]any)["data"].(map[string]any)
		if last["override"] != true || fmt.Sprint(last["open_items"]) != "[send missing messages]" {
			t.Fatalf("override not recorded: %v", last)
		}
		_ = item
		app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": "resolved", "note": "documented recovery"})

		// Rule 5: a customer-detected incident needs a detection improvement.
		r = app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": "closed", "note": "gating moved"})
		if r.Status != 422 || r.Code() != "detection_improvement_required" || !strings.Contains(r.JSON["error"].(map[string]any)["message"].(string), "monitoring") {
			t.Fatalf("close without improvement: %d %s", r.Status, r.Body)
		}
		r = app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": "closed", "note": "gating moved", "detection_improvement": "alert when osci_finished messages stop"})
		if r.JSON["detection_improvement"] != "alert when osci_finished messages stop" {
			t.Fatalf("improvement not stored: %s", r.Body)
		}
		notes := r.JSON["phase_notes"].(map[string]any)
		entered := r.JSON["phase_entered_at"].(map[string]any)
		if notes["mitigated"] != "fixed config" || notes["resolved"] != "documented recovery" || len(entered) != 4 {
			t.Fatalf("notes %v entered %v", notes, entered)
		}

		// Reopen needs a reason.
		r = app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": "active"})
		if r.Status != 422 || r.Code() != "reason_required" {
			t.Fatalf("reopen without reason: %d %s", r.Status, r.Body)
		}
		r = app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": "active", "reason": "messages missing again"})
		if r.JSON["phase"] != "active" {
			t.Fatal("not reopened")
		}
	})
}

// Rule 5 cannot be bypassed with PATCH: neither by closing with another
// source and setting it back, nor by clearing the improvement after the
// close. A refused patch changes nothing and records nothing.
func TestPatchKeepsDetectionImprovement(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		refused := func(n int64, body map[string]any) {
			t.Helper()
			before := app.Must(t, 200, "GET", path(n, ""), tok, nil)
			events := len(app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any))
			r := app.Request(t, "PATCH", path(n, ""), tok, body)
			if r.Status != 422 || r.Code() != "detection_improvement_required" {
				t.Fatalf("PATCH %v: %d %s, want 422 detection_improvement_required", body, r.Status, r.Body)
			}
			after := app.Must(t, 200, "GET", path(n, ""), tok, nil)
			if string(after.Body) != string(before.Body) || len(app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any)) != events {
				t.Fatalf("refused PATCH %v changed the incident: %s", body, after.Body)
			}
		}

		// Closed as found by an alert, then set back to customer.
		n := open(t, app, tok, map[string]any{"title": "umb messages missing", "detection_source": "customer"})
		app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": "mitigated", "note": "fixed config"})
		app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": "resolved", "note": "documented recovery"})
		app.Must(t, 200, "PATCH", path(n, ""), tok, map[string]any{"detection_source": "alert"})
		app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": "closed", "note": "rca"})
		refused(n, map[string]any{"detection_source": "customer"})
		refused(n, map[string]any{"detection_source": "team", "detection_improvement": " "})
		r := app.Must(t, 200, "PATCH", path(n, ""), tok, map[string]any{"detection_source": "customer", "detection_improvement": "alert when messages stop"})
		if r.JSON["detection_source"] != "customer" || r.JSON["detection_improvement"] != "alert when messages stop" {
			t.Fatalf("source and improvement together: %s", r.Body)
		}

		// Closed with an improvement, then cleared.
		m := open(t, app, tok, map[string]any{"title": "certs broken", "detection_source": "team"})
		moveTo(t, app, tok, m, incident.Closed)
		refused(m, map[string]any{"detection_improvement": ""})
		r = app.Must(t, 200, "PATCH", path(m, ""), tok, map[string]any{"detection_improvement": "alert on certificate expiry"})
		if r.JSON["detection_improvement"] != "alert on certificate expiry" {
			t.Fatalf("improvement rewritten: %s", r.Body)
		}
	})
}

func TestConcurrentTransitionsOneWins(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		for round := 0; round < 5; round++ {
			n := open(t, app, tok, map[string]any{"title": "race"})
			var wg sync.WaitGroup
			statuses := make([]int, 6)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": "mitigated", "note": fmt.Sprint("writer ", i)}).Status
				}()
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				switch s {
				case 200:
					won++
				case 409:
				default:
					t.Fatalf("status %d", s)
				}
			}
			tl := app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any)
			if won != 1 || len(tl) != 2 {
				t.Fatalf("round %d: %d winners, %d events (%v)", round, won, len(tl), statuses)
			}
		}
	})
}

// Every mutation appends exactly one event; nothing else does.
func TestTimelineOneEventPerMutation(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		app.User(t, "bo", auth.RoleResponder)
		n := open(t, app, tok, map[string]any{"title": "spot instances", "services": []string{"runners"}})
		count := func() int { return len(app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any)) }
		steps := []struct {
			method, path string
			body         any
			status       int
		}{
			{"PATCH", "", map[string]any{"title": "Spot instances fail", "severity": "critical", "owners": map[string]string{"active": "bo"}}, 200},
			{"POST", "/updates", map[string]any{"body": "raised price limit on runner VMs"}, 201},
			{"PATCH", "/updates/1", map[string]any{"visibility": "public"}, 200},
			{"POST", "/checklist", map[string]any{"text": "set limit in GitOps", "phase": "mitigated", "owner": "bo"}, 201},
			{"PATCH", "/checklist/1", map[string]any{"done": true}, 200},
			{"POST", "/links", map[string]any{"kind": "merge_request", "url": "https://gitlab.example.com/mr/1", "title": "MR"}, 201},
			{"DELETE", "/links/1", nil, 204},
			{"DELETE", "/checklist/1", nil, 204},
			{"POST", "/transitions", map[string]any{"to": "mitigated", "note": "raised limit"}, 200},
		}
		want := count()
		if want != 1 {
			t.Fatalf("new incident has %d events", want)
		}
		for _, s := range steps {
			app.Must(t, s.status, s.method, path(n, s.path), tok, s.body)
			want++
			if got := count(); got != want {
				t.Fatalf("%s %s: %d events, want %d", s.method, s.path, got, want)
			}
		}
		// A patch that changes nothing, reads and refused requests add nothing.
		app.Must(t, 200, "PATCH", path(n, ""), tok, map[string]any{"title": "Spot instances fail"})
		app.Request(t, "POST", path(n, "/transitions"), tok, map[string]any{"to": "closed", "note": "x"})
		app.Request(t, "PATCH", path(n, "/updates/1"), tok, map[string]any{"visibility": "public"})
		if got := count(); got != want {
			t.Fatalf("no-op requests added events: %d, want %d", got, want)
		}
		ev := app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any)
		changed := ev[1].(map[string]any)
		if changed["kind"] != "changed" || changed["actor"] != "ana" {
			t.Fatalf("changed event %v", changed)
		}
		if _, ok := changed["data"].(map[string]any)["owner_active"]; !ok {
			t.Fatalf("owner change not recorded: %v", changed)
		}
	})
}

func TestStatusCodes(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		readOnly := app.Token(t, "ana", auth.ScopeRead)
		ingest := app.Token(t, "ana", auth.ScopeIngest)
		n := open(t, app, tok, map[string]any{"title": "certs broken", "severity": "major", "services": []string{"somesite"}})
		big := `{"title":"` + strings.Repeat("x", 300<<10) + `"}`
		deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
		tests := []struct {
			name          string
			method, path  string
			token         string
			body          any
			headers       []string
			status        int
			code          string
			mustNotCreate bool
		}{
			{"get", "GET", path(n, ""), tok, nil, nil, 200, "", false},
			{"missing incident", "GET", "/api/v1/incidents/999", tok, nil, nil, 404, "not_found", false},
			{"not a number", "GET", "/api/v1/incidents/abc", tok, nil, nil, 404, "not_found", false},
			{"malformed JSON", "POST", "/api/v1/incidents", tok, `{"title": "x",`, nil, 400, "invalid_json", true},
			{"trailing garbage", "POST", "/api/v1/incidents", tok, `{"title": "x"} {"title": "y"}`, nil, 400, "invalid_json", true},
			{"wrong type", "POST", "/api/v1/incidents", tok, `{"title": 5}`, nil, 400, "invalid_json", true},
			{"unknown field", "POST", "/api/v1/incidents", tok, `{"title": "x", "phase": "closed"}`, nil, 400, "unknown_field", true},
			{"too deep", "POST", "/api/v1/incidents", tok, deep, nil, 400, "invalid_json", true},
			{"too large", "POST", "/api/v1/incidents", tok, big, nil, 413, "too_large", true},
			{"text/plain", "POST", "/api/v1/incidents", tok, `{"title":"x"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", true},
			{"form", "POST", "/api/v1/incidents", tok, `title=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", true},
			{"no content type", "POST", "/api/v1/incidents", tok, `{"title":"x"}`, []string{"Content-Type", ""}, 415, "unsupported_media_type", true},
			{"missing title", "POST", "/api/v1/incidents", tok, map[string]any{"title": " "}, nil, 422, "validation_failed", true},
			{"bad severity", "POST", "/api/v1/incidents", tok, map[string]any{"title": "x", "severity": "sev1"}, nil, 422, "validation_failed", true},
			{"owner of closed", "POST", "/api/v1/incidents", tok, map[string]any{"title": "x", "owners": map[string]string{"closed": "ana"}}, nil, 422, "validation_failed", true},
			{"unknown owner", "POST", "/api/v1/incidents", tok, map[string]any{"title": "x", "owners": map[string]string{"active": "ghost"}}, nil, 422, "unknown_user", true},
			{"bad token", "GET", "/api/v1/incidents", "qnch_notatoken", nil, nil, 401, "invalid_token", false},
			{"basic auth", "GET", "/api/v1/incidents", "", nil, []string{"Authorization", "Basic YTpi"}, 401, "invalid_token", false},
			{"anonymous write", "POST", "/api/v1/incidents", "", map[string]any{"title": "x"}, nil, 401, "unauthenticated", true},
			{"read token write", "POST", "/api/v1/incidents", readOnly, map[string]any{"title": "x"}, nil, 403, "forbidden", true},
			{"ingest token read", "GET", "/api/v1/incidents", ingest, nil, nil, 403, "forbidden", false},
			{"responder lists users", "GET", "/api/v1/users", tok, nil, nil, 403, "forbidden", false},
			{"unknown sort", "GET", "/api/v1/incidents?sort=title", tok, nil, nil, 400, "invalid_request", false},
			{"sql in sort", "GET", "/api/v1/incidents?sort=number;DROP%20TABLE%20incidents", tok, nil, nil, 400, "invalid_request", false},
			{"unknown parameter", "GET", "/api/v1/incidents?colour=red", tok, nil, nil, 400, "invalid_request", false},
			{"bad limit", "GET", "/api/v1/incidents?limit=0", tok, nil, nil, 400, "invalid_request", false},
			{"javascript link", "POST", path(n, "/links"), tok, map[string]any{"url": "javascript:alert(1)"}, nil, 422, "validation_failed", false},
			{"bad link kind", "POST", path(n, "/links"), tok, map[string]any{"kind": "pager", "url": "https://x.example"}, nil, 422, "validation_failed", false},
			{"empty update", "POST", path(n, "/updates"), tok, map[string]any{"body": ""}, nil, 422, "validation_failed", false},
			{"update visibility", "POST", path(n, "/updates"), tok, map[string]any{"body": "x", "visibility": "secret"}, nil, 422, "validation_failed", false},
			{"checklist on closed phase", "POST", path(n, "/checklist"), tok, map[string]any{"text": "x", "phase": "closed"}, nil, 422, "validation_failed", false},
			{"missing update", "PATCH", path(n, "/updates/77"), tok, map[string]any{"visibility": "public"}, nil, 404, "not_found", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := app.Must(t, 200, "GET", "/api/v1/incidents", tok, nil).JSON["total"]
				r := app.Request(t, tt.method, tt.path, tt.token, tt.body, tt.headers...)
				if r.Status != tt.status || r.Code() != tt.code {
					t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tt.status, tt.code)
				}
				if e, _ := r.JSON["error"].(map[string]any); tt.status >= 400 && (e == nil || e["message"] == "") {
					t.Fatal("error without message")
				}
				if tt.status == 401 && strings.Contains(string(r.Body), "qnch_notatoken") {
					t.Fatal("token echoed")
				}
				if after := app.Must(t, 200, "GET", "/api/v1/incidents", tok, nil).JSON["total"]; tt.mustNotCreate && after != before {
					t.Fatalf("refused request created an incident: %v → %v", before, after)
				}
			})
		}
		r := app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "x\x00y \xff"})
		if r.JSON["title"] != "x\uFFFDy \uFFFD" {
			t.Fatalf("NUL/invalid UTF-8 stored as %q", r.JSON["title"])
		}
		if loc := r.Header.Get("Location"); loc == "" {
			t.Fatal("no Location on 201")
		}
	})
}

// Anonymous viewers see public incidents and public updates only, in every
// response: get, list, search, timeline, updates, counts.
func TestAnonymousNeverSeesInternal(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		const canary = "CANARY-7f3c9a"
		pub := open(t, app, tok, map[string]any{"title": "Public outage"})
		plain := open(t, app, tok, map[string]any{"title": "Public outage without internal notes"})
		secret := open(t, app, tok, map[string]any{"title": "Confidential " + canary, "visibility": "confidential", "summary": canary})
		app.Must(t, 201, "POST", path(pub, "/updates"), tok, map[string]any{"body": "internal " + canary})
		app.Must(t, 201, "POST", path(pub, "/updates"), tok, map[string]any{"body": "we are on it", "visibility": "public"})
		app.Must(t, 201, "POST", path(plain, "/updates"), tok, map[string]any{"body": "we are on it", "visibility": "public"})
		app.Must(t, 201, "POST", path(secret, "/updates"), tok, map[string]any{"body": "public update on a confidential incident " + canary, "visibility": "public"})
		// An update made public, then internal again, must vanish too.
		app.Must(t, 201, "POST", path(pub, "/updates"), tok, map[string]any{"body": "oops " + canary, "visibility": "public"})
		app.Must(t, 200, "PATCH", path(pub, "/updates/5"), tok, map[string]any{"visibility": "internal"})

		get := func(p string) *testenv.Response { return app.Request(t, "GET", p, "", nil) }
		for _, p := range []string{
			path(pub, ""), path(pub, "/timeline"), path(pub, "/updates"), path(pub, "/checklist"), path(pub, "/links"),
			path(secret, ""), path(secret, "/timeline"), path(secret, "/updates"), path(secret, "/links"),
			"/api/v1/incidents", "/api/v1/incidents?q=" + canary, "/api/v1/incidents?q=internal", "/api/v1/incidents?q=oops",
			"/api/v1/incidents?visibility=confidential", "/api/v1/me", "/api/v1/users", "/api/v1/tokens", "/metrics", "/nonexistent",
		} {
			r := get(p)
			if strings.Contains(string(r.Body), canary) || strings.Contains(string(r.Body), "Confidential") {
				t.Errorf("anonymous GET %s leaks: %s", p, r.Body)
			}
		}
		for _, p := range []string{path(secret, ""), path(secret, "/timeline"), path(secret, "/updates")} {
			if r := get(p); r.Status != 404 {
				t.Errorf("anonymous GET %s: %d, want 404", p, r.Status)
			}
		}
		if r := get("/api/v1/incidents?q=" + canary); r.JSON["total"] != 0.0 {
			t.Errorf("search count leaks: %v", r.JSON["total"])
		}
		if r := get("/api/v1/incidents"); r.JSON["total"] != 2.0 {
			t.Errorf("anonymous total %v, want 2", r.JSON["total"])
		}
		// The incident with internal updates looks exactly like one without.
		a, b := get(path(pub, "/updates")), get(path(plain, "/updates"))
		if len(a.JSON["updates"].([]any)) != len(b.JSON["updates"].([]any)) {
			t.Errorf("update counts differ: %s vs %s", a.Body, b.Body)
		}
		ta, tb := get(path(pub, "/timeline")), get(path(plain, "/timeline"))
		if len(ta.JSON["events"].([]any)) != len(tb.JSON["events"].([]any)) {
			t.Errorf("timeline lengths differ:\n%s\n%s", ta.Body, tb.Body)
		}
		// The team sees everything.
		if r := app.Must(t, 200, "GET", "/api/v1/incidents?q="+canary, tok, nil); r.JSON["total"] != 2.0 {
			t.Errorf("team search total %v", r.JSON["total"])
		}
	})
}

// Viewers' updated_at is the time of the last change they may see: an
// internal update, link or checklist item neither moves it nor brings the
// incident up a list sorted by it (the board, the log export), so viewers
// do not learn when the team works behind a public incident. The team
// keeps the time of any change.
func TestViewersUpdatedAtIgnoresInternalChanges(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		tok := app.User(t, "ana", auth.RoleResponder)
		a := open(t, app, tok, map[string]any{"title": "Public outage"})
		b := open(t, app, tok, map[string]any{"title": "Another public outage"})
		at := func() string { return app.Clock.Now().UTC().Format(time.RFC3339Nano) }

		app.Clock.Advance(time.Minute)
		t1 := at()
		app.Must(t, 201, "POST", path(a, "/updates"), tok, map[string]any{"body": "we are on it", "visibility": "public"})
		app.Clock.Advance(time.Minute)
		app.Must(t, 201, "POST", path(b, "/updates"), tok, map[string]any{"body": "looking", "visibility": "public"})
		app.Clock.Advance(time.Minute)
		t2 := at()
		app.Must(t, 201, "POST", path(a, "/updates"), tok, map[string]any{"body": "the primary is down"})
		app.Must(t, 201, "POST", path(a, "/links"), tok, map[string]any{"kind": "dashboard", "url": "https://grafana.example/d/1"})
		app.Must(t, 201, "POST", path(a, "/checklist"), tok, map[string]any{"text": "fail over"})

		// first is the first incident of a list, and a's updated_at in it.
		first := func(r *testenv.Response, key string) (int64, string) {
			t.Helper()
			list, _ := r.JSON[key].([]any)
			if len(list) != 2 {
				t.Fatalf("list of %d incidents, want 2: %s", len(list), r.Body)
			}
			var updated string
			for _, v := range list {
				if inc := v.(map[string]any); int64(inc["number"].(float64)) == a {
					updated, _ = inc["updated_at"].(string)
				}
			}
			return int64(list[0].(map[string]any)["number"].(float64)), updated
		}
		// check says what a viewer (token "") and the team see of a.
		check := func(when, token string, wantUpdated string, wantFirst int64) {
			t.Helper()
			who := "anonymous"
			if token != "" {
				who = "responder"
			}
			if r := app.Must(t, 200, "GET", path(a, ""), token, nil); r.JSON["updated_at"] != wantUpdated {
				t.Errorf("%s, %s: updated_at %v, want %s", when, who, r.JSON["updated_at"], wantUpdated)
			}
			for _, q := range []string{"/api/v1/incidents?sort=-updated", "/api/v1/log?format=json&sort=-updated"} {
				n, updated := first(app.Must(t, 200, "GET", q, token, nil), "incidents")
				if n != wantFirst || updated != wantUpdated {
					t.Errorf("%s, %s: %s starts with #%d, a's updated_at %s; want #%d, %s", when, who, q, n, updated, wantFirst, wantUpdated)
				}
			}
			if n, _ := first(app.Must(t, 200, "GET", "/api/v1/incidents?sort=updated", token, nil), "incidents"); n == wantFirst {
				t.Errorf("%s, %s: sort=updated starts with #%d too", when, who, n)
			}
			p := auth.Anonymous
			if token != "" {
				p = auth.Principal{User: &auth.User{Username: "ana", Role: auth.RoleResponder}}
			}
			board, err := app.Svc.Board(ctx, p, service.IncidentQuery{})
			if err != nil {
				t.Fatal(err)
			}
			cards := board.Columns[incident.Active]
			if len(cards) != 2 {
				t.Fatalf("%s, %s: %d cards on the board, want 2", when, who, len(cards))
			}
			if cards[0].Number != wantFirst {
				t.Errorf("%s, %s: board starts with #%d, want #%d", when, who, cards[0].Number, wantFirst)
			}
			for _, c := range cards {
				if got := c.UpdatedAt.UTC().Format(time.RFC3339Nano); c.Number == a && got != wantUpdated {
					t.Errorf("%s, %s: board updated_at %s, want %s", when, who, got, wantUpdated)
				}
			}
		}
		check("after internal changes", "", t1, b)
		check("after internal changes", tok, t2, a)

		app.Clock.Advance(time.Minute)
		t3 := at()
		app.Must(t, 201, "POST", path(a, "/updates"), tok, map[string]any{"body": "failed over", "visibility": "public"})
		check("after a public update", "", t3, a)
		check("after a public update", tok, t3, a)
	})
}

func TestPrivateInstance(t *testing.T) {
	app := testenv.StartApp(t, "sqlite", func(o *service.Options) { o.PrivateInstance = true })
	tok := app.User(t, "ana", auth.RoleResponder)
	open(t, app, tok, map[string]any{"title": "public but the instance is private"})
	for _, p := range []string{"/api/v1/incidents", "/api/v1/incidents/1", "/api/v1/incidents/1/timeline", "/api/v1/incidents/1/updates"} {
		if r := app.Request(t, "GET", p, "", nil); r.Status != 401 || strings.Contains(string(r.Body), "private") {
			t.Errorf("anonymous %s on a private instance: %d %s", p, r.Status, r.Body)
		}
	}
	app.Must(t, 200, "GET", "/api/v1/incidents/1", tok, nil)
}

// Viewers are anonymous visitors: no account is created with, or given,
// role viewer, and the refusal says why.
func TestViewerIsNoAccountRole(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	app.User(t, "ana", auth.RoleResponder)
	for _, c := range []struct {
		method, path string
		body         map[string]any
	}{
		{"POST", "/api/v1/users", map[string]any{"username": "bo", "role": "viewer", "password": "password-bo-long"}},
		{"PATCH", "/api/v1/users/ana", map[string]any{"role": "viewer"}},
	} {
		r := app.Request(t, c.method, c.path, admin, c.body)
		if r.Status != 422 || r.Code() != "validation_failed" || !strings.Contains(string(r.Body), "need no account") {
			t.Errorf("%s %s with role viewer: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	users := app.Must(t, 200, "GET", "/api/v1/users", admin, nil)
	if b := string(users.Body); strings.Contains(b, `"bo"`) || strings.Contains(b, "viewer") {
		t.Fatalf("users after the refusals: %s", b)
	}
}

func TestTokenSelfService(t *testing.T) {
	app := testenv.StartApp(t, "sqlite")
	rw := app.User(t, "ana", auth.RoleResponder, auth.ScopeRead, auth.ScopeWrite)
	app.User(t, "bo", auth.RoleResponder)
	cookie, sess, err := app.Svc.Login(context.Background(), "ana", "password-ana", service.Client{})
	if err != nil {
		t.Fatal(err)
	}
	asAna := func(method, path string, body any) *testenv.Response {
		return app.Request(t, method, path, "", body, "Cookie", "quench_session="+cookie, "X-CSRF-Token", sess.CSRF)
	}
	r := asAna("POST", "/api/v1/tokens", map[string]any{"name": "dashboards", "scopes": []string{"read"}, "expires_in": "720h"})
	if r.Status != 201 || r.JSON["expires_at"] == nil || fmt.Sprint(r.JSON["scopes"]) != "[read]" {
		t.Fatalf("created: %d %s", r.Status, r.Body)
	}
	narrow := r.JSON["token"].(string)
	for _, bad := range []struct {
		tok  string
		body map[string]any
		code string
	}{
		{narrow, map[string]any{"scopes": []string{"read"}}, "token_cannot_mint"},
		{rw, map[string]any{"scopes": []string{"read"}}, "token_cannot_mint"},
		{"", map[string]any{"scopes": []string{"admin"}}, "scope_not_allowed"},
		{"", map[string]any{"user": "bo", "scopes": []string{"read"}}, "forbidden"},
		{"", map[string]any{"scopes": []string{"root"}}, "validation_failed"},
	} {
		var r *testenv.Response
		if bad.tok != "" {
			r = app.Request(t, "POST", "/api/v1/tokens", bad.tok, bad.body)
		} else {
			r = asAna("POST", "/api/v1/tokens", bad.body)
		}
		if r.Code() != bad.code {
			t.Errorf("%v: %d %s", bad.body, r.Status, r.Body)
		}
	}
	list := app.Must(t, 200, "GET", "/api/v1/tokens", rw, nil).JSON["tokens"].([]any)
	if len(list) != 2 {
		t.Fatalf("ana sees %d tokens, want her 2", len(list))
	}
	// Revoked: the next request fails.
	id := int64(r.JSON["id"].(float64))
	app.Must(t, 204, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", id), rw, nil)
	if r := app.Request(t, "GET", "/api/v1/incidents", narrow, nil); r.Status != 401 {
		t.Fatalf("revoked token: %d", r.Status)
	}
	// Expired tokens stop working when the clock passes their expiry.
	short := asAna("POST", "/api/v1/tokens", map[string]any{"scopes": []string{"read"}, "expires_in": "1h"}).JSON["token"].(string)
	app.Must(t, 200, "GET", "/api/v1/incidents", short, nil)
	app.Clock.Advance(61 * time.Minute)
	if r := app.Request(t, "GET", "/api/v1/incidents", short, nil); r.Status != 401 {
		t.Fatalf("expired token: %d", r.Status)
	}
}

// A token minted by a token never outlives it: the probe's read-only
// token with a 1 h expiry could make a token that never expired.
func TestTokenMadeByTokenNeverOutlivesIt(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "root", auth.RoleAdmin)
		app.User(t, "ana", auth.RoleResponder)
		mint := func(ttl time.Duration, scopes ...auth.Scope) (string, time.Time) {
			secret, tk, err := app.Svc.CreateToken(ctx, service.System, service.NewToken{Username: "root", Name: "maker", Scopes: scopes, TTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			return secret, tk.ExpiresAt
		}
		readHour, _ := mint(time.Hour, auth.ScopeRead)
		if r := app.Request(t, "POST", "/api/v1/tokens", readHour, map[string]any{"scopes": []string{"read"}}); r.Status != 403 || r.Code() != "token_cannot_mint" {
			t.Fatalf("read token minted: %d %s", r.Status, r.Body)
		}
		adminHour, hourEnd := mint(time.Hour, auth.ScopeRead, auth.ScopeAdmin)
		var children []string
		expiry := func(r *testenv.Response) string {
			if r.Status != 201 {
				t.Fatalf("mint: %d %s", r.Status, r.Body)
			}
			children = append(children, r.JSON["token"].(string))
			s, _ := r.JSON["expires_at"].(string)
			return s
		}
		hour := hourEnd.UTC().Format(time.RFC3339)
		for _, tt := range []struct {
			body map[string]any
			want string
		}{
			{map[string]any{"scopes": []string{"read"}}, hour},                       // none asked: the maker's
			{map[string]any{"scopes": []string{"read"}, "expires_in": "720h"}, hour}, // longer: capped
			{map[string]any{"user": "ana", "scopes": []string{"read"}}, hour},        // for someone else too
			{map[string]any{"scopes": []string{"read"}, "expires_in": "10m"}, app.Clock.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)},
		} {
			if got := expiry(app.Request(t, "POST", "/api/v1/tokens", adminHour, tt.body)); got != tt.want {
				t.Errorf("%v: expires %q, want %q", tt.body, got, tt.want)
			}
		}
		// Past the maker's hour, everything it made has ended with it.
		app.Clock.Advance(time.Hour)
		for _, tok := range append(children, adminHour) {
			if r := app.Request(t, "GET", "/api/v1/incidents", tok, nil); r.Status != 401 {
				t.Fatalf("token after its maker's hour: %d", r.Status)
			}
		}
		// A lasting admin token mints lasting tokens.
		adminLasting, _ := mint(0, auth.ScopeRead, auth.ScopeAdmin)
		if got := expiry(app.Request(t, "POST", "/api/v1/tokens", adminLasting, map[string]any{"scopes": []string{"read"}})); got != "" {
			t.Errorf("lasting maker: expires %q", got)
		}
	})
}

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
