package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/bench"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkStatusPage serves the status page with 1,000 published
// incidents of the last 90 days (and 1,000 unpublished ones) and 50
// components, server time only (handler called directly):
//
//   - changed: a change to one published incident (not timed) came before
//     each request, which reads that incident again, computes the page and
//     renders it; this happens once per change, every other request gets
//     the page it left;
//   - full: the day turned before each request, which reads every
//     incident of the window (as at start, and every 5 s in the
//     background);
//   - cached: a 200 from the page as computed and rendered for the
//     previous request;
//   - 304: a conditional request with the current ETag.
//
// Besides the time per request, each reports the CPU time per request
// (cpu-ns/op, every thread of the process): the machine is shared, and
// that figure leaves out the waits for a core. Figures: docs/benchmarks.md.
func BenchmarkStatusPage(b *testing.B) {
	app := testenv.StartApp(b, store.SQLite)
	ctx := context.Background()
	start := app.Clock.Now()
	if err := bench.StatusWorld(ctx, app.Store, app.Clock.Now(), 50, 1000); err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"/status", "/status.json", "/status.atom"} {
		if path != "/status" {
			// Back to the first day: every format sees the same page.
			app.Clock.Advance(app.Clock.Now().Sub(start) * -1)
		}
		serve := func(b *testing.B, etag string, want int) *httptest.ResponseRecorder {
			req := httptest.NewRequest("GET", path, nil)
			if etag != "" {
				req.Header.Set("If-None-Match", etag)
			}
			rec := httptest.NewRecorder()
			app.Handler.ServeHTTP(rec, req)
			if rec.Code != want {
				b.Fatalf("%s: status %d, want %d", path, rec.Code, want)
			}
			return rec
		}
		// after runs before each request, not timed.
		computed := func(after func(i int)) func(b *testing.B) {
			return func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					after(i)
					b.StartTimer()
					cpu.start()
					serve(b, "", http.StatusOK)
					cpu.stop()
				}
				cpu.report(b)
			}
		}
		// A change to one published incident: the request reads that
		// incident again, computes the page and renders it.
		b.Run(path[1:]+"/changed", computed(func(i int) {
			title := fmt.Sprint("Messages are delayed, take ", i)
			if _, err := app.Svc.UpdateIncident(ctx, service.System, 1, incident.Patch{StatusTitle: &title}); err != nil {
				b.Fatal(err)
			}
		}))
		// The next day, or back to the one before: the window moved, so
		// the request reads every incident of it again.
		b.Run(path[1:]+"/full", computed(func(i int) { app.Clock.Advance(time.Duration(1-2*(i%2)) * 24 * time.Hour) }))
		b.Run(path[1:]+"/cached", func(b *testing.B) {
			rec := serve(b, "", http.StatusOK)
			b.SetBytes(int64(rec.Body.Len()))
			cpu.start()
			for b.Loop() {
				serve(b, "", http.StatusOK)
			}
			cpu.stop()
			cpu.report(b)
		})
		b.Run(path[1:]+"/304", func(b *testing.B) {
			etag := serve(b, "", http.StatusOK).Header().Get("ETag")
			cpu.start()
			for b.Loop() {
				serve(b, etag, http.StatusNotModified)
			}
			cpu.stop()
			cpu.report(b)
		})
	}
}

// cpuClock adds up the CPU time the process spends (user and system, all
// threads) between start and stop: on a machine other work shares, it is
// the figure that does not count the waiting for a core.
type cpuClock struct {
	total, begun time.Duration
}

var cpu cpuClock

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) start() { c.begun = processCPU() }
func (c *cpuClock) stop()  { c.total += processCPU() - c.begun }

// report adds the CPU time per operation to b's results and starts over.
func (c *cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
	c.total = 0
}
