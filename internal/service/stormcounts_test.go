package service_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// A storm's counts on three replicas: new firing alerts joining the
// incident at once from every replica (on PostgreSQL added to slot rows,
// none waiting for the incident's row) leave its counts equal to what its
// alerts say; and when the last firing alert resolves while new ones
// join, at once, the "alerts resolved — mitigated?" hint ends as the
// alerts say, whichever commits first: the resolve (which updates the
// incident's row) must see every firing alert a slot holds. Several
// rounds, since the order of the commits is up to the machine.
func TestStormCountsOnSlotsAcrossReplicas(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		replicas := []*service.Service{app.Svc, secondReplica(t, app), secondReplica(t, app)}
		_, in, err := app.Svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		now := app.Clock.Now()
		delivery := func(status alert.Status, names ...string) []alert.Alert {
			var alerts []alert.Alert
			for _, n := range names {
				labels := map[string]string{"alertname": "Down", "instance": n, "severity": "critical"}
				a := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: status, Labels: labels, StartsAt: now, GroupKey: "Down"}
				if status == alert.Resolved {
					a.EndsAt = now
				}
				alert.Normalize(&a)
				alerts = append(alerts, a)
			}
			return alerts
		}
		names := func(prefix string, n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("%s-%d", prefix, i)
			}
			return out
		}
		all := func(step string, deliveries [][]alert.Alert) {
			t.Helper()
			start := make(chan struct{})
			errs := make(chan error, len(deliveries))
			var wg sync.WaitGroup
			for i, d := range deliveries {
				wg.Go(func() {
					<-start
					if _, err := replicas[i%len(replicas)].Ingest(ctx, in.ID, "", d); err != nil {
						errs <- fmt.Errorf("%s: delivery %d: %w", step, i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		}
		// check compares incident #1's counts and hint with its alerts
		// and returns how many of them fire.
		check := func(step string) int64 {
			t.Helper()
			list, err := app.Svc.IncidentAlerts(ctx, service.System, 1)
			if err != nil {
				t.Fatal(err)
			}
			var firing int64
			for _, a := range list {
				if a.Status == alert.Firing {
					firing++
				}
			}
			if _, err := app.Svc.Incident(ctx, service.System, 2); err == nil {
				t.Fatalf("%s: a second incident was opened", step)
			}
			for i, svc := range replicas {
				sum, err := svc.IncidentAlertSummary(ctx, service.System, 1)
				if err != nil {
					t.Fatal(err)
				}
				if sum.Attached != int64(len(list)) || sum.Firing != firing {
					t.Fatalf("%s: replica %d counts %+v, the alerts say %d attached, %d firing", step, i+1, sum, len(list), firing)
				}
			}
			inc, err := app.Svc.Incident(ctx, service.System, 1)
			if err != nil {
				t.Fatal(err)
			}
			if hint := firing == 0 && inc.Phase == incident.Active; inc.AlertsResolved != hint {
				t.Fatalf("%s: hint %v with %d of %d alerts firing", step, inc.AlertsResolved, firing, len(list))
			}
			return firing
		}

		// The storm: 30 deliveries of 5 new alerts at once, after the one
		// that opens the incident.
		all("opening", [][]alert.Alert{delivery(alert.Firing, "first")})
		var storm [][]alert.Alert
		for i := range 30 {
			storm = append(storm, delivery(alert.Firing, names(fmt.Sprintf("storm-%d", i), 5)...))
		}
		all("storm", storm)
		if firing := check("storm"); firing != 151 {
			t.Fatalf("storm: %d firing, want 151", firing)
		}
		if app.Store.Dialect() == store.Postgres {
			db, err := sql.Open("pgx", app.StoreOptions.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var slots int
			err = db.QueryRowContext(ctx, `SELECT count(*) FROM incident_alert_counts WHERE incident_number = 1`).Scan(&slots)
			if err != nil || slots == 0 {
				t.Fatalf("the storm's counts used %d slots (%v), want some", slots, err)
			}
		}

		// Everything resolves at once, but one alert: the hint stays off.
		keep := "storm-0-0"
		var resolve [][]alert.Alert
		resolve = append(resolve, delivery(alert.Resolved, "first"))
		for i := range 30 {
			var left []string
			for _, n := range names(fmt.Sprintf("storm-%d", i), 5) {
				if n != keep {
					left = append(left, n)
				}
			}
			resolve = append(resolve, delivery(alert.Resolved, left...))
		}
		all("resolve", resolve)
		if firing := check("resolve all but one"); firing != 1 {
			t.Fatalf("%d firing, want 1", firing)
		}

		// Rounds: the last firing alert resolves while new ones join.
		for round := range 8 {
			step := fmt.Sprintf("round %d", round)
			race := [][]alert.Alert{delivery(alert.Resolved, keep)}
			var fresh []string
			for i := range 5 {
				n := fmt.Sprintf("round-%d-%d", round, i)
				fresh = append(fresh, n)
				race = append(race, delivery(alert.Firing, n))
			}
			all(step, race)
			if firing := check(step); firing != 5 {
				t.Fatalf("%s: %d firing, want 5", step, firing)
			}
			// All resolve now, but one: the next round's last one.
			keep = fresh[0]
			all(step+": resolve", [][]alert.Alert{delivery(alert.Resolved, fresh[1:]...)})
			check(step + ": resolved")
		}
		// And the last one: the hint comes on.
		all("last", [][]alert.Alert{delivery(alert.Resolved, keep)})
		if firing := check("last resolved"); firing != 0 {
			t.Fatalf("%d firing, want 0", firing)
		}
	})
}
