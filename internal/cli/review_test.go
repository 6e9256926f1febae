package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// quench review prints the agenda as Markdown; quench log streams the
// incident log in any export format.
func TestReviewAndLogCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok}}
	r.ok("incident", "open", "--title", "Certificates broken", "--source", "customer", "--service", "somesite")
	r.ok("incident", "advance", "1", "--note", "restored the previous certificate")
	app.Clock.Advance(time.Minute)

	md := r.ok("review")
	for _, want := range []string{"# Weekly review", "## Opened (1)", "Certificates broken", "active → mitigated by ana: restored the previous certificate",
		"**no detection improvement yet**"} {
		if !strings.Contains(md, want) {
			t.Errorf("quench review lacks %q:\n%s", want, md)
		}
	}
	var agenda map[string]any
	if err := json.Unmarshal([]byte(r.ok("review", "--json", "--since", "2026-11-01")), &agenda); err != nil || agenda["since"] != "2026-11-01T00:00:00Z" {
		t.Errorf("review --json: %v %v", err, agenda["since"])
	}
	if _, errs, code := r.do("", "review", "--since", "last week"); code != 1 || !strings.Contains(errs, "not a date") {
		t.Errorf("bad --since: %d %q", code, errs)
	}
	if _, errs, code := (run{t: t, env: map[string]string{"QUENCH_URL": app.URL}}).do("", "review"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("review without a token: %d %q", code, errs)
	}

	log := r.ok("log")
	for _, want := range []string{"# Incident log", "Certificates broken", "### Mitigated", "> restored the previous certificate", "> not yet"} {
		if !strings.Contains(log, want) {
			t.Errorf("quench log lacks %q:\n%s", want, log)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(r.ok("log", "--format", "csv", "--service", "somesite", "--from", "2026-11-01"))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][1] != "Certificates broken" {
		t.Errorf("log --format csv: %v %q", err, rows)
	}
	if _, errs, code := r.do("", "log", "--format", "pdf"); code != 1 || !strings.Contains(errs, "unknown format") {
		t.Errorf("bad format: %d %q", code, errs)
	}
}
