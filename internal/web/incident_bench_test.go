package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkIncidentPage renders one busy incident (200 updates, 50
// checklist items, 5 links, 500 alerts, ~760 timeline events) with 100,000
// incidents in the database, server time only. Figures: docs/benchmarks.md.
func BenchmarkIncidentPage(b *testing.B) {
	app := testenv.StartApp(b, store.SQLite)
	tok := app.User(b, "ana", auth.RoleResponder)
	fillIncidents(b, app, pageIncidents)
	ctx := context.Background()
	p := mustPrincipal(b, app, tok)
	const n = pageIncidents - 10 // open, near the end
	for i := 0; i < 200; i++ {
		vis := "internal"
		if i%3 == 0 {
			vis = "public"
		}
		body := fmt.Sprintf("Update %d: the **consumer** restarted; see [dashboard](https://grafana.example/d/q) and #%d.\n\n- drained\n- watched", i, n-1)
		if _, err := app.Svc.PostUpdate(ctx, p, n, body, incidentVisibility(vis)); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 47; i++ { // and the three every incident has
		if _, err := app.Svc.AddChecklistItem(ctx, p, n, service.NewChecklistItem{Text: fmt.Sprint("item ", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if _, err := app.Svc.AddLink(ctx, p, n, service.NewLink{URL: fmt.Sprintf("https://gitlab.example/mr/%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	in := &alert.Integration{ID: "bench", Type: "generic", Name: "bench", CreatedBy: "ana", CreatedAt: app.Clock.Now()}
	err := app.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertIntegration(ctx, in); err != nil {
			return err
		}
		for i := 0; i < 500; i++ {
			at := app.Clock.Now().Add(-time.Duration(500-i) * time.Minute)
			r := &alert.Record{Alert: alert.Alert{Fingerprint: fmt.Sprintf("fp-%d", i), Status: alert.Firing, Title: "Queue backlog",
				Labels: map[string]string{"alertname": "QueueBacklog", "pod": fmt.Sprint("consumer-", i)}, StartsAt: at},
				IntegrationID: in.ID, FirstSeen: at, LastSeen: at, Received: 1, Incident: n}
			if err := tx.InsertAlert(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	benchPage(b, app, fmt.Sprintf("/incidents/%d", n), tok)
}
