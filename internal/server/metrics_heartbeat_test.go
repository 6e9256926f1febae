package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// /metrics counts heartbeats by state, read from the database; pings are
// counted by route like every request, without their key.
func TestHeartbeatMetrics(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		key, _, err := app.Svc.CreateHeartbeat(ctx, service.System, service.NewHeartbeat{Name: "a", Period: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := app.Svc.CreateHeartbeat(ctx, service.System, service.NewHeartbeat{Name: "b", Period: "1d"}); err != nil {
			t.Fatal(err)
		}
		app.Must(t, 200, "GET", "/api/v1/ping/"+key, "", nil)
		app.Must(t, 404, "GET", "/api/v1/ping/"+key+"/nonsense", "", nil)
		app.Must(t, 404, "POST", "/api/v1/ping/"+key+"x/fail", "", nil)
		app.Clock.Advance(2 * time.Hour)
		if _, err := app.Svc.CheckHeartbeats(ctx); err != nil {
			t.Fatal(err)
		}
		app.User(t, "ana", auth.RoleResponder)
		m := string(app.Must(t, 200, "GET", "/metrics", app.Token(t, "ana", auth.ScopeRead), nil).Body)
		for _, want := range []string{`quench_heartbeats{state="down"} 1`, `quench_heartbeats{state="up"} 1`,
			`quench_http_requests_total{code="200",method="GET",route="GET /api/v1/ping/{key}"} 1`} {
			if !strings.Contains(m, want+"\n") {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(m, key) {
			t.Error("metrics show a ping key")
		}
		if log := app.Log.Text(); strings.Contains(log, key) || !strings.Contains(log, "/api/v1/ping/{key}") {
			t.Errorf("the log shows a ping key, or no ping at all:\n%s", log)
		}
	})
}
