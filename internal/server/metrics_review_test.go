package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// The review's metrics, read from the database at scrape time: stuck
// incidents, detection sources and phase-duration histograms, on both
// databases.
func TestReviewMetrics(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		move := func(n int, to string) {
			app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/transitions", n), tok, map[string]any{"to": to, "note": "n"})
		}
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "a", "severity": "critical", "detection_source": "alert"})
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "b", "severity": "major", "detection_source": "customer"})
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "c", "severity": "minor", "detection_source": "team"})
		app.Clock.Advance(10 * time.Minute)
		move(1, "mitigated") // active for 10 min
		app.Clock.Advance(110 * time.Minute)
		move(1, "resolved") // mitigated for 1 h 50 min
		app.Clock.Advance(60 * time.Minute)
		move(2, "mitigated") // active for 3 h
		app.Clock.Advance(8 * 24 * time.Hour)

		m := string(app.Must(t, 200, "GET", "/metrics", tok, nil).Body)
		for _, want := range []string{
			// #3 active for 8 days (over 1 d), #2 mitigated for 8 days
			// (over 7 d); #1 resolved for 8 days is under 14 d.
			`quench_incidents_stuck{phase="active"} 1`,
			`quench_incidents_stuck{phase="mitigated"} 1`,
			`quench_incidents_stuck{phase="resolved"} 0`,
			`quench_incidents_by_detection_source{source="alert"} 1`,
			`quench_incidents_by_detection_source{source="customer"} 1`,
			`quench_incidents_by_detection_source{source="exception"} 0`,
			`quench_incident_phase_duration_seconds_bucket{phase="active",severity="critical",le="300"} 0`,
			`quench_incident_phase_duration_seconds_bucket{phase="active",severity="critical",le="900"} 1`,
			`quench_incident_phase_duration_seconds_sum{phase="active",severity="critical"} 600`,
			`quench_incident_phase_duration_seconds_bucket{phase="active",severity="major",le="7200"} 0`,
			`quench_incident_phase_duration_seconds_bucket{phase="active",severity="major",le="14400"} 1`,
			`quench_incident_phase_duration_seconds_count{phase="active",severity="major"} 1`,
			`quench_incident_phase_duration_seconds_count{phase="active",severity="minor"} 0`,
			`quench_incident_phase_duration_seconds_bucket{phase="mitigated",severity="critical",le="3600"} 0`,
			`quench_incident_phase_duration_seconds_bucket{phase="mitigated",severity="critical",le="7200"} 1`,
			`quench_incident_phase_duration_seconds_sum{phase="mitigated",severity="critical"} 6600`,
			`quench_incident_phase_duration_seconds_count{phase="resolved",severity="critical"} 0`,
		} {
			if !strings.Contains(m, want+"\n") {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}
