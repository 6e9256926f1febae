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

// quench heartbeat add prints the ping URL once; a bare GET of it pings;
// list shows the heartbeat; remove stops the URL. quench integration test
// sends a test alert through the rules and says where it went.
func TestHeartbeatAndTestAlertCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{
		"QUENCH_DATA_DIR": filepath.Dir(app.Store.Path()), "QUENCH_BASE_URL": app.URL, "QUENCH_LOG_LEVEL": "error",
		"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok,
	}}
	out := r.ok("heartbeat", "add", "nightly-backup", "--period", "1d", "--grace", "1h", "--label", "service=backup", "--label", "severity=critical")
	m := regexp.MustCompile(`ping URL: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "a ping every 1d, 1h of grace") || !strings.Contains(out, "/fail") {
		t.Fatalf("heartbeat add: %q", out)
	}
	// The crontab snippet pastes as printed: crontab has no line
	// continuation, so each entry is one line (and % would end it).
	var entries []string
	for _, line := range strings.Split(out[strings.Index(out, "# crontab"):], "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			entries = append(entries, line)
		}
	}
	cron := regexp.MustCompile(`^(\S+ ){5}\S`)
	for _, e := range entries {
		if !cron.MatchString(e) || strings.HasSuffix(e, "\\") || strings.Contains(e, "%") {
			t.Errorf("not a crontab entry: %q", e)
		}
	}
	if len(entries) != 2 || !strings.Contains(entries[1], m[1]+"/start;") || !strings.Contains(entries[1], m[1]+"/fail") {
		t.Errorf("crontab snippet: %q", entries)
	}
	path := strings.TrimPrefix(m[1], app.URL)
	if resp := app.Request(t, "GET", path, "", nil); resp.Status != 200 || resp.JSON["state"] != "up" {
		t.Fatalf("ping: %d %s", resp.Status, resp.Body)
	}
	list := r.ok("heartbeat", "list")
	if !strings.Contains(list, "nightly-backup") || !strings.Contains(list, "up") || !strings.Contains(list, "service=backup") ||
		strings.Contains(list, strings.TrimPrefix(path, "/api/v1/ping/")) {
		t.Fatalf("heartbeat list: %q", list)
	}
	if _, errs, code := r.do("", "heartbeat", "add", "too-often", "--period", "30s"); code != 1 || !strings.Contains(errs, "at least 1m") {
		t.Fatalf("period of 30s: %d %q", code, errs)
	}
	if _, errs, code := r.do("", "heartbeat", "add", "x"); code != 2 || !strings.Contains(errs, "--period") {
		t.Fatalf("no period: %d %q", code, errs)
	}
	r.ok("heartbeat", "remove", "nightly-backup")
	if resp := app.Request(t, "GET", path, "", nil); resp.Status != 404 {
		t.Fatalf("ping after remove: %d", resp.Status)
	}

	out = r.ok("integration", "add", "--type", "alertmanager", "--name", "prod")
	id := regexp.MustCompile(`/api/v1/intake/alertmanager/(\S+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("integration add: %q", out)
	}
	if out := r.ok("integration", "test", id[1]); !strings.Contains(out, "opened incident #1 (titled [test])") {
		t.Fatalf("integration test: %q", out)
	}
	if out := r.ok("integration", "test", id[1], "--severity", "warning"); !strings.Contains(out, "inbox") {
		t.Fatalf("integration test warning: %q", out)
	}
	if list := r.ok("alert", "list"); strings.Count(list, "Test alert from Quench") != 2 {
		t.Fatalf("alert list: %q", list)
	}
	if _, errs, code := r.do("", "integration", "test", "nosuch"); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("unknown integration: %d %q", code, errs)
	}
}
