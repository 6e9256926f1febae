package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
	"github.com/quenchhq/quench/internal/testenv/promstack"
)

// A real Alertmanager, configured as the snippet Quench prints says
// (max_alerts: alert.MaxBatch), notifies Quench of one group of 1,500
// critical alerts, about 1.5 MB in one request: all 1,500 are stored and
// join one incident, and nothing is refused (a 4xx would be lost:
// Alertmanager does not retry it).
func TestRealAlertmanagerBigGroup(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			runBigGroup(t, d)
		})
	}
}

func runBigGroup(t *testing.T, d store.Dialect) {
	const size = 1500
	app := testenv.StartApp(t, d)
	tok := app.User(t, "ana", auth.RoleResponder)
	itok, in, err := app.Svc.CreateIntegration(context.Background(), service.System, service.NewIntegration{Type: "alertmanager", Name: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	if snippet := service.Snippet(app.URL, in, itok); !strings.Contains(snippet, fmt.Sprintf("max_alerts: %d", alert.MaxBatch)) {
		t.Fatalf("the snippet does not set max_alerts:\n%s", snippet)
	}
	stack := promstack.Start(t, promstack.Options{
		WebhookURL:  service.IntakeURL(app.URL, in),
		BearerToken: itok,
		MaxAlerts:   alert.MaxBatch,
		Rules:       "groups: []\n",
	})
	now := time.Now().UTC()
	var group []promstack.PostableAlert
	for i := range size {
		instance := fmt.Sprintf("node-%04d:9100", i)
		group = append(group, promstack.PostableAlert{
			Labels: map[string]string{"alertname": "NodeDown", "service": "fleet", "severity": "critical", "instance": instance},
			Annotations: map[string]string{"summary": instance + " is down",
				"description": instance + " has not answered a scrape for 5 minutes. " + strings.Repeat("Check its power, its network and its kernel log. ", 12)},
			StartsAt: now, EndsAt: now.Add(time.Hour), GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=up%3D%3D0",
		})
	}
	if err := stack.PostAlerts(context.Background(), group); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		r := app.Request(t, "GET", "/api/v1/incidents/1/alerts", tok, nil)
		if r.Status == 200 && r.JSON["attached"] == float64(size) {
			if r.JSON["firing"] != float64(size) || r.JSON["truncated_alerts"] != 0.0 || len(r.JSON["alerts"].([]any)) != size {
				t.Fatalf("incident #1: attached %v, firing %v, truncated %v, %d listed", r.JSON["attached"], r.JSON["firing"],
					r.JSON["truncated_alerts"], len(r.JSON["alerts"].([]any)))
			}
			break
		}
		if time.Now().After(deadline) {
			al, _ := stack.Alerts(context.Background())
			t.Fatalf("the group did not arrive within 60 s: %d %.300s; Alertmanager holds %d alerts", r.Status, r.Body, len(al))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := app.Must(t, 200, "GET", "/api/v1/incidents", tok, nil).JSON["total"]; n != 1.0 {
		t.Fatalf("%v incidents, want 1", n)
	}
	m := string(app.Must(t, 200, "GET", "/metrics", app.Token(t, "ana", auth.ScopeRead), nil).Body)
	if strings.Contains(m, "quench_intake_refused_total{") {
		t.Fatalf("a delivery was refused:\n%s", grep(m, "quench_intake_refused_total"))
	}
	if !strings.Contains(m, fmt.Sprintf(`quench_intake_alerts_total{status="firing",type="alertmanager"} %d`, size)) {
		t.Fatalf("alerts counted:\n%s", grep(m, "quench_intake_alerts_total"))
	}
	// Alertmanager agrees: it logged no failed notification.
	log, err := os.ReadFile(filepath.Join(stack.Dir, "alertmanager.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), "Notify for alerts failed") || strings.Contains(string(log), "Notify attempt failed") {
		t.Fatalf("Alertmanager logged a failed notification:\n%s", grep(string(log), "Notify"))
	}
}

func grep(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
