package promstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// webhookSink records what Alertmanager sends, like the Python sink used for
// the fixture capture.
type webhookSink struct {
	mu   sync.Mutex
	reqs []sinkRequest
}

type sinkRequest struct {
	At            time.Time
	Path          string
	Authorization string
	Body          []byte
	Msg           webhookMessage
	DecodeErr     error
}

// webhookMessage is the part of Alertmanager's webhook body the test checks.
type webhookMessage struct {
	Version  string `json:"version"`
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := sinkRequest{At: time.Now(), Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: body}
	req.DecodeErr = json.Unmarshal(body, &req.Msg)
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *webhookSink) requests() []sinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkRequest(nil), s.reqs...)
}

// find returns the first recorded request whose body has an alert named
// alertname in state status.
func (s *webhookSink) find(alertname, status string) (sinkRequest, bool) {
	for _, r := range s.requests() {
		for _, a := range r.Msg.Alerts {
			if a.Labels["alertname"] == alertname && a.Status == status {
				return r, true
			}
		}
	}
	return sinkRequest{}, false
}

func (s *webhookSink) summary(start time.Time) string {
	var b strings.Builder
	reqs := s.requests()
	fmt.Fprintf(&b, "%d webhook request(s):", len(reqs))
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n  +%.1fs %s auth=%q status=%s", r.At.Sub(start).Seconds(), r.Path, r.Authorization, r.Msg.Status)
		for _, a := range r.Msg.Alerts {
			fmt.Fprintf(&b, " [%s %s]", a.Labels["alertname"], a.Status)
		}
		if r.DecodeErr != nil {
			fmt.Fprintf(&b, " decode error: %v: %q", r.DecodeErr, r.Body)
		}
	}
	return b.String()
}

func TestStackDeliversFiringAndResolved(t *testing.T) {
	start := time.Now()
	sink := &webhookSink{}
	srv := httptest.NewServer(sink) // listens on 127.0.0.1
	t.Cleanup(srv.Close)

	const token = `e2e-secret-token "quoted": with\backslash`
	s := Start(t, Options{
		WebhookURL:  srv.URL + "/hooks/alertmanager",
		BearerToken: token,
	})
	t.Logf("stack ready after %.1fs: alertmanager %s, prometheus %s", time.Since(start).Seconds(), s.AlertmanagerURL, s.PrometheusURL)

	// DemoWarmup resolves DefaultResolveAfter after Prometheus starts; the
	// resolved notification follows within one group_interval.
	deadline := time.Now().Add(DefaultResolveAfter + 30*time.Second)
	var firing, resolved sinkRequest
	var gotFiring, gotResolved bool
	for !(gotFiring && gotResolved) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out (firing DemoServiceDown: %v, resolved DemoWarmup: %v); %s",
				gotFiring, gotResolved, sink.summary(start))
		}
		if !gotFiring {
			if firing, gotFiring = sink.find("DemoServiceDown", "firing"); gotFiring {
				t.Logf("firing DemoServiceDown after %.1fs", firing.At.Sub(start).Seconds())
			}
		}
		if !gotResolved {
			if resolved, gotResolved = sink.find("DemoWarmup", "resolved"); gotResolved {
				t.Logf("resolved DemoWarmup after %.1fs", resolved.At.Sub(start).Seconds())
			}
		}
		time.Sleep(200 * time.Millisecond)
	}

	if want := "Bearer " + token; firing.Authorization != want {
		t.Errorf("firing notification Authorization = %q, want %q", firing.Authorization, want)
	}
	if firing.Msg.Version != "4" {
		t.Errorf("firing notification version = %q, want \"4\"", firing.Msg.Version)
	}
	if firing.Path != "/hooks/alertmanager" {
		t.Errorf("firing notification path = %q, want /hooks/alertmanager", firing.Path)
	}
	if resolved.Msg.Status != "resolved" {
		t.Errorf("DemoWarmup notification top-level status = %q, want resolved (DemoWarmup is alone in its group)", resolved.Msg.Status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	alerts, err := s.Alerts(ctx)
	if err != nil {
		t.Fatalf("Alerts: %v", err)
	}
	var active bool
	for _, a := range alerts {
		if a.Labels["alertname"] == "DemoServiceDown" && a.Status.State == "active" {
			active = true
		}
	}
	if !active {
		t.Errorf("Alerts() has no active DemoServiceDown: %+v", alerts)
	}
	t.Logf("%s", sink.summary(start))
	t.Logf("test body took %.1fs", time.Since(start).Seconds())
}

// TestConfigsValidate checks the generated configs with the upstream
// checkers, so that quoting of awkward tokens and URLs is proven without
// starting anything.
func TestConfigsValidate(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	prom := filepath.Join(dir, "prometheus.yml")
	am := filepath.Join(dir, "alertmanager.yml")
	for path, content := range map[string]string{
		rules: DefaultRules(7500 * time.Millisecond),
		prom:  prometheusConfig(19090, 19093, rules),
		am:    alertmanagerConfig("http://127.0.0.1:19095/hooks?a=1&b='x'", "tok\"en: #1\n\\"),
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(DefaultRules(7500*time.Millisecond), "< 7.5\n") {
		t.Errorf("DefaultRules(7.5s) does not use 7.5 as threshold:\n%s", DefaultRules(7500*time.Millisecond))
	}
	for _, c := range [][]string{
		{"promtool", "check", "config", prom},
		{"amtool", "check-config", am},
	} {
		bin, err := exec.LookPath(c[0])
		if err != nil {
			t.Logf("%s not found, not checking %s", c[0], c[len(c)-1])
			continue
		}
		out, err := exec.Command(bin, c[1:]...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

func TestCheckLoopbackURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:1/x", "http://localhost:8080", "https://[::1]:9/"} {
		if err := checkLoopbackURL(u); err != nil {
			t.Errorf("checkLoopbackURL(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{"", "http://example.com/", "http://10.0.0.1/", "ftp://127.0.0.1/", "http://0.0.0.0:1/"} {
		if err := checkLoopbackURL(u); err == nil {
			t.Errorf("checkLoopbackURL(%q) = nil, want error", u)
		}
	}
}

// recordingTB records Skipf/Fatalf instead of ending the test, so the
// missing-binary policy can be tested in-process. Any other testing.TB
// method would panic on the nil embedded interface, which is the point:
// requireBinaries must not use them.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }
func (r *recordingTB) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }

func TestMissingBinaries(t *testing.T) {
	t.Setenv(RequireAllEnv, "")
	r := &recordingTB{}
	if requireBinaries(r, "", "/usr/bin/prometheus-alertmanager") {
		t.Fatal("requireBinaries reported ok with prometheus missing")
	}
	if r.fatal != "" || !strings.Contains(r.skipped, "prometheus prometheus-alertmanager") {
		t.Errorf("without %s: skipped=%q fatal=%q, want a skip naming the Debian packages", RequireAllEnv, r.skipped, r.fatal)
	}

	t.Setenv(RequireAllEnv, "1")
	r = &recordingTB{}
	if requireBinaries(r, "/usr/bin/prometheus", "") {
		t.Fatal("requireBinaries reported ok with alertmanager missing")
	}
	if r.skipped != "" || !strings.Contains(r.fatal, "alertmanager") {
		t.Errorf("with %s=1: skipped=%q fatal=%q, want a failure", RequireAllEnv, r.skipped, r.fatal)
	}

	r = &recordingTB{}
	if !requireBinaries(r, "/a", "/b") || r.skipped != "" || r.fatal != "" {
		t.Errorf("both present: skipped=%q fatal=%q", r.skipped, r.fatal)
	}

	if got := findBinary([]string{"/nonexistent/promstack-x", "promstack-no-such-binary"}); got != "" {
		t.Errorf("findBinary found %q for nonexistent candidates", got)
	}
}
