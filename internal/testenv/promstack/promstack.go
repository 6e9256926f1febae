// Package promstack runs a real Prometheus and Alertmanager as child
// processes for end-to-end tests of Quench's Alertmanager intake.
//
// Hand-written webhook payloads only prove that Quench agrees with its own
// idea of Alertmanager. This package lets a test receive the notifications a
// real Alertmanager sends — grouping, resolve notifications, retries,
// authorization headers and all — from Prometheus rules that fire and
// resolve on a timetable. It follows the setup that produced the fixtures in
// shared/fixtures/alertmanager (see shared/reference/real-alertmanager.md),
// with timings shortened so a test finishes in well under a minute.
//
// Everything is bound to 127.0.0.1 on ports picked at run time, configs and
// data live in t.TempDir(), and both processes are stopped by PID in
// t.Cleanup (and, on Linux, killed by the kernel if the test binary dies
// first). Nothing outside the temp dir is touched and no service manager is
// involved, so tests using it can run in parallel and on developer machines.
//
// The binaries come from the Debian packages prometheus and
// prometheus-alertmanager. Without them Start skips the test, unless
// QUENCH_TEST_REQUIRE_ALL=1 is set (as CI does), in which case it fails:
// an end-to-end test that silently skips in CI protects nothing.
package promstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultResolveAfter is how long the default DemoWarmup alert fires: long
// enough that Alertmanager has certainly sent the firing notification first
// (group_wait 1 s, resend delay 5 s), short enough to keep tests quick.
const DefaultResolveAfter = 15 * time.Second

// RequireAllEnv names the environment variable that turns a skip for
// missing binaries into a failure. CI sets it to "1".
const RequireAllEnv = "QUENCH_TEST_REQUIRE_ALL"

// Timings written into the configs. Alertmanager's production
// group_interval is 5 m; with it a resolve notification would take minutes.
const (
	groupWait      = 1 * time.Second
	groupInterval  = 5 * time.Second
	repeatInterval = 1 * time.Hour
	// evalInterval is both the scrape and the rule evaluation interval: the
	// DemoWarmup rule needs one self-scrape before it can fire.
	evalInterval = 1 * time.Second
	// resendDelay is Prometheus' --rules.alert.resend-delay. With the default
	// (1 m), alerts evaluated before Prometheus' notifier has discovered
	// Alertmanager are dropped and only re-sent a minute later; with 5 s the
	// first webhook arrives ~6 s after start. Side effect: firing alerts carry
	// endsAt = now + 4 × 5 s, so if Prometheus stops, Alertmanager resolves
	// them on its own about 20 s later.
	resendDelay = 5 * time.Second
)

// Options configures a Stack. Only WebhookURL is required.
type Options struct {
	// WebhookURL is where Alertmanager POSTs its notifications (the single
	// receiver, with send_resolved: true). It must point at a loopback
	// address: the stack must never send traffic off the machine.
	WebhookURL string

	// BearerToken, if set, is sent by Alertmanager as
	// "Authorization: Bearer <token>" (http_config.authorization). Empty
	// means no Authorization header at all.
	BearerToken string

	// Rules is the Prometheus rule file (a YAML document with "groups:").
	// Empty means DefaultRules(ResolveAfter).
	Rules string

	// ResolveAfter is how long after Prometheus starts the default
	// DemoWarmup alert stops firing. Zero means DefaultResolveAfter. It is
	// ignored when Rules is set. Below about 8 s a test may never see
	// DemoWarmup firing: the first notification arrives ~6 s after start
	// (see resendDelay), by which time the alert could already be resolved.
	ResolveAfter time.Duration

	// MaxAlerts is the receiver's max_alerts: the most alerts of a group
	// one notification carries. Zero means all of them.
	MaxAlerts int

	// Receiver, if set, is the receiver as Quench's onboarding prints it
	// (one "- name: …" entry of receivers), used instead of the built-in
	// one: every alert is routed to it. Its webhook URL must be
	// WebhookURL; BearerToken and MaxAlerts are then ignored.
	Receiver string
}

// Stack is a running Prometheus + Alertmanager pair. Both are stopped when
// the test that started them ends.
type Stack struct {
	// AlertmanagerURL is the base URL of Alertmanager, e.g.
	// "http://127.0.0.1:41234" (no trailing slash).
	AlertmanagerURL string
	// PrometheusURL is the base URL of Prometheus.
	PrometheusURL string
	// Dir is the temp dir holding the configs (alertmanager.yml,
	// prometheus.yml, rules.yml), the data dirs and the process logs
	// (alertmanager.log, prometheus.log). It is removed after the test.
	Dir string

	am, prom *process
}

// DefaultRules returns the rule file used when Options.Rules is empty. It
// mirrors the fixture capture so payloads have the same shape:
//
//   - DemoServiceDown (severity=critical, service=demo) fires on the first
//     evaluation and never resolves;
//   - DemoWarmup (severity=warning, service=demo) fires while Prometheus is
//     younger than resolveAfter, then resolves. It needs a self-scrape, so
//     it starts firing 1–2 s after DemoServiceDown; its alert carries
//     instance and job labels, DemoServiceDown's does not.
//
// Both are in one group named "demo" evaluated every second.
func DefaultRules(resolveAfter time.Duration) string {
	if resolveAfter <= 0 {
		resolveAfter = DefaultResolveAfter
	}
	secs := strconv.FormatFloat(resolveAfter.Seconds(), 'f', -1, 64)
	return `groups:
  - name: demo
    interval: ` + promDuration(evalInterval) + `
    rules:
      # Fires on the first evaluation and never resolves.
      - alert: DemoServiceDown
        expr: vector(1)
        labels:
          severity: critical
          service: demo
        annotations:
          summary: "Demo service is down"
          description: "Synthetic alert from vector(1); value={{ $value }}"
          runbook_url: "https://runbooks.example.com/demo-service-down"
      # Fires while Prometheus is younger than ` + secs + ` s, then resolves.
      - alert: DemoWarmup
        expr: time() - process_start_time_seconds{job="prometheus"} < ` + secs + `
        labels:
          severity: warning
          service: demo
        annotations:
          summary: "Prometheus {{ $labels.instance }} started {{ $value | humanizeDuration }} ago"
`
}

// Start starts Alertmanager, then Prometheus pointed at it, and returns once
// both answer /-/ready. Alertmanager goes first so that Prometheus' first
// alerts are not sent into the void. Any problem fails the test with the
// relevant process log; missing binaries skip it (see RequireAllEnv).
func Start(t testing.TB, opt Options) *Stack {
	t.Helper()
	promBin, amBin := findBinary(prometheusCandidates), findBinary(alertmanagerCandidates)
	if !requireBinaries(t, promBin, amBin) {
		return nil // only reached with a fake testing.TB
	}
	if err := checkLoopbackURL(opt.WebhookURL); err != nil {
		t.Fatalf("promstack: Options.WebhookURL: %v", err)
	}
	rules := opt.Rules
	if rules == "" {
		rules = DefaultRules(opt.ResolveAfter)
	}

	// t.TempDir registers its removal before the process cleanups below are
	// registered, so (cleanups being LIFO) the processes are stopped before
	// their directories are removed.
	dir := t.TempDir()
	s := &Stack{Dir: dir}
	amConfig := filepath.Join(dir, "alertmanager.yml")
	promConfig := filepath.Join(dir, "prometheus.yml")
	rulesFile := filepath.Join(dir, "rules.yml")
	if opt.Receiver != "" {
		cfg, err := receiverConfig(opt.Receiver, opt.WebhookURL)
		if err != nil {
			t.Fatalf("promstack: Options.Receiver: %v", err)
		}
		writeFile(t, amConfig, cfg)
	} else {
		writeFile(t, amConfig, alertmanagerConfigMax(opt.WebhookURL, opt.BearerToken, opt.MaxAlerts))
	}
	writeFile(t, rulesFile, rules)

	var amPort int
	s.am, s.AlertmanagerURL = launch(t, "alertmanager", amBin, dir, func(port int) ([]string, error) {
		amPort = port
		addr := "127.0.0.1:" + strconv.Itoa(port)
		return []string{
			"--config.file=" + amConfig,
			"--storage.path=" + filepath.Join(dir, "alertmanager-data"),
			"--web.listen-address=" + addr,
			"--web.external-url=http://" + addr,
			// Empty disables HA gossip, which would otherwise bind
			// 0.0.0.0:9094 and clash with a second stack or a real one.
			"--cluster.listen-address=",
			// Debug level logs every notification attempt, which is what
			// one wants to see when a webhook did not arrive.
			"--log.level=debug",
		}, nil
	})

	s.prom, s.PrometheusURL = launch(t, "prometheus", promBin, dir, func(port int) ([]string, error) {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		// Prometheus scrapes itself, so its config depends on its own port.
		if err := os.WriteFile(promConfig, []byte(prometheusConfig(port, amPort, rulesFile)), 0o644); err != nil {
			return nil, err
		}
		return []string{
			"--config.file=" + promConfig,
			"--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"),
			"--web.listen-address=" + addr,
			"--web.external-url=http://" + addr,
			"--rules.alert.resend-delay=" + promDuration(resendDelay),
		}, nil
	})

	// Registered last, so it runs first: while both processes still live.
	t.Cleanup(func() {
		if t.Failed() {
			s.logAlerts(t)
		}
	})
	return s
}

// Alert is an alert as Alertmanager's API v2 (/api/v2/alerts) reports it;
// only the fields useful for debugging and assertions are decoded.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State       string   `json:"state"` // "active", "suppressed" or "unprocessed"
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

// Alerts returns the alerts Alertmanager currently holds. It tells apart
// "Prometheus never sent the alert" from "Alertmanager did not notify", the
// first question when an end-to-end test times out.
func (s *Stack) Alerts(ctx context.Context) ([]Alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.AlertmanagerURL+"/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/alerts: %s", resp.Status)
	}
	var alerts []Alert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return nil, fmt.Errorf("GET /api/v2/alerts: %w", err)
	}
	return alerts, nil
}

// PostableAlert is an alert as Alertmanager's API v2 takes it
// (POST /api/v2/alerts), the way Prometheus sends them.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// PostAlerts hands alerts to Alertmanager as Prometheus would: a test can
// make a group of any size without writing rules for it.
func (s *Stack) PostAlerts(ctx context.Context, alerts []PostableAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.AlertmanagerURL+"/api/v2/alerts", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := localClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /api/v2/alerts: %s", resp.Status)
	}
	return nil
}

// logAlerts logs Alertmanager's view of the alerts after a failure.
func (s *Stack) logAlerts(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	alerts, err := s.Alerts(ctx)
	if err != nil {
		t.Logf("promstack: alertmanager alerts: %v", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "promstack: alertmanager holds %d alert(s):", len(alerts))
	for _, a := range alerts {
		fmt.Fprintf(&b, "\n  %s state=%s startsAt=%s endsAt=%s labels=%v",
			a.Labels["alertname"], a.Status.State,
			a.StartsAt.Format(time.RFC3339Nano), a.EndsAt.Format(time.RFC3339Nano), a.Labels)
	}
	t.Log(b.String())
}

// Binary locations, in order of preference. Debian installs Alertmanager as
// prometheus-alertmanager; upstream tarballs and other distributions call
// it alertmanager.
var (
	prometheusCandidates   = []string{"/usr/bin/prometheus", "prometheus"}
	alertmanagerCandidates = []string{"/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager"}
)

// findBinary returns the first candidate that exists and is executable:
// absolute paths are checked as they are, bare names are looked up on PATH.
// It returns "" if none is found.
func findBinary(candidates []string) string {
	for _, c := range candidates {
		if filepath.IsAbs(c) {
			if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// requireBinaries skips or fails the test when a binary is missing and
// reports whether both are present.
func requireBinaries(t testing.TB, promBin, amBin string) bool {
	t.Helper()
	var missing []string
	if promBin == "" {
		missing = append(missing, "prometheus (looked for /usr/bin/prometheus and prometheus on PATH)")
	}
	if amBin == "" {
		missing = append(missing, "alertmanager (looked for /usr/bin/prometheus-alertmanager, and prometheus-alertmanager or alertmanager on PATH)")
	}
	if len(missing) == 0 {
		return true
	}
	msg := "promstack: missing " + strings.Join(missing, "; ") +
		". Install the Debian packages: apt-get install --no-install-recommends prometheus prometheus-alertmanager"
	if os.Getenv(RequireAllEnv) == "1" {
		t.Fatalf("%s (%s=1 forbids skipping)", msg, RequireAllEnv)
	} else {
		t.Skipf("%s (skipping; set %s=1 to make this a failure)", msg, RequireAllEnv)
	}
	return false
}

// checkLoopbackURL refuses webhook targets that would make Alertmanager
// send traffic off the machine.
func checkLoopbackURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("empty; Alertmanager needs somewhere to send notifications")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q: host must be a loopback address such as 127.0.0.1", raw)
	}
	return nil
}

// alertmanagerConfig routes everything to one webhook receiver. group_by
// matches the fixture capture so groupKey values have the same shape.
func alertmanagerConfig(webhookURL, bearerToken string) string {
	return alertmanagerConfigMax(webhookURL, bearerToken, 0)
}

// alertmanagerConfigMax is alertmanagerConfig with the receiver's
// max_alerts (0: unset, every alert of a group).
func alertmanagerConfigMax(webhookURL, bearerToken string, maxAlerts int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `route:
  receiver: webhook
  group_by: ['alertname', 'service']
  group_wait: %s
  group_interval: %s
  repeat_interval: %s
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: true
`, promDuration(groupWait), promDuration(groupInterval), promDuration(repeatInterval), yamlString(webhookURL))
	if maxAlerts > 0 {
		fmt.Fprintf(&b, "        max_alerts: %d\n", maxAlerts)
	}
	if bearerToken != "" {
		fmt.Fprintf(&b, `        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, yamlString(bearerToken))
	}
	return b.String()
}

// receiverConfig routes everything, with the stack's short timings, to a
// receiver given as YAML, after checking that it sends nowhere but
// webhookURL.
func receiverConfig(receiver, webhookURL string) (string, error) {
	first, _, _ := strings.Cut(receiver, "\n")
	name, ok := strings.CutPrefix(strings.TrimSpace(first), "- name: ")
	if !ok || name == "" {
		return "", fmt.Errorf("want a receivers entry starting with \"- name: \", got %q", first)
	}
	if n := strings.Count(receiver, "url:"); n != 1 || !strings.Contains(receiver, "url: "+yamlString(webhookURL)) {
		return "", fmt.Errorf("the receiver must send to WebhookURL %s and nowhere else:\n%s", webhookURL, receiver)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `route:
  receiver: %s
  group_by: ['alertname', 'service']
  group_wait: %s
  group_interval: %s
  repeat_interval: %s
receivers:
`, name, promDuration(groupWait), promDuration(groupInterval), promDuration(repeatInterval))
	for _, line := range strings.SplitAfter(receiver, "\n") {
		if line != "" {
			b.WriteString("  " + line)
		}
	}
	return b.String(), nil
}

// prometheusConfig scrapes Prometheus itself (DemoWarmup needs
// process_start_time_seconds) and sends alerts to Alertmanager. The
// external label env=e2e matches the fixtures.
func prometheusConfig(promPort, amPort int, rulesFile string) string {
	return fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
  external_labels:
    env: e2e
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:%[2]d']
rule_files:
  - %[3]s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:%[4]d']
`, promDuration(evalInterval), amPort, yamlString(rulesFile), promPort)
}

// yamlString quotes s for a YAML document. A JSON string is a valid YAML
// double-quoted scalar, so a token or path with quotes, colons or newlines
// cannot break (or inject into) the generated config.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// promDuration formats d in whole seconds ("5s", "3600s"): Go's "1h0m0s"
// form is not accepted by the duration parser of older Prometheus releases.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("promstack: %v", err)
	}
}
