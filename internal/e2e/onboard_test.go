package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
	"github.com/quenchhq/quench/internal/testenv/promstack"
)

// The receiver `quench onboard` prints works in a real Alertmanager: its
// URL and token bring a firing critical alert of the service into Quench,
// where it opens an incident.
func TestOnboardedReceiverInRealAlertmanager(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "ana", auth.RoleAdmin, auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin)
	r := app.Must(t, 201, "POST", "/api/v1/onboarding", admin, map[string]any{"service": "demo"})
	receiver := r.JSON["receiver"].(string)
	url := r.JSON["integration"].(map[string]any)["url"].(string)
	promstack.Start(t, promstack.Options{WebhookURL: url, Receiver: receiver})

	// DemoServiceDown (service=demo, severity=critical) fires at once.
	deadline := time.Now().Add(60 * time.Second)
	for {
		page, err := app.Svc.Incidents(context.Background(), service.System, service.IncidentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Incidents) > 0 {
			alerts := app.Must(t, 200, "GET", "/api/v1/alerts", admin, nil)
			for _, a := range alerts.JSON["alerts"].([]any) {
				m := a.(map[string]any)
				if m["labels"].(map[string]any)["alertname"] == "DemoServiceDown" && m["incident"] != nil {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no incident from DemoServiceDown through the onboarded receiver within 60 s")
		}
		time.Sleep(500 * time.Millisecond)
	}
}
