package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/cli"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

type run struct {
	t   *testing.T
	env map[string]string
}

func (r run) do(stdin string, args ...string) (string, string, int) {
	r.t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return r.env[k] },
	})
	return out.String(), errb.String(), code
}

func (r run) ok(args ...string) string {
	r.t.Helper()
	out, errs, code := r.do("", args...)
	if code != 0 {
		r.t.Fatalf("quench %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// The operator commands work on the database directly.
func TestUserAndTokenCommands(t *testing.T) {
	r := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": t.TempDir(), "QUENCH_LOG_LEVEL": "error"}}
	r.ok("migrate")
	out := r.ok("user", "add", "--admin", "ana")
	if !strings.Contains(out, "created admin ana") || !strings.Contains(out, "password: ") {
		t.Fatalf("user add: %q", out)
	}
	if out, _, code := r.do("a-long-enough-password\n", "user", "add", "--password-stdin", "bo"); code != 0 || strings.Contains(out, "password:") {
		t.Fatalf("user add --password-stdin: %d %q", code, out)
	}
	if _, errs, code := r.do("", "user", "add", "bo"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("duplicate user: %d %q", code, errs)
	}
	tok := strings.TrimSpace(r.ok("token", "create", "--user", "bo", "--scopes", "read,write", "--name", "laptop"))
	if !strings.HasPrefix(tok, auth.TokenPrefix) || strings.Contains(tok, "\n") {
		t.Fatalf("token create printed %q", tok)
	}
	if _, errs, code := r.do("", "token", "create", "--user", "bo", "--scopes", "admin"); code != 1 || !strings.Contains(errs, "cannot hold") {
		t.Fatalf("responder admin token: %d %q", code, errs)
	}
	if _, _, code := r.do("", "token", "create", "--scopes", "read"); code != 2 {
		t.Fatalf("missing --user: exit %d", code)
	}
	list := r.ok("token", "list")
	if !strings.Contains(list, "laptop") || !strings.Contains(list, "read,write") || strings.Contains(list, tok) {
		t.Fatalf("token list: %q", list)
	}
	r.ok("token", "revoke", "1")
	if !strings.Contains(r.ok("token", "list"), "revoked") {
		t.Fatal("revoked token not shown as revoked")
	}
	if _, errs, code := r.do("", "user", "disable", "ana"); code != 1 || !strings.Contains(errs, "last admin") {
		t.Fatalf("disable last admin: %d %q", code, errs)
	}
	if out := r.ok("user", "list"); !strings.Contains(out, "ana") || !strings.Contains(out, "bo") {
		t.Fatalf("user list: %q", out)
	}
	if _, _, code := r.do("", "frobnicate"); code != 2 {
		t.Fatal("unknown command accepted")
	}
}

// user add --role and user role take the same roles, and say the same
// about viewers: they are anonymous visitors and have no account, so
// neither command offers or accepts viewer.
func TestUserRoles(t *testing.T) {
	r := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": t.TempDir(), "QUENCH_LOG_LEVEL": "error"}}
	r.ok("migrate")
	if out := r.ok("user", "add", "--role", "admin", "ana"); !strings.Contains(out, "created admin ana") {
		t.Fatalf("user add --role admin: %q", out)
	}
	if out := r.ok("user", "add", "--role", "responder", "bo"); !strings.Contains(out, "created responder bo") {
		t.Fatalf("user add --role responder: %q", out)
	}
	if out := r.ok("user", "role", "bo", "admin"); !strings.Contains(out, "bo is now admin") {
		t.Fatalf("user role bo admin: %q", out)
	}
	for _, args := range [][]string{{"user", "add", "--role", "viewer", "cy"}, {"user", "role", "bo", "viewer"}} {
		_, errs, code := r.do("", args...)
		if code != 1 || !strings.Contains(errs, "viewers are anonymous visitors and need no account") || !strings.Contains(errs, "want responder or admin") {
			t.Errorf("quench %s: exit %d %q", strings.Join(args, " "), code, errs)
		}
	}
	for _, args := range [][]string{{"user", "add", "--role", "owner", "cy"}, {"user", "role", "bo", "owner"}} {
		if _, errs, code := r.do("", args...); code != 1 || !strings.Contains(errs, `unknown role "owner": want responder or admin`) {
			t.Errorf("quench %s: exit %d %q", strings.Join(args, " "), code, errs)
		}
	}
	if out := r.ok("user", "list"); strings.Contains(out, "cy") || !strings.Contains(out, "admin") {
		t.Fatalf("user list after refusals: %q", out)
	}
	for _, args := range [][]string{{"user", "--help"}, {"user", "role", "--help"}, {"user", "add", "--help"}} {
		if out := r.ok(args...); strings.Contains(out, "viewer") {
			t.Errorf("quench %s offers a viewer role:\n%s", strings.Join(args, " "), out)
		}
	}
}

// The client commands drive a real server through the API.
func TestIncidentCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok}}

	out := r.ok("incident", "open", "--title", "Certificates broken", "--severity", "critical", "--service", "somesite,api", "--source", "customer")
	if !strings.Contains(out, "opened #1") {
		t.Fatalf("open: %q", out)
	}
	r.ok("incident", "check", "1", "--text", "restore previous certificate")
	r.ok("incident", "update", "1", "--body", "customers report TLS errors", "--public")
	if out, _, code := r.do("details from the CA ticket\n", "incident", "update", "1", "--body", "-"); code != 0 || !strings.Contains(out, "internal update") {
		t.Fatalf("update from stdin: %d %q", code, out)
	}
	_, errs, code := r.do("", "incident", "advance", "1", "--note", "restored")
	if code != 1 || !strings.Contains(errs, "open checklist item") {
		t.Fatalf("advance with open item: %d %q", code, errs)
	}
	r.ok("incident", "check", "1", "--done", "1")
	r.ok("incident", "advance", "1", "--note", "restored previous certificate")
	if _, errs, code := r.do("", "incident", "advance", "1", "--to", "closed", "--note", "x"); code != 1 || !strings.Contains(errs, "phase_skip") {
		t.Fatalf("skip: %d %q", code, errs)
	}
	r.ok("incident", "advance", "#1", "--note", "re-requested from public CA")
	if _, errs, code := r.do("", "incident", "advance", "1", "--note", "automated renewal"); code != 1 || !strings.Contains(errs, "detection_improvement") {
		t.Fatalf("close without improvement: %d %q", code, errs)
	}
	r.ok("incident", "advance", "1", "--note", "automated renewal", "--detection-improvement", "monitor the CA of served certificates")
	r.ok("incident", "link", "1", "--url", "https://gitlab.example.com/mr/7", "--kind", "merge_request")
	r.ok("incident", "reopen", "1", "--reason", "old CA came back")

	show := r.ok("incident", "show", "1")
	for _, want := range []string{"#1 Certificates broken", "active", "customer", "[x] 1 (active) restore previous certificate", "merge_request"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	list := r.ok("incident", "list", "--phase", "active")
	if !strings.Contains(list, "Certificates broken") {
		t.Fatalf("list: %q", list)
	}
	var page map[string]any
	if err := json.Unmarshal([]byte(r.ok("incident", "list", "--json")), &page); err != nil || page["total"] != 1.0 {
		t.Fatalf("list --json: %v %v", page, err)
	}
	tl := r.ok("incident", "timeline", "1")
	for _, want := range []string{"opened \"Certificates broken\"", "active → mitigated: restored previous certificate", "reopened from closed: old CA came back", "public update: customers report TLS errors"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	noToken := run{t: t, env: map[string]string{"QUENCH_URL": app.URL}}
	if _, errs, code := noToken.do("", "incident", "open", "--title", "x"); code != 1 || !strings.Contains(errs, "QUENCH_TOKEN") {
		t.Fatalf("without token: %d %q", code, errs)
	}
	if _, _, code := r.do("", "incident", "show", "abc"); code != 2 {
		t.Fatal("bad number accepted")
	}
}

func TestIntakeCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{
		"QUENCH_DATA_DIR": filepath.Dir(app.Store.Path()), "QUENCH_BASE_URL": app.URL, "QUENCH_LOG_LEVEL": "error",
		"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok,
	}}
	out := r.ok("integration", "add", "--type", "generic", "--name", "cron jobs")
	m := regexp.MustCompile(`URL:\s+(\S+)\ntoken: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "curl -X POST") {
		t.Fatalf("integration add: %q", out)
	}
	// Sentry shows its client secret once it knows Quench's URL: the
	// integration comes first, its secret later, from a file.
	out = r.ok("integration", "add", "--type", "sentry", "--name", "s")
	sm := regexp.MustCompile(`quench integration update (\S+) --secret-file FILE`).FindStringSubmatch(out)
	if sm == nil || strings.Contains(out, "token:") {
		t.Fatalf("sentry without secret: %q", out)
	}
	secretFile := filepath.Join(t.TempDir(), "sentry-secret")
	if err := os.WriteFile(secretFile, []byte("  sentry-client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := r.ok("integration", "update", sm[1], "--secret-file", secretFile); !strings.Contains(got, "signing secret set") || strings.Contains(got, "sentry-client-secret") {
		t.Fatalf("integration update: %q", got)
	}
	if _, errs, code := r.do("", "integration", "update", sm[1]); code != 2 || !strings.Contains(errs, "--secret-file") {
		t.Fatalf("update without a file: %d %q", code, errs)
	}
	if list := r.ok("integration", "list"); !strings.Contains(list, "cron jobs") || strings.Contains(list, m[2]) {
		t.Fatalf("integration list: %q", list)
	}
	path := strings.TrimPrefix(m[1], app.URL)
	app.Must(t, 200, "POST", path, m[2], `{"title": "nightly backup failed", "severity": "warning", "service": "backup"}`)

	list := r.ok("alert", "list", "--unattached")
	if !strings.Contains(list, "nightly backup failed") || !strings.Contains(list, "inbox") {
		t.Fatalf("alert list: %q", list)
	}
	out = r.ok("alert", "declare", "1", "--severity", "major")
	if !strings.Contains(out, "declared #1: nightly backup failed") {
		t.Fatalf("declare: %q", out)
	}
	if list := r.ok("alert", "list"); !strings.Contains(list, "#1") {
		t.Fatalf("declared alert not attached: %q", list)
	}

	out = r.ok("rule", "add", "--action", "open", "--match", `service="backup"`, "--position", "5", "--name", "backups page")
	if !strings.Contains(out, "position 5") {
		t.Fatalf("rule add: %q", out)
	}
	rules := r.ok("rule", "list")
	if !strings.Contains(rules, `service="backup"`) || !strings.Contains(rules, "(every alert)") {
		t.Fatalf("rule list: %q", rules)
	}
	if _, errs, code := r.do("", "rule", "add", "--action", "explode"); code != 1 || !strings.Contains(errs, "action") {
		t.Fatalf("bad action: %d %q", code, errs)
	}
	r.ok("integration", "remove", strings.TrimPrefix(path, "/api/v1/intake/generic/"))
	if resp := app.Request(t, "POST", path, m[2], `{"title": "x"}`); resp.Status != 404 {
		t.Fatalf("removed integration accepts alerts: %d", resp.Status)
	}
}

// quench user passwd revokes the user's tokens unless told to keep them.
func TestPasswordResetCommandRevokesTokens(t *testing.T) {
	r := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": t.TempDir(), "QUENCH_LOG_LEVEL": "error"}}
	r.ok("migrate")
	r.ok("user", "add", "--admin", "ana")
	r.ok("token", "create", "--user", "ana", "--scopes", "read", "--name", "first")
	status := func(name string) string {
		for _, line := range strings.Split(r.ok("token", "list"), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[2] == name {
				return f[len(f)-1]
			}
		}
		t.Fatalf("token %s not listed", name)
		return ""
	}
	if out := r.ok("user", "passwd", "ana"); !strings.Contains(out, "API tokens revoked") || status("first") != "revoked" {
		t.Fatalf("passwd: %q, token %s", out, status("first"))
	}
	r.ok("token", "create", "--user", "ana", "--scopes", "read", "--name", "second")
	if out := r.ok("user", "passwd", "--keep-tokens", "ana"); strings.Contains(out, "revoked") || status("second") != "active" {
		t.Fatalf("passwd --keep-tokens: %q, token %s", out, status("second"))
	}
}

// Only serve and migrate change the schema. Every other command that opens
// the database refuses a schema that is not exactly this binary's, in one
// line, and leaves it as it was: a newer quench run for a chore must not
// upgrade the schema under a running older server.
func TestMaintenanceCommandsDoNotMigrate(t *testing.T) {
	dir := t.TempDir()
	r := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": dir, "QUENCH_LOG_LEVEL": "error", "QUENCH_ADDR": "127.0.0.1:0"}}
	commands := [][]string{
		{"user", "add", "--admin", "ana"}, {"user", "list"}, {"token", "list"}, {"session", "list"}, {"audit"},
		{"integration", "list"}, {"rule", "list"},
	}
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "quench.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	version := func() int {
		t.Helper()
		var v int
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
			return 0 // no schema at all
		}
		return v
	}
	refused := func(want string, cur int) {
		t.Helper()
		for _, c := range commands {
			_, errs, code := r.do("", c...)
			if code != 1 || errs != "quench: "+want+"\n" {
				t.Errorf("quench %s: exit %d, %q; want %q", strings.Join(c, " "), code, errs, want)
			}
		}
		if v := version(); v != cur {
			t.Fatalf("schema moved from %d to %d", cur, v)
		}
	}
	st := testenv.NewStore(t, store.SQLite)
	_, latest, err := st.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if err := db.PingContext(ctx); err != nil { // an empty database file
		t.Fatal(err)
	}
	refused(fmt.Sprintf("the database has no quench schema yet (this quench needs version %d): run `quench migrate` (or start `quench serve`)", latest), 0)
	if out := r.ok("migrate"); !strings.Contains(out, fmt.Sprintf("schema version %d", latest)) {
		t.Fatalf("migrate: %q", out)
	}
	r.ok("user", "list")

	// An older schema: the newest migration not recorded yet.
	exec(fmt.Sprintf(`CREATE TABLE held AS SELECT * FROM schema_migrations WHERE version = %d`, latest))
	exec(fmt.Sprintf(`DELETE FROM schema_migrations WHERE version = %d`, latest))
	refused(fmt.Sprintf("the database schema is at version %d but this quench needs %d: run `quench migrate` (or start `quench serve`)", latest-1, latest), latest-1)
	exec(`INSERT INTO schema_migrations SELECT * FROM held`)
	r.ok("user", "list")

	// A newer one: serve and migrate refuse it too, serve before listening.
	exec(fmt.Sprintf(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'future', 0)`, latest+1))
	newer := fmt.Sprintf("the database schema is newer than this quench knows (%d > %d); use a newer quench", latest+1, latest)
	refused(newer, latest+1)
	for _, c := range []string{"serve", "migrate"} {
		if _, errs, code := r.do("", c); code != 1 || errs != "quench: "+newer+"\n" {
			t.Fatalf("%s on a newer schema: exit %d, %q", c, code, errs)
		}
	}
}

// Inbox triage from the command line: acknowledge, dismiss (hidden from
// the default list), snooze, list and remove snoozes.
func TestAlertTriageCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok, "QUENCH_LOG_LEVEL": "error"}}
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	hook := "/api/v1/intake/generic/" + in.JSON["id"].(string)
	app.Must(t, 200, "POST", hook, in.JSON["token"].(string), map[string]any{"alerts": []map[string]any{
		{"title": "backup slow", "severity": "warning"}, {"title": "disk noisy", "severity": "warning"}}})

	if out := r.ok("alert", "ack", "1"); !strings.Contains(out, "alert 1 acknowledged by ana") {
		t.Fatalf("ack: %q", out)
	}
	if _, errs, code := r.do("", "alert", "dismiss", "2"); code != 2 || !strings.Contains(errs, "--reason") {
		t.Fatalf("dismiss without a reason: %d %q", code, errs)
	}
	if out := r.ok("alert", "dismiss", "2", "--reason", "known noise"); !strings.Contains(out, "alert 2 dismissed: known noise") {
		t.Fatalf("dismiss: %q", out)
	}
	list := r.ok("alert", "list")
	if !strings.Contains(list, "acked by ana") || strings.Contains(list, "disk noisy") || !strings.Contains(list, "1 firing alert(s) wait") {
		t.Fatalf("alert list: %q", list)
	}
	if list := r.ok("alert", "list", "--dismissed", "true"); !strings.Contains(list, "disk noisy") || !strings.Contains(list, "dismissed by ana") {
		t.Fatalf("dismissed list: %q", list)
	}
	out := r.ok("alert", "snooze", "--match", `alertname="DiskFull"`, "--for", "2h", "--reason", "migration")
	if !strings.Contains(out, `snooze 1: new alerts matching alertname="DiskFull" stay in the inbox until`) {
		t.Fatalf("snooze: %q", out)
	}
	if list := r.ok("alert", "snoozes"); !strings.Contains(list, `alertname="DiskFull"`) || !strings.Contains(list, "migration") {
		t.Fatalf("snoozes: %q", list)
	}
	if _, errs, code := r.do("", "alert", "snooze", "--match", `alertname="x"`, "--for", "soon"); code != 1 || !strings.Contains(errs, "duration") {
		t.Fatalf("bad duration: %d %q", code, errs)
	}
	if out := r.ok("alert", "unsnooze", "1"); !strings.Contains(out, "snooze 1 removed") {
		t.Fatalf("unsnooze: %q", out)
	}
	if list := r.ok("alert", "snoozes"); strings.Contains(list, "DiskFull") {
		t.Fatalf("removed snooze listed: %q", list)
	}
	// A read-only token may list but not triage.
	ro := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": app.Token(t, "ana", auth.ScopeRead), "QUENCH_LOG_LEVEL": "error"}}
	if _, errs, code := ro.do("", "alert", "ack", "1"); code != 1 || !strings.Contains(errs, "403") && !strings.Contains(strings.ToLower(errs), "forbidden") && !strings.Contains(errs, "may not") {
		t.Fatalf("read token acknowledged: %d %q", code, errs)
	}
}

// quench incident merge and cancel: the two ends beside closed, and the
// reopen of a cancelled incident.
func TestMergeAndCancelCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok}}
	for _, title := range []string{"Checkout down", "Checkout down again", "Load test alarm"} {
		r.ok("incident", "open", "--title", title)
	}
	r.ok("incident", "link", "2", "--url", "https://grafana.example.com/d/checkout")
	out := r.ok("incident", "merge", "2", "--into", "#1", "--reason", "same outage")
	if !strings.Contains(out, "#2 merged into #1: moved 0 alert(s), 1 link(s), 0 checklist item(s), 0 attachment(s)") {
		t.Errorf("merge: %q", out)
	}
	if _, errs, code := r.do("", "incident", "merge", "2", "--into", "1", "--reason", "again"); code != 1 || !strings.Contains(errs, "incident_merged") {
		t.Errorf("merge twice: %d %q", code, errs)
	}
	if _, _, code := r.do("", "incident", "merge", "3", "--reason", "no target"); code != 2 {
		t.Errorf("merge without --into: %d", code)
	}
	if out := r.ok("incident", "cancel", "3", "--reason", "the load test"); !strings.Contains(out, "#3 is cancelled (was active): Load test alarm") {
		t.Errorf("cancel: %q", out)
	}
	list := r.ok("incident", "list", "--state", "ended")
	if !strings.Contains(list, "merged") || !strings.Contains(list, "cancelled") || strings.Contains(list, "Checkout down\n") {
		t.Errorf("list --state ended:\n%s", list)
	}
	// show says how an incident ended, as list does, and marks no phase
	// as the current one.
	for n, want := range map[string]string{"2": "merged into #1 (was active) · major", "3": "cancelled (was active) · major"} {
		show := r.ok("incident", "show", n)
		if !strings.Contains(show, "\n"+want) || strings.Contains(show, "\nactive ·") || strings.Contains(show, "▶") {
			t.Errorf("show of #%s lacks %q or shows it active:\n%s", n, want, show)
		}
	}
	if show := r.ok("incident", "show", "2"); !strings.Contains(show, "\nreason: same outage\n") {
		t.Errorf("show of a merged incident lacks its reason:\n%s", show)
	}
	if out := r.ok("incident", "reopen", "3", "--reason", "customers did see errors"); !strings.Contains(out, "#3 is active") {
		t.Errorf("reopen a cancelled incident: %q", out)
	}
	tl := r.ok("incident", "timeline", "3")
	for _, want := range []string{"cancelled (was active): the load test", "reopened from cancelled: customers did see errors"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
}

// TestTemplateCommands: an admin token adds, lists and removes checklist
// templates; incident open --template uses one; whoever opens owns it.
func TestTemplateCommands(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	ana := app.User(t, "ana", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": admin}}
	out := r.ok("template", "add", "database", "--service", "db", "--item", "mitigated: check replication lag",
		"--item", "resolved: document recovery procedure", "--item", "fix: the config")
	if !strings.Contains(out, `template 1 "database" added: 3 items for new incidents of any severity, service db`) {
		t.Fatalf("add: %q", out)
	}
	list := r.ok("template", "list")
	for _, want := range []string{"database", "any severity, service db", "mitigated: check replication lag", "active: fix: the config"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	if _, errs, code := r.do("", "template", "add", "database", "--item", "x"); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("duplicate: %d %q", code, errs)
	}
	if _, _, code := r.do("", "template", "add", "no-items"); code != 2 {
		t.Fatalf("add without items: exit %d", code)
	}
	responder := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": ana}}
	if _, errs, code := responder.do("", "template", "add", "x", "--item", "y"); code != 1 || !strings.Contains(errs, "may not") {
		t.Fatalf("responder adds: %d %q", code, errs)
	}
	responder.ok("incident", "open", "--title", "replica lag", "--template", "database")
	show := responder.ok("incident", "show", "1", "--json")
	if !strings.Contains(show, `"active":"ana"`) {
		t.Errorf("opener does not own active: %s", show)
	}
	if items := responder.ok("incident", "show", "1"); !strings.Contains(items, "document recovery procedure") {
		t.Errorf("show lacks the template's items:\n%s", items)
	}
	if out := r.ok("template", "remove", "1"); !strings.HasSuffix(out, "incidents keep the items it added\n") {
		t.Fatalf("remove: %q", out)
	}
	if out := r.ok("template", "list", "--json"); !strings.Contains(out, `"templates":[]`) {
		t.Fatalf("list after remove: %q", out)
	}
}

// A maintenance command run where there is no database (the wrong folder,
// a mistyped QUENCH_DATA_DIR) refuses and says where it looked, instead of
// creating a second, empty database; user add --init creates one on
// purpose.
func TestUserAddNeedsDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "quench-data")
	r := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": dir, "QUENCH_LOG_LEVEL": "error"}}
	for _, c := range [][]string{{"user", "add", "--admin", "ana"}, {"user", "list"}, {"token", "create", "--user", "ana", "--scopes", "read"}} {
		_, errs, code := r.do("", c...)
		if code != 1 || !strings.Contains(errs, "no Quench database at "+filepath.Join(dir, "quench.db")) || !strings.Contains(errs, "--init") {
			t.Fatalf("quench %s without a database: exit %d, %q", strings.Join(c, " "), code, errs)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused command left %s behind (%v)", dir, err)
	}
	if out := r.ok("user", "add", "--init", "--admin", "ana"); !strings.Contains(out, "created admin ana") {
		t.Fatalf("user add --init: %q", out)
	}
	// Now there is one: --init changes nothing, and the rest work.
	r.ok("user", "add", "--init", "bo")
	if out := r.ok("user", "list"); !strings.Contains(out, "ana") || !strings.Contains(out, "bo") {
		t.Fatalf("user list: %q", out)
	}
	if _, _, code := r.do("", "user", "list", "--init"); code != 2 {
		t.Fatal("--init accepted outside user add")
	}
}

// The CLI does what the incident page does: owners, files, publishing and
// withdrawing updates, checklist items by their position on the incident,
// and a show that holds all of it.
func TestIncidentCommandsDoWhatThePageDoes(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.User(t, "bo", auth.RoleResponder)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": tok}}
	r.ok("incident", "open", "--title", "Queue backlog", "--source", "team")
	r.ok("incident", "open", "--title", "Disk full")
	// #1's items are 1 and 2 for #1, whatever ids #2's items got.
	r.ok("incident", "check", "2", "--text", "free space")
	if out := r.ok("incident", "check", "1", "--text", "drain the queue"); !strings.Contains(out, "[ ] 1 (active): drain the queue") {
		t.Fatalf("check add: %q", out)
	}
	r.ok("incident", "check", "1", "--text", "document recovery", "--phase", "resolved")
	if out := r.ok("incident", "check", "1", "--done", "2"); !strings.Contains(out, "[x] 2 (resolved): document recovery") {
		t.Fatalf("check --done 2: %q", out)
	}
	if _, errs, code := r.do("", "incident", "check", "1", "--done", "3"); code != 1 || !strings.Contains(errs, "no item 3") {
		t.Fatalf("check --done 3: %d %q", code, errs)
	}

	if out := r.ok("incident", "assign", "1", "bo"); out != "bo owns the active phase of #1\n" {
		t.Fatalf("assign: %q", out)
	}
	r.ok("incident", "assign", "1", "--phase", "mitigated", "ana")
	r.ok("incident", "assign", "1", "--phase", "resolved", "bo")
	if out := r.ok("incident", "assign", "1", "--phase", "resolved", "-"); out != "nobody owns the resolved phase of #1\n" {
		t.Fatalf("assign -: %q", out)
	}
	if _, errs, code := r.do("", "incident", "assign", "1", "nobody-here"); code != 1 || errs == "" {
		t.Fatalf("assign unknown user: %d %q", code, errs)
	}

	file := filepath.Join(t.TempDir(), "graph.txt")
	if err := os.WriteFile(file, []byte("queue depth 40k at 09:12\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := r.ok("incident", "upload", "1", file); !strings.Contains(out, "attached graph.txt (internal") {
		t.Fatalf("upload: %q", out)
	}
	r.ok("incident", "upload", "1", file, "--public")

	out := r.ok("incident", "update", "1", "--body", "consumers restarted")
	id := regexp.MustCompile(`internal update (\d+) on #1`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("update: %q", out)
	}
	if out := r.ok("incident", "update", "1", "--publish", id[1]); out != "update "+id[1]+" on #1 is now public\n" {
		t.Fatalf("publish: %q", out)
	}
	anon := app.Request(t, "GET", "/api/v1/incidents/1/updates", "", "")
	if !strings.Contains(string(anon.Body), "consumers restarted") {
		t.Fatalf("published update not public: %s", anon.Body)
	}
	r.ok("incident", "update", "1", "--withdraw", id[1])
	if anon := app.Request(t, "GET", "/api/v1/incidents/1/updates", "", ""); strings.Contains(string(anon.Body), "consumers restarted") {
		t.Fatal("withdrawn update still public")
	}

	app.Must(t, 201, "POST", "/api/v1/incidents/1/links", tok, `{"kind": "dashboard", "url": "https://grafana.example/d/q"}`)
	show := r.ok("incident", "show", "1")
	for _, want := range []string{
		"▶ active", "owner bo", "mitigated", "owner ana", "resolved", "owner (none)",
		"[ ] 1 (active) drain the queue", "[x] 2 (resolved) document recovery",
		"dashboard https://grafana.example/d/q", "graph.txt", "[" + id[1] + "]", "consumers restarted",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}

	// Errors name the flags, not the API's fields.
	r.ok("incident", "check", "1", "--done", "1")
	r.ok("incident", "advance", "1", "--note", "restarted")
	r.ok("incident", "advance", "1", "--note", "fixed")
	_, errs, code := r.do("", "incident", "advance", "1", "--note", "improved")
	if code != 1 || !strings.Contains(errs, "needs a --detection-improvement") || strings.Contains(errs, "needs a detection_improvement") {
		t.Fatalf("close without improvement: %d %q", code, errs)
	}
	if _, errs, _ := r.do("", "incident", "reopen", "1"); !strings.Contains(errs, "needs a --reason") {
		t.Fatalf("reopen without reason: %q", errs)
	}
	// Every output ends with a newline, the server's JSON too.
	for _, c := range [][]string{{"incident", "show", "1", "--json"}, {"incident", "list", "--json"}, {"incident", "timeline", "1", "--json"}} {
		if out := r.ok(c...); !strings.HasSuffix(out, "\n") {
			t.Errorf("quench %s: output does not end with a newline: %q", strings.Join(c, " "), out[max(0, len(out)-20):])
		}
	}
}
