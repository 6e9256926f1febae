package server_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// /metrics counts intake by integration type: alerts stored by status,
// refusals by error code, the time to answer, and the firing alerts
// waiting in the inbox, read from the counts intake keeps.
func TestIntakeMetrics(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		tok, in, err := app.Svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		url := strings.TrimPrefix(service.IntakeURL(app.URL, in), app.URL)
		body, err := os.ReadFile("../intake/alertmanager/testdata/firing-group-partially-resolved.json")
		if err != nil {
			t.Fatal(err)
		}
		// Two warnings firing and one resolved, all to the inbox.
		app.Must(t, 200, "POST", url, tok, string(body))
		app.Must(t, 400, "POST", url, tok, `{"version":"3","alerts":[]}`)
		app.Must(t, 401, "POST", url, "qnch_int_wrong", string(body))
		app.Must(t, 404, "POST", "/api/v1/intake/grafana/nope", tok, `{}`)
		app.User(t, "ana", auth.RoleResponder)
		m := string(app.Must(t, 200, "GET", "/metrics", app.Token(t, "ana", auth.ScopeRead), nil).Body)
		for _, want := range []string{
			`quench_intake_alerts_total{status="firing",type="alertmanager"} 2`,
			`quench_intake_alerts_total{status="resolved",type="alertmanager"} 1`,
			`quench_intake_refused_total{code="invalid_payload",type="alertmanager"} 1`,
			`quench_intake_refused_total{code="unauthenticated",type="alertmanager"} 1`,
			`quench_intake_refused_total{code="not_found",type="grafana"} 1`,
			`quench_intake_duration_seconds_count{type="alertmanager"} 3`,
			`quench_inbox_alerts 2`,
		} {
			if !strings.Contains(m, want+"\n") {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}
