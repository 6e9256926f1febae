package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestChecklistTemplates: admins define templates; new incidents get the
// items of every template matching their severity and services, of the
// one chosen by name, or none; bad templates change nothing.
func TestChecklistTemplates(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		ana := app.User(t, "ana", auth.RoleResponder)
		items := func(kv ...string) []map[string]string {
			var out []map[string]string
			for i := 0; i+1 < len(kv); i += 2 {
				out = append(out, map[string]string{"phase": kv[i], "text": kv[i+1]})
			}
			return out
		}
		all := app.Must(t, 201, "POST", "/api/v1/checklist-templates", admin, map[string]any{"name": "every incident",
			"items": items("resolved", "add to incident log", "resolved", "detection improvement exists")})
		if all.JSON["id"] == nil || len(all.JSON["items"].([]any)) != 2 {
			t.Fatalf("created: %s", all.Body)
		}
		app.Must(t, 201, "POST", "/api/v1/checklist-templates", admin, map[string]any{"name": "database", "service": "db",
			"items": items("mitigated", "check replication lag", "resolved", "document recovery procedure")})
		app.Must(t, 201, "POST", "/api/v1/checklist-templates", admin, map[string]any{"name": "critical", "severity": "critical",
			"items": items("active", "page the second responder")})

		// Refused, and nothing stored.
		for _, c := range []struct {
			who    string
			body   map[string]any
			status int
			code   string
		}{
			{ana, map[string]any{"name": "x", "items": items("active", "y")}, 403, ""},
			{admin, map[string]any{"name": "database", "items": items("active", "y")}, 409, "template_exists"},
			{admin, map[string]any{"name": "empty"}, 422, ""},
			{admin, map[string]any{"name": "", "items": items("active", "y")}, 422, ""},
			{admin, map[string]any{"name": "closed", "items": items("closed", "y")}, 422, ""},
			{admin, map[string]any{"name": "sev", "severity": "page", "items": items("active", "y")}, 422, ""},
			{admin, map[string]any{"name": "long", "items": items("active", strings.Repeat("x", incident.MaxItemBytes+1))}, 422, ""},
			{admin, map[string]any{"name": "none", "items": items("active", "y")}, 422, ""},
			{admin, map[string]any{"name": "x", "items": items("active", "y"), "extra": 1}, 400, ""},
		} {
			r := app.Request(t, "POST", "/api/v1/checklist-templates", c.who, c.body)
			if r.Status != c.status || (c.code != "" && r.Code() != c.code) {
				t.Errorf("%v: %d %s, want %d %s", c.body, r.Status, r.Body, c.status, c.code)
			}
		}
		list := app.Must(t, 200, "GET", "/api/v1/checklist-templates", ana, nil)
		if n := len(list.JSON["templates"].([]any)); n != 3 {
			t.Fatalf("%d templates listed, want 3: %s", n, list.Body)
		}

		texts := func(n int) []string {
			r := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d/checklist", n), ana, nil)
			var out []string
			for _, it := range r.JSON["checklist"].([]any) {
				m := it.(map[string]any)
				out = append(out, m["phase"].(string)+": "+m["text"].(string))
			}
			return out
		}
		same := func(got []string, want ...string) {
			t.Helper()
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("checklist %q, want %q", got, want)
			}
		}
		// Automatic: the templates matching severity and services, in
		// name order.
		app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "replica behind", "services": []string{"db", "api"}})
		same(texts(1), "mitigated: check replication lag", "resolved: document recovery procedure",
			"resolved: add to incident log", "resolved: detection improvement exists")
		app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "checkout down", "severity": "critical"})
		same(texts(2), "active: page the second responder", "resolved: add to incident log", "resolved: detection improvement exists")
		// Chosen by name, or none.
		app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "chosen", "checklist_template": "database"})
		same(texts(3), "mitigated: check replication lag", "resolved: document recovery procedure")
		app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "bare", "checklist_template": "none"})
		same(texts(4))
		// An unknown name opens nothing.
		if r := app.Request(t, "POST", "/api/v1/incidents", ana, map[string]any{"title": "typo", "checklist_template": "databse"}); r.Status != 422 || r.Code() != "unknown_template" {
			t.Fatalf("unknown template: %d %s", r.Status, r.Body)
		}
		if r := app.Must(t, 200, "GET", "/api/v1/incidents", ana, nil); r.JSON["total"] != 4.0 {
			t.Fatalf("a refused open stored an incident: %s", r.Body)
		}
		// The timeline says where the items came from.
		if tl := sentences(t, app, ana, 3); !strings.Contains(tl, `added 2 checklist items for mitigated and resolved from the template "database"`) {
			t.Errorf("timeline: %s", tl)
		}
		// Resolved items gate the close.
		for _, to := range []string{"mitigated", "resolved"} {
			app.Must(t, 200, "POST", "/api/v1/incidents/2/transitions", ana, map[string]any{"to": to, "note": "n", "override": true})
		}
		if r := app.Request(t, "POST", "/api/v1/incidents/2/transitions", ana, map[string]any{"to": "closed", "note": "n", "detection_improvement": "d"}); r.Status != 409 {
			t.Fatalf("close with open template items: %d %s", r.Status, r.Body)
		}

		// Removing: admins only; incidents keep their items.
		id := int64(all.JSON["id"].(float64))
		app.Must(t, 403, "DELETE", fmt.Sprintf("/api/v1/checklist-templates/%d", id), ana, nil)
		app.Must(t, 204, "DELETE", fmt.Sprintf("/api/v1/checklist-templates/%d", id), admin, nil)
		app.Must(t, 404, "DELETE", fmt.Sprintf("/api/v1/checklist-templates/%d", id), admin, nil)
		if len(texts(1)) != 4 {
			t.Fatal("removing a template removed incidents' items")
		}
		app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "after", "services": []string{"web"}})
		same(texts(5))
		app.Must(t, 401, "GET", "/api/v1/checklist-templates", "", nil)
	})
}

// TestOwnerByDefault: whoever opens an incident by hand owns its active
// phase, unless they name someone else or nobody; rules opening incidents
// from alerts name nobody.
func TestOwnerByDefault(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ana := app.User(t, "ana", auth.RoleResponder)
		app.User(t, "bo", auth.RoleResponder)
		owners := func(r *testenv.Response) map[string]any { return r.JSON["owners"].(map[string]any) }

		r := app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "mine"})
		if o := owners(r); o["active"] != "ana" || len(o) != 1 {
			t.Errorf("opened by ana: owners %v", o)
		}
		r = app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "bo's", "owners": map[string]string{"active": "bo", "resolved": "ana"}})
		if o := owners(r); o["active"] != "bo" || o["resolved"] != "ana" {
			t.Errorf("opened for bo: owners %v", o)
		}
		r = app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "nobody's", "owners": map[string]string{"active": ""}})
		if o := owners(r); len(o) != 0 {
			t.Errorf("opened for nobody: owners %v", o)
		}
		r = app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "later phases only", "owners": map[string]string{"mitigated": "bo"}})
		if o := owners(r); o["active"] != "ana" || o["mitigated"] != "bo" {
			t.Errorf("opened naming a later owner: owners %v", o)
		}
		// Kept after a reload, not just in the answer.
		if o := owners(app.Must(t, 200, "GET", "/api/v1/incidents/1", ana, nil)); o["active"] != "ana" {
			t.Errorf("stored owners %v", o)
		}

		// Declared from the inbox by hand: the declarer owns it.
		ctx := context.Background()
		tok, in, err := app.Svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "generic", Name: "cron"})
		if err != nil {
			t.Fatal(err)
		}
		app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.ID, tok, map[string]any{"title": "backup failed"})
		alerts := app.Must(t, 200, "GET", "/api/v1/alerts", ana, nil).JSON["alerts"].([]any)
		id := int64(alerts[0].(map[string]any)["id"].(float64))
		r = app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/alerts/%d/declare", id), ana, map[string]any{})
		if o := owners(r); o["active"] != "ana" {
			t.Errorf("declared by ana: owners %v", o)
		}
		// The timeline names owners when they change.
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", ana, map[string]any{"owners": map[string]string{"active": "bo", "mitigated": "ana"}})
		if tl := sentences(t, app, ana, 1); !strings.Contains(tl, "owners active: ana → bo, mitigated: nobody → ana") {
			t.Errorf("timeline: %s", tl)
		}
	})
}

// sentences is an incident's timeline as people read it, one per line.
func sentences(t *testing.T, app *testenv.App, token string, n int64) string {
	t.Helper()
	ctx := context.Background()
	p, err := app.Svc.AuthenticateToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := app.Svc.Timeline(ctx, p, n)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range tl {
		b.WriteString(e.Actor + " " + e.Sentence("") + "\n")
	}
	return b.String()
}

// TestSetupState: the first-run checklist is derived from what is stored,
// on both databases, and only the team may read it.
func TestSetupState(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		root := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		p, err := app.Svc.AuthenticateToken(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		state := func() service.Setup {
			t.Helper()
			s, err := app.Svc.SetupState(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := state(); s.Count() != 0 || s.Done() {
			t.Fatalf("fresh: %+v", s)
		}
		app.User(t, "ana", auth.RoleResponder)
		if s := state(); !s.People || s.Count() != 1 {
			t.Fatalf("after a second account: %+v", s)
		}
		tok, in, err := app.Svc.CreateIntegration(ctx, p, service.NewIntegration{Type: "generic", Name: "cron"})
		if err != nil {
			t.Fatal(err)
		}
		if s := state(); !s.Integration || s.Alert {
			t.Fatalf("after an integration: %+v", s)
		}
		app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.ID, tok, map[string]any{"title": "test alert"})
		app.Must(t, 201, "POST", "/api/v1/incidents", root, map[string]any{"title": "first"})
		if s := state(); !s.Done() {
			t.Fatalf("after an alert and an incident: %+v", s)
		}
		if _, err := app.Svc.SetupState(ctx, auth.Principal{}); err == nil {
			t.Fatal("an anonymous viewer read the setup")
		}
	})
}

// TestTemplatesOnIncidentsRulesOpen: an incident a rule opens from an
// alert gets the matching templates' items, and no owner: nobody opened
// it by hand.
func TestTemplatesOnIncidentsRulesOpen(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		app.Must(t, 201, "POST", "/api/v1/checklist-templates", admin, map[string]any{"name": "every incident",
			"items": []map[string]string{{"phase": "resolved", "text": "add to incident log"}}})
		app.Must(t, 201, "POST", "/api/v1/rules", admin, map[string]any{"action": "open", "position": 1})
		in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
		app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string),
			map[string]any{"title": "backup failed", "severity": "critical"})
		inc := app.Must(t, 200, "GET", "/api/v1/incidents/1", admin, nil)
		if o := inc.JSON["owners"].(map[string]any); len(o) != 0 {
			t.Errorf("a rule's incident is owned: %v", o)
		}
		items := app.Must(t, 200, "GET", "/api/v1/incidents/1/checklist", admin, nil).JSON["checklist"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["text"] != "add to incident log" || items[0].(map[string]any)["visibility"] != "internal" {
			t.Errorf("a rule's incident has checklist %v", items)
		}
	})
}

// TestEditChecklistTemplate: PATCH changes the fields it carries, items as
// a whole; new incidents get the edited items, old ones keep theirs; the
// edit is audited; every refused edit changes nothing.
func TestEditChecklistTemplate(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		ana := app.User(t, "ana", auth.RoleResponder)
		item := func(phase, text string) map[string]string { return map[string]string{"phase": phase, "text": text} }
		db := app.Must(t, 201, "POST", "/api/v1/checklist-templates", admin, map[string]any{"name": "database", "service": "db",
			"items": []any{item("mitigated", "check replication lag")}})
		app.Must(t, 201, "POST", "/api/v1/checklist-templates", admin, map[string]any{"name": "web", "items": []any{item("active", "y")}})
		path := fmt.Sprintf("/api/v1/checklist-templates/%d", int64(db.JSON["id"].(float64)))
		app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "before", "services": []string{"db"}})

		r := app.Must(t, 200, "PATCH", path, admin, map[string]any{"name": "replicas", "severity": "critical",
			"items": []any{item("mitigated", "check replication lag"), item("resolved", "document recovery procedure")}})
		if r.JSON["name"] != "replicas" || r.JSON["severity"] != "critical" || r.JSON["service"] != "db" || len(r.JSON["items"].([]any)) != 2 ||
			r.JSON["created_by"] != "root" {
			t.Fatalf("edited: %s", r.Body)
		}
		// Only the fields sent change: an empty service means any.
		r = app.Must(t, 200, "PATCH", path, admin, map[string]any{"service": ""})
		if r.JSON["name"] != "replicas" || r.JSON["service"] != "" || len(r.JSON["items"].([]any)) != 2 {
			t.Fatalf("service cleared: %s", r.Body)
		}

		before := app.Must(t, 200, "GET", "/api/v1/checklist-templates", ana, nil).Body
		for _, c := range []struct {
			who    string
			path   string
			body   any
			status int
			code   string
		}{
			{ana, path, map[string]any{"name": "x"}, 403, ""},
			{"", path, map[string]any{"name": "x"}, 401, ""},
			{admin, "/api/v1/checklist-templates/999", map[string]any{"name": "x"}, 404, ""},
			{admin, "/api/v1/checklist-templates/x", map[string]any{"name": "x"}, 404, ""},
			{admin, path, map[string]any{"name": "web"}, 409, "template_exists"},
			{admin, path, map[string]any{}, 422, ""},
			{admin, path, map[string]any{"name": ""}, 422, ""},
			{admin, path, map[string]any{"name": "none"}, 422, ""},
			{admin, path, map[string]any{"items": []any{}}, 422, ""},
			{admin, path, map[string]any{"items": []any{item("closed", "y")}}, 422, ""},
			{admin, path, map[string]any{"name": "ok", "items": []any{item("active", strings.Repeat("x", incident.MaxItemBytes+1))}}, 422, ""},
			{admin, path, map[string]any{"severity": "page"}, 422, ""},
			{admin, path, map[string]any{"name": "x", "colour": "red"}, 400, ""},
			{admin, path, "not an object", 400, ""},
		} {
			r := app.Request(t, "PATCH", c.path, c.who, c.body)
			if r.Status != c.status || (c.code != "" && r.Code() != c.code) {
				t.Errorf("PATCH %s %v: %d %s, want %d %s", c.path, c.body, r.Status, r.Body, c.status, c.code)
			}
		}
		if after := app.Must(t, 200, "GET", "/api/v1/checklist-templates", ana, nil).Body; string(after) != string(before) {
			t.Fatalf("a refused edit changed the templates:\n%s\n%s", before, after)
		}

		// New incidents get the edited items; the one opened before keeps its own.
		app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "after", "severity": "critical", "checklist_template": "replicas"})
		for n, want := range map[int]bool{1: false, 2: true} {
			r := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d/checklist", n), ana, nil)
			if got := strings.Contains(string(r.Body), "document recovery procedure"); got != want {
				t.Errorf("incident %d has the edited item: %v, want %v: %s", n, got, want, r.Body)
			}
		}

		// Audited, once per edit that happened.
		log, err := app.Svc.Audit(context.Background(), service.System, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		edits := 0
		for _, e := range log {
			if e.Action == "checklist_template_updated" {
				edits++
				if e.Actor != "root" || e.Target != "replicas" {
					t.Errorf("audit entry %+v", e)
				}
			}
		}
		if edits != 2 {
			t.Errorf("%d audited edits, want 2", edits)
		}
	})
}
