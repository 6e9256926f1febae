package web_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestOwnersAndTemplatesThroughForms: the new-incident form's owner and
// template, the side panel's owner forms, and the admin template page,
// without JavaScript, on both databases.
func TestOwnersAndTemplatesThroughForms(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "ana", auth.RoleResponder)
		app.User(t, "bo", auth.RoleResponder)
		app.User(t, "root", auth.RoleAdmin)
		admin := signIn(t, app, "root")
		resp, body := admin.post("/admin/templates", url.Values{"name": {"database"}, "service": {"db"},
			"phase_1": {"resolved"}, "text_1": {"document recovery procedure"}, "phase_2": {"mitigated"}, "text_2": {""}})
		if resp.StatusCode != 303 {
			t.Fatalf("add template: %d %.300s", resp.StatusCode, body)
		}
		if resp, body := admin.post("/admin/templates", url.Values{"name": {"empty"}}); resp.StatusCode != 422 || !strings.Contains(body, "at least one item") {
			t.Fatalf("template without items: %d", resp.StatusCode)
		}
		if _, page := admin.get("/admin/templates"); !strings.Contains(page, "document recovery procedure") || strings.Contains(page, ">empty<") {
			t.Fatal("admin page does not list the template as stored")
		}

		s := signIn(t, app, "ana")
		_, form := s.get("/incidents/new")
		for _, want := range []string{`<option value="ana" selected>`, `<option value="database"`, `name="template"`} {
			if !strings.Contains(form, want) {
				t.Errorf("new-incident form lacks %s", want)
			}
		}
		resp, body = s.post("/incidents", url.Values{"title": {"replica lag"}, "owner": {"ana"}, "template": {"database"}})
		if resp.StatusCode != 303 {
			t.Fatalf("open: %d %.300s", resp.StatusCode, body)
		}
		if resp, body := s.post("/incidents", url.Values{"title": {"typo"}, "template": {"databse"}}); resp.StatusCode != 422 || !strings.Contains(body, "no checklist template") || !strings.Contains(body, `value="typo"`) {
			t.Fatalf("unknown template: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/incidents", url.Values{"title": {"for bo"}, "owner": {"bo"}, "template": {"none"}}); resp.StatusCode != 303 {
			t.Fatalf("open for bo: %d", resp.StatusCode)
		}
		ctx := context.Background()
		p, err := app.Svc.AuthenticateToken(ctx, app.Token(t, "ana"))
		if err != nil {
			t.Fatal(err)
		}
		inc := func(n int64) *incident.Incident {
			i, err := app.Svc.Incident(ctx, p, n)
			if err != nil {
				t.Fatal(err)
			}
			return i
		}
		if o := inc(1).Owners; o[incident.Active] != "ana" {
			t.Errorf("#1 owners %v", o)
		}
		if o := inc(2).Owners; o[incident.Active] != "bo" {
			t.Errorf("#2 owners %v", o)
		}
		items, _ := app.Svc.Checklist(ctx, p, 1)
		if len(items) != 1 || items[0].Text != "document recovery procedure" || items[0].Phase != incident.Resolved {
			t.Errorf("#1 checklist %v", items)
		}

		// The side panel: take a phase, hand one over, refuse a bad one.
		if resp, _ := s.post("/incidents/1/owners", url.Values{"phase": {"mitigated"}, "take": {"1"}}); resp.StatusCode != 303 {
			t.Fatalf("take: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/incidents/1/owners", url.Values{"phase": {"resolved"}, "owner": {"bo"}}); resp.StatusCode != 303 {
			t.Fatalf("hand over: %d", resp.StatusCode)
		}
		if resp, body := s.post("/incidents/1/owners", url.Values{"phase": {"closed"}, "owner": {"bo"}}); resp.StatusCode != 422 || !strings.Contains(body, "has no owner") {
			t.Fatalf("owner of closed: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/incidents/1/owners", url.Values{"phase": {"active"}, "owner": {"nobody-here"}}); resp.StatusCode != 422 {
			t.Fatalf("unknown user: %d", resp.StatusCode)
		}
		if o := inc(1).Owners; o[incident.Active] != "ana" || o[incident.Mitigated] != "ana" || o[incident.Resolved] != "bo" {
			t.Errorf("#1 owners after the side panel %v", o)
		}
		_, page := s.get("/incidents/1")
		for _, want := range []string{"owners mitigated: nobody → ana", "owners resolved: nobody → bo", `id="owner-resolved"`, "data-rel", "just now</time>"} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		// Removing a template keeps what incidents got.
		ts, _ := app.Svc.Templates(ctx, p)
		if resp, _ := admin.post("/admin/templates/"+strconv.FormatInt(ts[0].ID, 10)+"/remove", url.Values{}); resp.StatusCode != 303 {
			t.Fatalf("remove template: %d", resp.StatusCode)
		}
		if items, _ := app.Svc.Checklist(ctx, p, 1); len(items) != 1 {
			t.Error("removing the template removed an incident's item")
		}
	})
}
