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
// channel into SQLite (synchronous=FULL). It reports the statements and
// the WAL pages each opened incident costs beside the time: "parallel"
// from 8 senders per core, whose deliveries share commits (and pages),
// "alone" one after the other, a commit each, as at 1,000 alerts/s when
// the writer keeps up.
func BenchmarkIngestOpens(b *testing.B) {
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8)
		benchOpens(b, func(open func(n int64)) {
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					open(seq.Add(1))
				}
			})
		})
	})
	b.Run("alone", func(b *testing.B) {
		benchOpens(b, func(open func(n int64)) {
			for n := range int64(b.N) {
				open(n)
			}
		})
	})
}

// benchOpens sets up the store, channel and integration, and has run
// open an incident from a new alert b.N times.
func benchOpens(b *testing.B, run func(open func(n int64))) {
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
	before, cpu := st.Work(), processCPU()
	b.ResetTimer()
	run(func(n int64) {
		labels := map[string]string{"alertname": "Bench", "severity": "critical", "n": fmt.Sprint(n)}
		a := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: alert.Firing, Labels: labels,
			Annotations: map[string]string{"summary": "bench"}, StartsAt: time.Now().UTC(), GroupKey: fmt.Sprint(n), Title: "bench"}
		res, err := svc.Ingest(ctx, in.ID, "", []alert.Alert{a})
		if err != nil || len(res.Opened) != 1 {
			b.Errorf("ingest: %v, %+v", err, res)
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

// Opening an incident from an alert, with a webhook channel that wants
// incident.opened, asks a fixed, small number of statements of the
// writer, counted, not timed: on SQLite 9 (the integration, the group's
// open incident, the alert's key, the incident number, the incident, its
// created event, the outbox message, the alert, the alert's event). Rules,
// snoozes, checklist templates and status settings come from memory; the
// incident is stored counting its first alert (on main before this test:
// 14). PostgreSQL, which reads those four tables (and the channels) in
// every transaction: 16 since its group transactions (15 before; the
// integration and the group's open incident are now read twice for a
// lone delivery). The incident's counts and its message are checked too.
func TestOpeningAnIncidentFromAnAlertStatements(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc := service.New(st, service.Options{Guard: testenv.LoopbackGuard()})
		p := func(s string) *string { return &s }
		if _, _, err := svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: p("webhook"), Name: p("ops"),
			URL: p("http://127.0.0.1:9/hook"), Audience: p("team"), Events: &[]string{"incident.opened"}}); err != nil {
			t.Fatal(err)
		}
		_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[store.Dialect]int64{store.SQLite: 9, store.Postgres: 16}[st.Dialect()]
		for n := range 5 {
			labels := map[string]string{"alertname": "Down", "severity": "critical", "n": fmt.Sprint(n)}
			a := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: alert.Firing, Labels: labels,
				StartsAt: time.Now().UTC(), GroupKey: fmt.Sprint(n), Title: "down", Truncated: n}
			before := st.Work().Statements
			res, err := svc.Ingest(ctx, in.ID, "", []alert.Alert{a})
			if err != nil || len(res.Opened) != 1 {
				t.Fatalf("ingest %d: %v, %+v", n, err, res)
			}
			// The first delivery reads the cached tables.
			if got := st.Work().Statements - before; n > 0 && got > want {
				t.Errorf("opening incident #%d took %d statements, want at most %d", res.Opened[0], got, want)
			}
			sum, err := svc.IncidentAlertSummary(ctx, service.System, res.Opened[0])
			if err != nil || sum.Attached != 1 || sum.Firing != 1 || sum.Truncated != int64(n) {
				t.Fatalf("incident #%d alerts %+v (%v), want 1 attached and firing, %d truncated", res.Opened[0], sum, err, n)
			}
			ds, err := svc.Deliveries(ctx, service.System, service.DeliveryQuery{Incident: res.Opened[0]})
			if err != nil || len(ds) != 1 || ds[0].Event != "incident.opened" {
				t.Fatalf("incident #%d messages %v (%v)", res.Opened[0], ds, err)
			}
		}
	})
}
