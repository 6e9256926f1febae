// Package e2e runs Quench against real detectors: Debian's Prometheus and
// Alertmanager, started as processes on loopback ports.
package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
	"github.com/quenchhq/quench/internal/testenv/promstack"
)

// A rule that fires at once opens an incident; a rule that fires and then
// resolves lands in the inbox and is marked resolved; Alertmanager's
// re-sends duplicate nothing.
func TestRealAlertmanager(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			runAlertmanager(t, d)
		})
	}
}

func runAlertmanager(t *testing.T, d store.Dialect) {
	app := testenv.StartApp(t, d)
	tok := app.User(t, "ana", auth.RoleResponder)
	itok, in, err := app.Svc.CreateIntegration(context.Background(), service.System, service.NewIntegration{Type: "alertmanager", Name: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	stack := promstack.Start(t, promstack.Options{
		WebhookURL:   service.IntakeURL(app.URL, in),
		BearerToken:  itok,
		ResolveAfter: 12 * time.Second,
	})

	type alertRow struct {
		Status   string            `json:"status"`
		Labels   map[string]string `json:"labels"`
		Incident int64             `json:"incident"`
		Received int64             `json:"received"`
	}
	list := func() []alertRow {
		r := app.Must(t, 200, "GET", "/api/v1/alerts", tok, nil)
		var out []alertRow
		for _, a := range r.JSON["alerts"].([]any) {
			m := a.(map[string]any)
			row := alertRow{Status: m["status"].(string), Labels: map[string]string{}, Received: int64(m["received"].(float64))}
			for k, v := range m["labels"].(map[string]any) {
				row.Labels[k] = v.(string)
			}
			if n, ok := m["incident"].(float64); ok {
				row.Incident = int64(n)
			}
			out = append(out, row)
		}
		return out
	}
	find := func(rows []alertRow, name string) []alertRow {
		var out []alertRow
		for _, r := range rows {
			if r.Labels["alertname"] == name {
				out = append(out, r)
			}
		}
		return out
	}
	waitFor := func(what string, limit time.Duration, ok func([]alertRow) bool) []alertRow {
		deadline := time.Now().Add(limit)
		for {
			rows := list()
			if ok(rows) {
				return rows
			}
			if time.Now().After(deadline) {
				al, _ := stack.Alerts(context.Background())
				t.Fatalf("%s: not within %s; Quench has %+v; Alertmanager has %+v", what, limit, rows, al)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	rows := waitFor("DemoServiceDown opens an incident", 30*time.Second, func(rows []alertRow) bool {
		down := find(rows, "DemoServiceDown")
		return len(down) == 1 && down[0].Incident != 0
	})
	inc := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d", find(rows, "DemoServiceDown")[0].Incident), tok, nil).JSON
	if inc["title"] != "Demo service is down" || inc["severity"] != "critical" || inc["phase"] != "active" {
		t.Fatalf("incident: %v", inc)
	}
	// The rule's runbook_url became a runbook link of the incident, an
	// internal one, once however often Alertmanager re-sends the alert.
	links := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%v/links", inc["number"]), tok, nil).JSON["links"].([]any)
	if len(links) != 1 {
		t.Fatalf("links: %v", links)
	}
	if l := links[0].(map[string]any); l["kind"] != "runbook" || l["url"] != "https://runbooks.example.com/demo-service-down" || l["visibility"] != "internal" {
		t.Fatalf("runbook link: %v", l)
	}

	rows = waitFor("DemoWarmup resolves", 60*time.Second, func(rows []alertRow) bool {
		warm := find(rows, "DemoWarmup")
		return len(warm) == 1 && warm[0].Status == "resolved"
	})
	if warm := find(rows, "DemoWarmup")[0]; warm.Incident != 0 {
		t.Fatalf("a warning opened incident #%d", warm.Incident)
	}
	if down := find(rows, "DemoServiceDown"); len(down) != 1 || down[0].Status != "firing" {
		t.Fatalf("DemoServiceDown rows: %+v", down)
	}
	if len(rows) != 2 {
		t.Fatalf("want exactly 2 alert rows, got %+v", rows)
	}
	if n := app.Must(t, 200, "GET", "/api/v1/incidents", tok, nil).JSON["total"]; n != 1.0 {
		t.Fatalf("%v incidents, want 1", n)
	}
	t.Logf("DemoServiceDown delivered %d times, DemoWarmup %d times; one incident, two alert rows",
		find(rows, "DemoServiceDown")[0].Received, find(rows, "DemoWarmup")[0].Received)
}
