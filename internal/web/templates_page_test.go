package web_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestEditTemplateThroughForm: an admin edits a checklist template on
// /admin/templates/{id} without JavaScript: the form shows what is stored,
// saving replaces name, severity, service and items (an emptied row drops
// its item), a refused save shows what was sent and changes nothing, a
// save without the CSRF token is refused, and responders get no form.
func TestEditTemplateThroughForm(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "root", auth.RoleAdmin)
		app.User(t, "ana", auth.RoleResponder)
		tpl, err := app.Svc.CreateTemplate(ctx, service.System, incident.Template{Name: "database", Service: "db", Items: []incident.TemplateItem{
			{Phase: incident.Mitigated, Text: "check replication lag"}, {Phase: incident.Resolved, Text: "document recovery procedure"}}})
		if err != nil {
			t.Fatal(err)
		}
		path := "/admin/templates/" + strconv.FormatInt(tpl.ID, 10)
		admin := signIn(t, app, "root")
		if _, list := admin.get("/admin/templates"); !strings.Contains(list, `href="`+path+`"`) {
			t.Fatal("the templates page has no edit link")
		}
		_, form := admin.get(path)
		for _, want := range []string{`action="` + path + `"`, `name="name" required maxlength="100" value="database"`, `name="service" maxlength="100" value="db"`,
			`value="check replication lag"`, `<option value="mitigated" selected>`, `value="document recovery procedure"`, `name="csrf"`} {
			if !strings.Contains(form, want) {
				t.Errorf("edit form lacks %s", want)
			}
		}

		stored := func() *incident.Template {
			list, err := app.Svc.Templates(ctx, service.System)
			if err != nil || len(list) != 1 {
				t.Fatalf("templates: %v %v", list, err)
			}
			return list[0]
		}
		// Refused: no items left. The page shows the error and what was sent.
		resp, body := admin.post(path, url.Values{"name": {"replicas"}, "severity": {"critical"}, "service": {""}, "text_1": {""}, "text_2": {""}})
		if resp.StatusCode != 422 || !strings.Contains(body, "at least one item") || !strings.Contains(body, `value="replicas"`) {
			t.Fatalf("save without items: %d %.300s", resp.StatusCode, body)
		}
		if resp, _ := admin.post(path, url.Values{"csrf": {""}, "name": {"replicas"}, "phase_1": {"active"}, "text_1": {"x"}}); resp.StatusCode != 403 {
			t.Errorf("save without CSRF token: %d", resp.StatusCode)
		}
		s := signIn(t, app, "ana")
		if resp, _ := s.get(path); resp.StatusCode != 403 {
			t.Errorf("responder opens the edit form: %d", resp.StatusCode)
		}
		if resp, _ := s.post(path, url.Values{"name": {"replicas"}, "phase_1": {"active"}, "text_1": {"x"}}); resp.StatusCode != 403 {
			t.Errorf("responder saves: %d", resp.StatusCode)
		}
		if got := stored(); got.Name != "database" || len(got.Items) != 2 {
			t.Fatalf("a refused save changed the template: %+v", got)
		}

		// Saved: item 1 emptied (dropped), item 2 kept, a new row added.
		resp, _ = admin.post(path, url.Values{"name": {"replicas"}, "severity": {"critical"}, "service": {""},
			"phase_1": {"mitigated"}, "text_1": {""}, "phase_2": {"resolved"}, "text_2": {"document recovery procedure"},
			"phase_5": {"active"}, "text_5": {"page the database owner"}})
		if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/templates?notice=") {
			t.Fatalf("save: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		got := stored()
		if got.Name != "replicas" || got.Severity != "critical" || got.Service != "" || len(got.Items) != 2 ||
			got.Items[0] != (incident.TemplateItem{Phase: incident.Resolved, Text: "document recovery procedure"}) ||
			got.Items[1] != (incident.TemplateItem{Phase: incident.Active, Text: "page the database owner"}) {
			t.Fatalf("saved: %+v", got)
		}
		if resp, _ := admin.get("/admin/templates/999"); resp.StatusCode != 404 {
			t.Errorf("unknown template: %d", resp.StatusCode)
		}
	})
}
