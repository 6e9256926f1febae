package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
	"github.com/quenchhq/quench/internal/testenv/promstack"
)

// tool finds one of Debian's Prometheus tools, or skips (fails with
// QUENCH_TEST_REQUIRE_ALL=1).
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := name + " not found: apt-get install --no-install-recommends " + pkg
	if os.Getenv(promstack.RequireAllEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func check(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		file, _ := os.ReadFile(args[len(args)-1])
		t.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, file)
	}
}

// quench onboard's files pass the real tools: promtool check rules and
// amtool check-config, with a new integration (its token inline) and with
// the existing one (its token in a file).
func TestOnboardPassesPromtoolAndAmtool(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	amtool := tool(t, "amtool", "prometheus-alertmanager")
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "ana", auth.RoleAdmin, auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin)
	r := run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": admin}}

	dir := t.TempDir()
	out := r.ok("onboard", "billing", "--namespace", "payments", "--write", dir)
	if !strings.Contains(out, `"alertmanager: billing"`) || !strings.Contains(out, "created now") {
		t.Fatalf("onboard: %q", out)
	}
	am, rules := filepath.Join(dir, "alertmanager-billing.yml"), filepath.Join(dir, "rules-billing.yml")
	check(t, promtool, "check", "rules", rules)
	check(t, amtool, "check-config", am)
	b, _ := os.ReadFile(rules)
	for _, want := range []string{"CronJobFailed", "PodCrashLooping", "High5xxRatio", "TargetDown", "HeartbeatMissing",
		`service: "billing"`, `namespace=\"payments\"`, "runbook_url: \"" + app.URL + "/incidents?q=TargetDown&service=billing\""} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rules lack %q:\n%s", want, b)
		}
	}
	b, _ = os.ReadFile(am)
	for _, want := range []string{`service=\"billing\"`, "/api/v1/intake/alertmanager/", "credentials: \"qnch_int_"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("alertmanager config lacks %q:\n%s", want, b)
		}
	}

	// Again: the same integration, no new token; the receiver reads it
	// from a file.
	out = r.ok("onboard", "billing", "--namespace", "payments", "--runbook-base", "https://wiki.example.com/runbooks/billing")
	if !strings.Contains(out, "existed already") || !strings.Contains(out, "credentials_file:") || strings.Contains(out, "credentials: ") {
		t.Fatalf("second onboard: %q", out)
	}
	if !strings.Contains(out, "https://wiki.example.com/runbooks/billing/targetdown") {
		t.Fatalf("runbook base not used: %q", out)
	}
	if list := app.Request(t, "GET", "/api/v1/integrations", admin, ""); strings.Count(string(list.Body), `"alertmanager: billing"`) != 1 {
		t.Fatalf("integrations after two onboards: %s", list.Body)
	}
	r.ok("onboard", "billing", "--write", dir)
	check(t, amtool, "check-config", am)

	// Bad names change nothing; a responder cannot onboard.
	if _, errs, code := r.do("", "onboard", "Billing Service"); code != 1 || !strings.Contains(errs, "Kubernetes") {
		t.Fatalf("bad name: %d %q", code, errs)
	}
	bo := app.User(t, "bo", auth.RoleResponder)
	if _, errs, code := (run{t: t, env: map[string]string{"QUENCH_URL": app.URL, "QUENCH_TOKEN": bo}}).do("", "onboard", "search"); code != 1 || errs == "" {
		t.Fatalf("responder onboarded: %d %q", code, errs)
	}
}
