package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// fillIncidents writes n incidents straight into the store: most closed
// long ago, some closed this month, and about 60 still open, with a few
// checklist items each — a team's history after some years.
func fillIncidents(b testing.TB, app *testenv.App, n int) {
	ctx := context.Background()
	now := app.Clock.Now()
	testenv.Seed(b, app.Store, n, func(i int) *incident.Incident {
		created := now.Add(-time.Duration(n-i) * 3 * time.Hour)
		inc := &incident.Incident{Title: fmt.Sprintf("Incident %d: queue backlog on umb-messenger", i),
			Severity: incident.Severities[i%3], Services: []string{fmt.Sprintf("svc-%d", i%40)},
			Labels: map[string]string{"team": "ci"}, DetectionSource: incident.SourceAlert, Visibility: incident.Public,
			Phase: incident.Closed, EnteredAt: map[incident.Phase]time.Time{}, Notes: map[incident.Phase]string{},
			CreatedBy: "ana", CreatedAt: created}
		switch {
		case i >= n-20:
			inc.Phase = incident.Active
		case i >= n-40:
			inc.Phase = incident.Mitigated
		case i >= n-60:
			inc.Phase = incident.Resolved
		}
		for _, p := range incident.Phases {
			inc.EnteredAt[p] = created.Add(time.Duration(slices.Index(incident.Phases, p)) * time.Hour)
			if p != incident.Active {
				inc.Notes[p] = "did the work for " + string(p)
			}
			inc.UpdatedAt = inc.EnteredAt[p] // each phase change changes it
			if p == inc.Phase {
				break
			}
		}
		return inc
	}, func(tx *store.Tx, _ int, inc *incident.Incident) error {
		for k := 0; k < 3; k++ {
			it := &incident.ChecklistItem{Incident: inc.Number, Text: "item", Phase: incident.Mitigated, Done: k == 0, CreatedBy: "ana", CreatedAt: inc.CreatedAt}
			if err := tx.InsertChecklistItem(ctx, it); err != nil {
				return err
			}
		}
		return nil
	})
}

// pageIncidents is how many incidents the page benchmarks hold: a busy
// team's decade.
const pageIncidents = 100000

// BenchmarkBoard renders the board with 100,000 incidents in the database
// (60 open), server time only (handler called directly). Figures:
// docs/benchmarks.md.
func BenchmarkBoard(b *testing.B) {
	app := testenv.StartApp(b, store.SQLite)
	tok := app.User(b, "ana", auth.RoleResponder)
	fillIncidents(b, app, pageIncidents)
	benchPage(b, app, "/", tok)
}

// benchPage serves target to the team (tok) and to an anonymous viewer.
func benchPage(b *testing.B, app *testenv.App, target, tok string) {
	for _, who := range []struct{ name, token string }{{"team", tok}, {"viewer", ""}} {
		b.Run(who.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", target, nil)
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

// BenchmarkIncidentLog renders the incident log's first page and a
// filtered page (a service, a severity, a period) with 100,000 incidents,
// server time only. Figures: docs/benchmarks.md.
func BenchmarkIncidentLog(b *testing.B) {
	app := testenv.StartApp(b, store.SQLite)
	tok := app.User(b, "ana", auth.RoleResponder)
	fillIncidents(b, app, pageIncidents)
	b.Run("first", func(b *testing.B) { benchPage(b, app, "/incidents", tok) })
	from := app.Clock.Now().AddDate(-2, 0, 0).Format("2006-01-02")
	b.Run("filtered", func(b *testing.B) { benchPage(b, app, "/incidents?service=svc-7&severity=major&from="+from, tok) })
}
