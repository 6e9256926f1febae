package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// Deliveries posted at once to three replicas (on PostgreSQL three
// services with their own connections, sharing group transactions within
// each): first sightings of one new group open exactly one incident
// however many replicas see them at the same moment, and the counts
// intake keeps (firing alerts in the inbox, kept in slots on PostgreSQL;
// attached and firing alerts per incident, added up per group
// transaction) equal what the alerts say, through new alerts, re-sends
// and resolves of stored ones, all concurrent.
func TestConcurrentIntakeOnReplicas(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		replicas := []*service.Service{app.Svc, secondReplica(t, app), secondReplica(t, app)}
		_, in, err := app.Svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		now := app.Clock.Now()
		delivery := func(group, severity string, status alert.Status, names ...string) []alert.Alert {
			return groupAlerts(group, severity, status, now, names...)
		}
		names := func(prefix string, n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("%s-%d", prefix, i)
			}
			return out
		}
		// all posts the deliveries at once, spread over the replicas.
		all := func(step string, deliveries [][]alert.Alert) {
			t.Helper()
			start := make(chan struct{})
			errs := make(chan error, len(deliveries))
			var wg sync.WaitGroup
			for i, d := range deliveries {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if _, err := replicas[i%len(replicas)].Ingest(ctx, in.ID, "", d); err != nil {
						errs <- fmt.Errorf("%s: delivery %d: %w", step, i, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		}
		check := func(step string) {
			t.Helper()
			list, err := app.Svc.Alerts(ctx, service.System, service.AlertQuery{Dismissed: service.AnyDismissed, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			inbox, want := recount(list)
			for i, svc := range replicas {
				if got, err := svc.InboxWaiting(ctx, service.System); err != nil || got != inbox {
					t.Errorf("%s: replica %d counts %d firing alerts in the inbox (%v), the alerts say %d", step, i+1, got, err, inbox)
				}
			}
			if len(want) != 1 {
				t.Fatalf("%s: alerts of one group in incidents %v, want one incident", step, want)
			}
			if _, err := app.Svc.Incident(ctx, service.System, 2); err == nil {
				t.Fatalf("%s: a second incident was opened", step)
			}
			inc, err := app.Svc.Incident(ctx, service.System, 1)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := app.Svc.IncidentAlertSummary(ctx, service.System, 1)
			if err != nil {
				t.Fatal(err)
			}
			if w := want[1]; sum.Attached != w.Attached || sum.Firing != w.Firing {
				t.Errorf("%s: #1 counts %+v, the alerts say %+v", step, sum, w)
			}
			hint := want[1].Attached > 0 && want[1].Firing == 0 && inc.Phase == incident.Active
			if inc.AlertsResolved != hint {
				t.Errorf("%s: #1 hint %v, want %v", step, inc.AlertsResolved, hint)
			}
		}

		// First sightings: a third of the deliveries are new alerts of
		// one new critical group (the default rule opens an incident for
		// it), the others new warnings for the inbox.
		var first [][]alert.Alert
		for i := range 24 {
			if i%3 == 0 {
				first = append(first, delivery("Down", "critical", alert.Firing, names(fmt.Sprintf("down-%d", i), 5)...))
				continue
			}
			first = append(first, delivery(fmt.Sprintf("Slow%d", i), "warning", alert.Firing, names(fmt.Sprintf("slow-%d", i), 5)...))
		}
		all("first sightings", first)
		check("first sightings")

		// Then at once: resolves of stored warnings and of stored
		// alerts of the incident, re-sends of stored warnings, and new
		// alerts of both kinds.
		var second [][]alert.Alert
		for i := range 24 {
			switch i % 4 {
			case 0:
				second = append(second, delivery("Down", "critical", alert.Resolved, names(fmt.Sprintf("down-%d", i/4*3), 5)...))
			case 1:
				second = append(second, delivery(fmt.Sprintf("Slow%d", i), "warning", alert.Resolved, names(fmt.Sprintf("slow-%d", i), 5)...))
			case 2:
				second = append(second, delivery(fmt.Sprintf("Slow%d", i), "warning", alert.Firing, names(fmt.Sprintf("slow-%d", i), 5)...))
			default:
				second = append(second, delivery("Down", "critical", alert.Firing, names(fmt.Sprintf("down-new-%d", i), 5)...),
					delivery(fmt.Sprintf("Fresh%d", i), "warning", alert.Firing, names(fmt.Sprintf("fresh-%d", i), 5)...))
			}
		}
		all("resolves, re-sends and new alerts", second)
		check("resolves, re-sends and new alerts")
	})
}
