package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/quenchhq/quench/internal/bench"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/status"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkStatusPage serves the status page with 1,000 published
// incidents of the last 90 days (and 1,000 unpublished ones) and 50
// components, server time only (handler called directly):
//
//   - computed: a change (not timed) dropped the page before each
//     request: read from the database, computed, rendered; this happens
//     once per change, every other request gets the page it left;
//   - cached: a 200 from the page as computed and rendered for the
//     previous request;
//   - 304: a conditional request with the current ETag.
//
// Figures: docs/benchmarks.md.
func BenchmarkStatusPage(b *testing.B) {
	app := testenv.StartApp(b, store.SQLite)
	ctx := context.Background()
	if err := bench.StatusWorld(ctx, app.Store, app.Clock.Now(), 50, 1000); err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"/status", "/status.json", "/status.atom"} {
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
		b.Run(path[1:]+"/computed", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				// A change (not timed) drops the page: the request reads,
				// computes and renders it again.
				b.StopTimer()
				if _, err := app.Svc.SaveStatusSettings(ctx, service.System, status.Settings{Name: fmt.Sprint("Status ", i)}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				serve(b, "", http.StatusOK)
			}
		})
		b.Run(path[1:]+"/cached", func(b *testing.B) {
			rec := serve(b, "", http.StatusOK)
			b.SetBytes(int64(rec.Body.Len()))
			for b.Loop() {
				serve(b, "", http.StatusOK)
			}
		})
		b.Run(path[1:]+"/304", func(b *testing.B) {
			etag := serve(b, "", http.StatusOK).Header().Get("ETag")
			for b.Loop() {
				serve(b, etag, http.StatusNotModified)
			}
		})
	}
}
