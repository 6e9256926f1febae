package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Sizes of the review benchmarks' history: ten years of a busy team.
const (
	benchIncidents = 100_000
	benchEvents    = 10 // per incident: 1,000,000 in all
	benchOpen      = 200
)

// fillHistory writes ten years of incidents straight into the store, one
// every 53 minutes: the last benchOpen still open (a third each active,
// mitigated and resolved), the rest closed, each with benchEvents timeline
// events (its transitions among them), one alert each (half of them part
// of no incident, 50 alert names), and three checklist items per open
// incident.
func fillHistory(b testing.TB, st *store.Store, now time.Time) {
	ctx := context.Background()
	step := 10 * 365 * 24 * time.Hour / benchIncidents
	in := &alert.Integration{ID: "bench", Type: "generic", Name: "bench", CreatedBy: "ana", CreatedAt: now.Add(-11 * 365 * 24 * time.Hour)}
	if err := st.Write(ctx, func(tx *store.Tx) error { return tx.InsertIntegration(ctx, in) }); err != nil {
		b.Fatal(err)
	}
	testenv.Seed(b, st, benchIncidents, func(i int) *incident.Incident {
		created := now.Add(-time.Duration(benchIncidents-i) * step)
		inc := &incident.Incident{Title: fmt.Sprintf("Incident %d: queue backlog on umb-messenger", i),
			Severity: incident.Severities[i%3], Services: []string{fmt.Sprintf("svc-%d", i%40)}, Labels: map[string]string{"team": "ci"},
			DetectionSource: incident.Sources[i%5], Visibility: incident.Public, Phase: incident.Closed,
			Owners:    map[incident.Phase]string{incident.Active: "ana"},
			EnteredAt: map[incident.Phase]time.Time{}, Notes: map[incident.Phase]string{}, CreatedBy: "ana", CreatedAt: created}
		if i%10 == 0 {
			inc.Visibility = incident.Confidential
		}
		open := i >= benchIncidents-benchOpen
		if open {
			inc.Phase = incident.OwnedPhases[i%3]
		}
		if inc.DetectionSource.NeedsDetectionImprovement() && !open {
			inc.DetectionImprovement = "probe it"
		}
		for k, p := range incident.Phases {
			inc.UpdatedAt = created.Add(time.Duration(k*(i%17+1)) * 37 * time.Minute)
			inc.EnteredAt[p] = inc.UpdatedAt
			if p != incident.Active {
				inc.Notes[p] = "did the work for " + string(p)
			}
			if p == inc.Phase {
				break
			}
		}
		return inc
	}, func(tx *store.Tx, i int, inc *incident.Incident) error {
		events := []*incident.Event{{Kind: incident.EventCreated, At: inc.CreatedAt, Data: map[string]any{"title": inc.Title}}}
		prev := incident.Active
		for _, p := range incident.Phases[1:] {
			t, ok := inc.EnteredAt[p]
			if !ok {
				break
			}
			events = append(events, &incident.Event{Kind: incident.EventTransitioned, At: t,
				Data: map[string]any{"from": prev, "to": p, "note": inc.Notes[p]}})
			prev = p
		}
		for len(events) < benchEvents {
			events = append(events, &incident.Event{Kind: incident.EventLinkAdded, At: inc.CreatedAt.Add(time.Duration(len(events)) * time.Minute),
				Data: map[string]any{"kind": "dashboard", "url": "https://grafana.example.com/d/umb"}})
		}
		for _, e := range events {
			e.Incident, e.Actor = inc.Number, "ana"
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		if inc.Phase != incident.Closed {
			for k := 0; k < 3; k++ {
				it := &incident.ChecklistItem{Incident: inc.Number, Text: "send missing messages", Phase: inc.Phase,
					Owner: []string{"", "ana"}[k%2], CreatedBy: "ana", CreatedAt: inc.CreatedAt}
				if err := tx.InsertChecklistItem(ctx, it); err != nil {
					return err
				}
			}
		}
		r := &alert.Record{Alert: alert.Alert{Fingerprint: fmt.Sprintf("fp-%d", i), Status: alert.Firing, Title: "Queue backlog",
			Labels: map[string]string{"alertname": fmt.Sprintf("Alert%02d", i%50), "host": fmt.Sprint("h", i)}, StartsAt: inc.CreatedAt},
			IntegrationID: in.ID, FirstSeen: inc.CreatedAt.Add(-time.Minute), LastSeen: inc.CreatedAt, Received: 1}
		if i%2 == 0 {
			r.Incident = inc.Number
		}
		return tx.InsertAlert(ctx, r)
	})
}

// discard is a ResponseWriter that keeps nothing, so a benchmark measures
// the server's memory, not a recorder's copy of the answer.
type discard struct {
	h      http.Header
	status int
	n      int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.status = code }
func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// peakHeap samples the live heap every 200 µs while fn runs and returns
// the highest sample. runtime/metrics reads without stopping the world.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			peak = max(peak, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak
}

// BenchmarkReview measures the weekly review's agenda, the insights and
// full exports of the incident log over 100,000 incidents and 1,000,000
// timeline events, server time only (the handler called directly, the
// team's token). Figures: docs/benchmarks.md.
//
//	go test -run NONE -bench Review -benchtime 20x -timeout 60m ./internal/web/
func BenchmarkReview(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			app := testenv.StartApp(b, d)
			tok := app.User(b, "ana", auth.RoleResponder)
			fillHistory(b, app.Store, app.Clock.Now())
			app.Clock.Advance(time.Minute)
			get := func(b *testing.B, path string) *discard {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				w := &discard{h: http.Header{}, status: 200}
				app.Handler.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("GET %s: %d", path, w.status)
				}
				return w
			}
			for _, c := range []struct{ name, path string }{
				{"agenda", "/api/v1/review"},
				{"agenda-page", "/review"},
				{"insights", "/api/v1/insights"},
				{"insights-page", "/insights"},
				{"insights-ten-years", "/api/v1/insights?since=2016-01-01"},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						get(b, c.path)
					}
				})
			}
			for _, f := range []string{"md", "csv", "json"} {
				b.Run("export-"+f, func(b *testing.B) {
					var peak uint64
					var n int64
					for b.Loop() {
						peak = max(peak, peakHeap(func() { n = get(b, "/api/v1/log?format="+f).n }))
					}
					b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
					b.ReportMetric(float64(n)/(1<<20), "MiB-sent")
				})
			}
		})
	}
}
