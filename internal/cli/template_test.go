package cli_test

import (
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestTemplateEdit: template edit changes only what its flags give, --item
// replaces the items, and a refused edit (a usage mistake, a bad value, a
// responder's token) changes nothing.
func TestTemplateEdit(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	ana := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": admin}}
	r.ok("template", "add", "database", "--service", "db", "--item", "mitigated: check replication lag")
	r.ok("template", "add", "web", "--item", "resolved: add to incident log")

	out := r.ok("template", "edit", "1", "--name", "replicas", "--severity", "critical",
		"--item", "mitigated: check replication lag", "--item", "resolved: document recovery procedure")
	if out != "template 1 \"replicas\" saved: 2 items for new incidents of critical, service db\n" {
		t.Fatalf("edit: %q", out)
	}
	// --service '' makes it apply to any service; the rest stays.
	if out := r.ok("template", "edit", "1", "--service="); !strings.Contains(out, "2 items for new incidents of critical, any service") {
		t.Fatalf("edit --service='': %q", out)
	}
	before := r.ok("template", "list", "--json")
	for _, c := range []struct {
		who   run
		args  []string
		code  int
		error string
	}{
		{r, []string{"template", "edit", "1"}, 2, "--name, --item, --severity or --service"},
		{r, []string{"template", "edit", "x", "--name", "y"}, 2, "not a template ID"},
		{r, []string{"template", "edit", "1", "2", "--name", "y"}, 2, "template edit ID"},
		{r, []string{"template", "edit", "1", "--colour", "red"}, 2, "--colour"},
		{r, []string{"template", "edit", "1", "--name", "web"}, 1, "exists"},
		{r, []string{"template", "edit", "1", "--severity", "page"}, 1, "severity"},
		{r, []string{"template", "edit", "1", "--item", "resolved: " + strings.Repeat("x", 2000)}, 1, "longer than"},
		{r, []string{"template", "edit", "9", "--name", "y"}, 1, "not found"},
		{run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": ana}}, []string{"template", "edit", "1", "--name", "y"}, 1, "may not"},
	} {
		_, errs, code := c.who.do("", c.args...)
		if code != c.code || !strings.Contains(errs, c.error) || !strings.HasPrefix(errs, "quench: ") {
			t.Errorf("quench %s: exit %d %q, want %d and %q", strings.Join(c.args, " "), code, errs, c.code, c.error)
		}
	}
	if after := r.ok("template", "list", "--json"); after != before {
		t.Fatalf("a refused edit changed the templates:\n%s\n%s", before, after)
	}
}
