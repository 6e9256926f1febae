package web_test

import (
	"fmt"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestTriageInBrowser drives inbox triage in headless Chromium: two
// Alertmanager groups, a bulk dismissal of one, an acknowledgement, a
// snooze, and the board's count.
func TestTriageInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	app.User(t, "ana", auth.RoleResponder)
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "alertmanager", "name": "prom"})
	hook := "/api/v1/intake/alertmanager/" + in.JSON["id"].(string)
	for _, g := range []struct {
		name string
		n    int
	}{{"DiskFull", 3}, {"QueueSlow", 2}} {
		var alerts []map[string]any
		for i := range g.n {
			labels := map[string]string{"alertname": g.name, "instance": fmt.Sprintf("host-%d", i), "severity": "warning"}
			alerts = append(alerts, map[string]any{"status": "firing", "labels": labels, "annotations": map[string]string{"description": g.name + " on host"},
				"startsAt": "2026-11-24T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": alert.Fingerprint(labels)})
		}
		app.Must(t, 200, "POST", hook, in.JSON["token"].(string), map[string]any{"version": "4", "status": "firing", "receiver": "quench",
			"groupKey": fmt.Sprintf(`{}:{alertname=%q}`, g.name), "alerts": alerts})
	}
	testenv.RunBrowserTests(t, app.URL, map[string]any{"ana": map[string]string{"user": "ana", "password": "password-ana"}}, "triage.test.mjs")
}
