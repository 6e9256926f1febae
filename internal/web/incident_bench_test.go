package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkIncidentPage renders one busy incident (50 updates, 10
// checklist items, 5 links, ~70 timeline events) with 10,000 incidents in
// the database, server time only. Figures: docs/benchmarks.md.
func BenchmarkIncidentPage(b *testing.B) {
	app := testenv.StartApp(b, store.SQLite)
	tok := app.User(b, "ana", auth.RoleResponder)
	fillIncidents(b, app, 10000)
	ctx := context.Background()
	p := mustPrincipal(b, app, tok)
	const n = 9990 // open, near the end
	for i := 0; i < 50; i++ {
		vis := "internal"
		if i%3 == 0 {
			vis = "public"
		}
		body := fmt.Sprintf("Update %d: the **consumer** restarted; see [dashboard](https://grafana.example/d/q) and #%d.\n\n- drained\n- watched", i, n-1)
		if _, err := app.Svc.PostUpdate(ctx, p, n, body, incidentVisibility(vis)); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 7; i++ {
		if _, err := app.Svc.AddChecklistItem(ctx, p, n, service.NewChecklistItem{Text: fmt.Sprint("item ", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if _, err := app.Svc.AddLink(ctx, p, n, service.NewLink{URL: fmt.Sprintf("https://gitlab.example/mr/%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for _, who := range []struct{ name, token string }{{"team", tok}, {"viewer", ""}} {
		b.Run(who.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", fmt.Sprintf("/incidents/%d", n), nil)
			if who.token != "" {
				req.Header.Set("Authorization", "Bearer "+who.token)
			}
			for b.Loop() {
				rec := httptest.NewRecorder()
				app.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
