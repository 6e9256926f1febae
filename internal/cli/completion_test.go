package cli_test

import (
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestCompleteIncidentNumbers: completing an incident command's number
// offers the live incidents the token may read, with their phase and
// title; nothing (and no file names) without a server; upload's FILE
// completes file names.
func TestCompleteIncidentNumbers(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	ana := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": ana}}
	r.ok("incident", "open", "--title", "Replica lagging")
	r.ok("incident", "open", "--title", "Payroll export", "--confidential")
	r.ok("incident", "open", "--title", "Latency spike")
	r.ok("incident", "cancel", "3", "--reason", "a load test")

	out := r.ok("__complete", "incident", "advance", "")
	if !strings.Contains(out, "1\tactive: Replica lagging\n") || !strings.Contains(out, "2\tactive: Payroll export\n") || strings.Contains(out, "Latency") ||
		!strings.HasSuffix(out, ":4\n") {
		t.Errorf("__complete incident advance '':\n%s", out)
	}
	if out := r.ok("__complete", "incident", "show", "#1"); !strings.Contains(out, "1\tactive: Replica lagging") || strings.Contains(out, "2\t") {
		t.Errorf("__complete incident show '#1':\n%s", out)
	}
	if out := r.ok("__complete", "incident", "upload", "1", ""); !strings.HasSuffix(out, ":0\n") {
		t.Errorf("upload N completes file names: %q", out)
	}
	none := run{t: t, env: map[string]string{"QUENCH_URL": "http://127.0.0.1:1"}}
	if out := none.ok("__complete", "incident", "show", ""); out != ":4\n" {
		t.Errorf("without a server: %q", out)
	}
}
