package service_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkIngest measures the durable intake path below HTTP: 10-alert
// deliveries of new alerts from parallel senders into SQLite
// (synchronous=FULL). Figures are in docs/benchmarks.md.
func BenchmarkIngest(b *testing.B) {
	for _, batch := range []int{1, 10} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			st := testenv.NewStore(b, store.SQLite)
			svc := service.New(st, service.Options{})
			_, in, err := svc.CreateIntegration(context.Background(), service.System, service.NewIntegration{Type: "alertmanager", Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					alerts := make([]alert.Alert, batch)
					for i := range alerts {
						labels := map[string]string{"alertname": "Bench", "severity": "warning", "n": fmt.Sprint(n), "i": fmt.Sprint(i)}
						alerts[i] = alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: alert.Firing, Labels: labels,
							Annotations: map[string]string{"summary": "bench"}, StartsAt: time.Now().UTC(), GroupKey: fmt.Sprint(n), Title: "bench"}
					}
					if _, err := svc.Ingest(context.Background(), in.ID, "", alerts); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkIngestResend measures what Alertmanager sends most once alerts
// fire: the same 10-alert groups again, nothing changed, from parallel
// senders, with the groups in the inbox (warning) or each on an incident
// of its own (critical), on every database the tests have. On
// PostgreSQL such a delivery reads its alerts to change them holding
// their incidents and then the alerts (store.Tx.AlertsToChange).
func BenchmarkIngestResend(b *testing.B) {
	const groups, batch = 64, 10
	for _, d := range testenv.Dialects(b) {
		for _, severity := range []string{"warning", "critical"} {
			b.Run(fmt.Sprintf("%s/%s", d, severity), func(b *testing.B) {
				st := testenv.NewStore(b, d)
				svc := service.New(st, service.Options{})
				ctx := context.Background()
				_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				group := func(g int) []alert.Alert {
					alerts := make([]alert.Alert, batch)
					for i := range alerts {
						labels := map[string]string{"alertname": "Bench", "severity": severity, "g": fmt.Sprint(g), "i": fmt.Sprint(i)}
						alerts[i] = alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: alert.Firing, Labels: labels,
							Annotations: map[string]string{"summary": "bench"}, StartsAt: time.Unix(1700000000, 0).UTC(), GroupKey: fmt.Sprint(g), Title: "bench"}
					}
					return alerts
				}
				for g := range groups {
					if _, err := svc.Ingest(ctx, in.ID, "", group(g)); err != nil {
						b.Fatal(err)
					}
				}
				before := st.Work().Statements
				var seq atomic.Int64
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := svc.Ingest(ctx, in.ID, "", group(int(seq.Add(1)%groups))); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(st.Work().Statements-before)/float64(b.N), "statements/op")
			})
		}
	}
}
