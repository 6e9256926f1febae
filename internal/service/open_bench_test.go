package service_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkIngestOpens measures what `quench bench notify` asks of the
// writer: one critical alert per delivery, each its own group, so each
// opens an incident and queues an incident.opened message for a webhook
// channel, from parallel senders into SQLite (synchronous=FULL). It
// reports the statements each opened incident costs beside the time.
func BenchmarkIngestOpens(b *testing.B) {
	st := testenv.NewStore(b, store.SQLite)
	ctx := context.Background()
	svc := service.New(st, service.Options{Guard: testenv.LoopbackGuard()})
	p := func(s string) *string { return &s }
	if _, _, err := svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: p("webhook"), Name: p("bench"),
		URL: p("http://127.0.0.1:9/hook"), Audience: p("team"), Events: &[]string{"incident.opened"}}); err != nil {
		b.Fatal(err)
	}
	_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	st.TrackReads()
	var seq atomic.Int64
	before, cpu := st.Work(), processCPU()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			labels := map[string]string{"alertname": "Bench", "severity": "critical", "n": fmt.Sprint(n)}
			a := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: alert.Firing, Labels: labels,
				Annotations: map[string]string{"summary": "bench"}, StartsAt: time.Now().UTC(), GroupKey: fmt.Sprint(n), Title: "bench"}
			res, err := svc.Ingest(ctx, in.ID, "", []alert.Alert{a})
			if err != nil || len(res.Opened) != 1 {
				b.Errorf("ingest: %v, %+v", err, res)
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	after := st.Work()
	b.ReportMetric(float64(after.Statements-before.Statements)/float64(b.N), "statements/op")
	b.ReportMetric(float64(after.Written-before.Written)/float64(b.N), "pages-written/op")
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
