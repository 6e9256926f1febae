package cli_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// quench alert unack|restore take triage back; one that is not
// acknowledged (dismissed) fails and changes nothing.
func TestAlertUndoCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok, "QUENCH_LOG_LEVEL": "error"}}
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string), map[string]any{"alerts": []map[string]any{
		{"title": "backup slow", "severity": "warning"}, {"title": "disk noisy", "severity": "warning"}}})
	r.ok("alert", "ack", "1", "2")
	r.ok("alert", "dismiss", "2", "--reason", "noise")
	if _, errs, code := r.do("", "alert", "restore", "1", "2"); code != 1 || !strings.Contains(errs, "alert 1 is not dismissed") {
		t.Fatalf("restore of an alert not dismissed: %d %q", code, errs)
	}
	if _, errs, code := r.do("", "alert", "unack"); code != 2 || !strings.Contains(errs, "alert unack ID") {
		t.Fatalf("unack without IDs: %d %q", code, errs)
	}
	if out := r.ok("alert", "unack", "1", "2"); !strings.Contains(out, "alert 1 no longer acknowledged") || !strings.Contains(out, "alert 2 no longer acknowledged") {
		t.Fatalf("unack: %q", out)
	}
	if out := r.ok("alert", "restore", "2"); !strings.Contains(out, "alert 2 restored to the inbox") {
		t.Fatalf("restore: %q", out)
	}
	if list := r.ok("alert", "list"); strings.Contains(list, "acked by") || strings.Contains(list, "dismissed by") || !strings.Contains(list, "2 firing alert(s) wait") {
		t.Fatalf("alert list after undoing: %q", list)
	}
	if _, errs, code := r.do("", "alert", "unack", "1"); code != 1 || !strings.Contains(errs, "not acknowledged") {
		t.Fatalf("unack twice: %d %q", code, errs)
	}
}

// quench heartbeat edit changes the schedule (the deadline follows the
// last ping) and rotate prints a new ping URL once; the old one stops.
func TestHeartbeatEditCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	r := run{t: t, env: map[string]string{
		"QUENCH_DATA_DIR": filepath.Dir(app.Store.Path()), "QUENCH_BASE_URL": app.URL, "QUENCH_LOG_LEVEL": "error",
	}}
	out := r.ok("heartbeat", "add", "nightly-backup", "--period", "1d", "--grace", "1h")
	old := strings.TrimPrefix(regexp.MustCompile(`ping URL: (\S+)`).FindStringSubmatch(out)[1], app.URL)
	out = r.ok("heartbeat", "edit", "nightly-backup", "--period", "2h", "--label", "service=backup", "--name", "backup")
	// The command runs on the real clock: the deadline itself is tested
	// with the fake one in package api.
	if !strings.Contains(out, "heartbeat backup: a ping every 2h, 1h of grace, due by ") {
		t.Fatalf("heartbeat edit: %q", out)
	}
	if _, errs, code := r.do("", "heartbeat", "edit", "backup", "--period", "30s"); code != 1 || !strings.Contains(errs, "at least 1m") {
		t.Fatalf("edit to 30s: %d %q", code, errs)
	}
	if _, errs, code := r.do("", "heartbeat", "edit", "backup"); code != 1 || !strings.Contains(errs, "change at least one") {
		t.Fatalf("edit without changes: %d %q", code, errs)
	}
	if list := r.ok("heartbeat", "list"); !strings.Contains(list, "backup") || !strings.Contains(list, "2h") || !strings.Contains(list, "service=backup") {
		t.Fatalf("heartbeat list: %q", list)
	}
	out = r.ok("heartbeat", "rotate", "backup")
	m := regexp.MustCompile(`ping URL: (\S+)`).FindStringSubmatch(out)
	if m == nil || strings.TrimPrefix(m[1], app.URL) == old {
		t.Fatalf("heartbeat rotate: %q", out)
	}
	if resp := app.Request(t, "GET", old, "", nil); resp.Status != 404 {
		t.Fatalf("old URL after rotate: %d", resp.Status)
	}
	if resp := app.Request(t, "GET", strings.TrimPrefix(m[1], app.URL), "", nil); resp.Status != 200 {
		t.Fatalf("new URL: %d %s", resp.Status, resp.Body)
	}
}
