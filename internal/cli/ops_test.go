package cli_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func TestVersion(t *testing.T) {
	r := run{t: t, env: map[string]string{}}
	out := r.ok("version")
	if !strings.HasPrefix(out, "quench ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("version: %q", out)
	}
}

// config check prints every setting with secrets hidden, and fails on a
// setting serve would refuse, whether reading or validating finds it.
func TestConfigCheck(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "db")
	os.WriteFile(secret, []byte("postgres://quench:db-s3cret@db.internal/quench\n"), 0o600)
	good := map[string]string{
		"QUENCH_DATABASE_URL_FILE": secret, "QUENCH_ADMIN_USER": "ana", "QUENCH_ADMIN_PASSWORD": "admin-s3cret",
		"SENTRY_DSN": "https://key-s3cret@sentry.example.com/4", "QUENCH_TOKEN": "qt_s3cret", "QUENCH_ADDR": "0.0.0.0:8080",
		"QUENCH_SMTP_HOST": "mail.example.com", "QUENCH_SMTP_FROM": "q@example.com", "QUENCH_SMTP_USERNAME": "q",
		"QUENCH_SMTP_PASSWORD": "smtp-s3cret", "QUENCH_OIDC_ISSUER": "https://id.example.com",
		"QUENCH_OIDC_CLIENT_ID": "quench", "QUENCH_OIDC_CLIENT_SECRET": "oidc-s3cret",
	}
	out, errs, code := run{t: t, env: good}.do("", "config", "check")
	if code != 0 || errs != "" || !strings.Contains(out, "configuration ok") {
		t.Fatalf("good configuration: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"addr                 0.0.0.0:8080", "database             postgres:<redacted>",
		"sentry_dsn           <redacted>", "sentry_environment   production", "oidc                 issuer https://id.example.com"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("config check leaks a secret:\n%s", out)
	}

	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"QUENCH_LOG_LEVEL": "loud"}, "bad setting: QUENCH_LOG_LEVEL"},
		{map[string]string{"QUENCH_SHUTDOWN_TIMEOUT": "soon", "QUENCH_ADDR": "nowhere"}, "bad setting: QUENCH_SHUTDOWN_TIMEOUT"},
		{map[string]string{"QUENCH_ADMIN_PASSWORD_FILE": "/nonexistent/pw"}, "bad setting: QUENCH_ADMIN_PASSWORD_FILE"},
		{map[string]string{"SENTRY_DSN": "sentry.example.com"}, "bad setting: SENTRY_DSN"},
		{map[string]string{"QUENCH_OIDC_ISSUER": "https://id.example.com"}, "bad setting: QUENCH_OIDC_ISSUER is set"},
	} {
		out, errs, code := run{t: t, env: tc.env}.do("", "config", "check")
		if code != 1 || !strings.Contains(errs, tc.want) || !strings.Contains(out, "addr ") {
			t.Errorf("%v: exit %d, want 1 with %q\n%s%s", tc.env, code, tc.want, out, errs)
		}
	}
	// An admin account serve could not create is refused by config check,
	// and by serve before it creates or migrates a database.
	for _, tc := range []struct {
		user, password, want string
	}{
		{"ana", "short", "bad setting: QUENCH_ADMIN_PASSWORD: password must have at least 10 characters"},
		{"bad name", "admin-s3cret", `bad setting: QUENCH_ADMIN_USER "bad name": user name must be`},
	} {
		data := t.TempDir()
		env := map[string]string{"QUENCH_DATA_DIR": data, "QUENCH_ADDR": "127.0.0.1:0", "QUENCH_LOG_LEVEL": "error",
			"QUENCH_ADMIN_USER": tc.user, "QUENCH_ADMIN_PASSWORD": tc.password}
		out, errs, code := run{t: t, env: env}.do("", "config", "check")
		if code != 1 || !strings.Contains(errs, tc.want) || strings.Contains(out, "configuration ok") {
			t.Errorf("config check with admin %q/%q: exit %d, want 1 with %q\n%s%s", tc.user, tc.password, code, tc.want, out, errs)
		}
		if _, errs, code := (run{t: t, env: env}).do("", "serve"); code != 1 || !strings.Contains(errs, strings.TrimPrefix(tc.want, "bad setting: ")) {
			t.Errorf("serve with admin %q/%q: exit %d, %q", tc.user, tc.password, code, errs)
		}
		if _, err := os.Stat(filepath.Join(data, "quench.db")); err == nil {
			t.Errorf("serve with admin %q/%q created a database before refusing", tc.user, tc.password)
		}
	}
	// Both problems of the second case are reported, not just the first.
	_, errs, _ = run{t: t, env: map[string]string{"QUENCH_SHUTDOWN_TIMEOUT": "soon", "QUENCH_ADDR": "nowhere"}}.do("", "config", "check")
	if !strings.Contains(errs, "QUENCH_ADDR") {
		t.Errorf("only the first problem reported: %s", errs)
	}
}

func TestHealthcheck(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	addr := strings.TrimPrefix(app.URL, "http://")
	if out := (run{t: t, env: map[string]string{"QUENCH_ADDR": addr}}).ok("healthcheck"); !strings.Contains(out, "ok: "+app.URL+"/healthz") {
		t.Fatalf("healthcheck on QUENCH_ADDR: %q", out)
	}
	(run{t: t, env: map[string]string{}}).ok("healthcheck", app.URL)
	(run{t: t, env: map[string]string{}}).ok("healthcheck", app.URL+"/readyz")

	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	if _, errs, code := (run{t: t, env: map[string]string{}}).do("", "healthcheck", sick.URL); code != 1 || !strings.Contains(errs, "503") {
		t.Fatalf("503: exit %d %q", code, errs)
	}
	sick.Close()
	if _, errs, code := (run{t: t, env: map[string]string{"QUENCH_ADDR": strings.TrimPrefix(sick.URL, "http://")}}).do("", "healthcheck"); code != 1 || !strings.Contains(errs, "unhealthy") {
		t.Fatalf("nobody listening: exit %d %q", code, errs)
	}
	if _, _, code := (run{t: t, env: map[string]string{}}).do("", "healthcheck", "localhost:8080"); code != 2 {
		t.Fatalf("not a URL: exit %d", code)
	}
}

// What backup and restore refuse, and the copy through stdout and stdin;
// the copy under load is tested against the real binary (internal/fault
// TestBackupUnderLoad).
func TestBackupRestoreCommands(t *testing.T) {
	data := t.TempDir()
	r := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": data, "QUENCH_LOG_LEVEL": "error"}}
	if _, errs, code := r.do("", "backup", filepath.Join(t.TempDir(), "b.db")); code != 1 || !strings.Contains(errs, "no Quench database") {
		t.Fatalf("backup of nothing: %d %q", code, errs)
	}
	r.ok("migrate")
	r.ok("user", "add", "ana")
	dest := filepath.Join(t.TempDir(), "b.db")
	if out := r.ok("backup", dest); !strings.Contains(out, "schema version") {
		t.Fatalf("backup: %q", out)
	}
	if st, err := os.Stat(dest); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st.Mode(), err)
	}
	if _, errs, code := r.do("", "backup", dest); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("backup over a file: %d %q", code, errs)
	}
	if _, errs, code := r.do("", "restore", dest); code != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("restore over a database: %d %q", code, errs)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	fresh := filepath.Join(t.TempDir(), "fresh")
	rf := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": fresh, "QUENCH_LOG_LEVEL": "error"}}
	if _, errs, code := rf.do("", "restore", junk); code != 1 || !strings.Contains(errs, "not a usable Quench backup") {
		t.Fatalf("restore of junk: %d %q", code, errs)
	}
	if entries, _ := os.ReadDir(fresh); len(entries) != 0 {
		t.Fatalf("a refused restore left %v", entries)
	}
	rf.ok("restore", dest)
	if out := rf.ok("user", "list"); !strings.Contains(out, "ana") {
		t.Fatalf("restored users: %q", out)
	}
	// Through stdout and stdin, for images without a shell or tar. The
	// copy is made in the data folder: a temporary folder that cannot be
	// used (a container's small /tmp) does not stop it.
	tmp := os.Getenv("TMPDIR")
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	stream, errs, code := r.do("", "backup", "-")
	t.Setenv("TMPDIR", tmp)
	if code != 0 || !strings.HasPrefix(stream, "SQLite format 3\x00") || !strings.Contains(errs, "backup written to stdout") {
		t.Fatalf("backup -: exit %d, %d bytes, %q", code, len(stream), errs)
	}
	piped := run{t: t, env: map[string]string{"QUENCH_DATA_DIR": filepath.Join(t.TempDir(), "piped"), "QUENCH_LOG_LEVEL": "error"}}
	if _, errs, code := piped.do(stream, "restore", "-"); code != 0 {
		t.Fatalf("restore -: exit %d %q", code, errs)
	}
	if out := piped.ok("user", "list"); !strings.Contains(out, "ana") {
		t.Fatalf("users restored from stdin: %q", out)
	}
	pg := run{t: t, env: map[string]string{"QUENCH_DATABASE_URL": "postgres://x@127.0.0.1:1/x"}}
	if _, errs, code := pg.do("", "backup", dest+"2"); code != 1 || !strings.Contains(errs, "pg_dump") {
		t.Fatalf("backup on PostgreSQL: %d %q", code, errs)
	}
}
