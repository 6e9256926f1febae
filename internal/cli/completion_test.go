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

// TestCompleteActionableIncidents: a command that cannot act on a closed,
// merged or cancelled incident does not offer it. advance and merge offer
// active, mitigated and resolved incidents; cancel active and mitigated
// ones; reopen what it can reopen (mitigated, resolved, closed and
// cancelled ones); show still offers every live incident, closed included.
func TestCompleteActionableIncidents(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	ana := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": ana}}
	for _, title := range []string{"Active one", "Closed one", "Cancelled one", "Resolved one", "Merged one"} {
		r.ok("incident", "open", "--title", title, "--source", "alert")
	}
	for _, note := range []string{"mitigated", "fixed", "improved"} {
		r.ok("incident", "advance", "2", "--note", note)
	}
	r.ok("incident", "cancel", "3", "--reason", "a load test")
	r.ok("incident", "advance", "4", "--note", "mitigated")
	r.ok("incident", "advance", "4", "--note", "fixed")
	r.ok("incident", "merge", "5", "--into", "1", "--reason", "the same outage")

	for cmd, want := range map[string]string{
		"advance": "4\tresolved: Resolved one\n1\tactive: Active one\n:4\n",
		"merge":   "4\tresolved: Resolved one\n1\tactive: Active one\n:4\n",
		"cancel":  "1\tactive: Active one\n:4\n",
		"reopen":  "4\tresolved: Resolved one\n3\tcancelled: Cancelled one\n2\tclosed: Closed one\n:4\n",
		"show":    "4\tresolved: Resolved one\n2\tclosed: Closed one\n1\tactive: Active one\n:4\n",
	} {
		out := r.ok("__complete", "incident", cmd, "")
		if got, _, _ := strings.Cut(out, "Completion ended"); got != want {
			t.Errorf("__complete incident %s '':\n%s\nwant:\n%s", cmd, got, want)
		}
	}
}
