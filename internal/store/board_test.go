package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestBoardIncidents: the board holds every open incident and those closed
// since the cut-off, newest change first, with the filters applied.
func TestBoardIncidents(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		at := func(d time.Duration) time.Time { return t0.Add(d) }
		mk := func(ph incident.Phase, closed, updated time.Duration, vis incident.Visibility, svc string) int64 {
			return newIncident(t, s, func(inc *incident.Incident) {
				inc.Phase, inc.Visibility, inc.Services, inc.UpdatedAt = ph, vis, []string{svc}, at(updated)
				if ph == incident.Closed {
					inc.EnteredAt[incident.Closed] = at(closed)
				}
			}).Number
		}
		oldClosed := mk(incident.Closed, -40*24*time.Hour, -40*24*time.Hour, incident.Public, "db")
		recentClosed := mk(incident.Closed, -2*24*time.Hour, -time.Hour, incident.Public, "db")
		active := mk(incident.Active, 0, -3*time.Hour, incident.Public, "web")
		confidential := mk(incident.Mitigated, 0, -2*time.Hour, incident.Confidential, "db")
		// Closed long ago, changed since: still off the board.
		touched := mk(incident.Closed, -50*24*time.Hour, -time.Minute, incident.Public, "db")
		cut := t0.Add(-30 * 24 * time.Hour)
		numbers := func(f store.IncidentFilter) []int64 {
			list := read(t, s, func(tx *store.Tx) ([]*incident.Incident, error) { return tx.BoardIncidents(t.Context(), f, cut) })
			var out []int64
			for _, inc := range list {
				out = append(out, inc.Number)
			}
			return out
		}
		for _, c := range []struct {
			name string
			f    store.IncidentFilter
			want []int64
		}{
			{"all", store.IncidentFilter{}, []int64{recentClosed, confidential, active}},
			{"viewer", store.IncidentFilter{PublicOnly: true}, []int64{recentClosed, active}},
			{"service", store.IncidentFilter{Service: "db"}, []int64{recentClosed, confidential}},
			{"closed only", store.IncidentFilter{Phases: []incident.Phase{incident.Closed}}, []int64{recentClosed}},
			{"active only", store.IncidentFilter{Phases: []incident.Phase{incident.Active}}, []int64{active}},
		} {
			if got := numbers(c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s: board holds %v, want %v (old closed #%d, touched #%d)", c.name, got, c.want, oldClosed, touched)
			}
		}
	})
}
