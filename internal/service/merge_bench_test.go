package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/intake/alertmanager"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkMerge merges an incident holding a storm's alerts (and a few
// links and checklist items) into another: one transaction that moves
// every child. Each iteration starts from a fresh database; only the
// merge is timed.
//
//	go test ./internal/service -run '^$' -bench BenchmarkMerge -benchtime 3x
func BenchmarkMerge(b *testing.B) {
	const alerts = 10000
	for _, d := range testenv.Dialects(b) {
		b.Run(fmt.Sprintf("%s/alerts=%d", d, alerts), func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				b.StopTimer()
				st := testenv.NewStore(b, d)
				svc := service.New(st, service.Options{Now: func() time.Time { return time.Date(2026, 11, 30, 10, 1, 0, 0, time.UTC) }})
				_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
				if err != nil {
					b.Fatal(err)
				}
				for first := 0; first < alerts; first += 1000 {
					as, err := alertmanager.Parse(stormBody(first, 1000))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := svc.Ingest(ctx, in.ID, "", as); err != nil {
						b.Fatal(err)
					}
				}
				for i := range 5 {
					if _, err := svc.AddLink(ctx, service.System, 1, service.NewLink{Kind: incident.LinkDashboard, URL: fmt.Sprint("https://d.example/", i)}); err != nil {
						b.Fatal(err)
					}
					if _, err := svc.AddChecklistItem(ctx, service.System, 1, service.NewChecklistItem{Text: fmt.Sprint("item ", i)}); err != nil {
						b.Fatal(err)
					}
				}
				target, err := svc.OpenIncident(ctx, service.System, incident.Draft{Title: "backend outage"})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := svc.MergeIncident(ctx, service.System, 1, target.Number, "opened twice")
				b.StopTimer()
				if err != nil || res.Moved.Alerts != alerts {
					b.Fatalf("merge: %+v %v", res, err)
				}
				st.Close()
			}
			b.ReportMetric(float64(alerts)*float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
