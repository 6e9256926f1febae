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
// since the cut-off, newest change first, with the filters applied;
// viewers' newest change is the newest they may see.
func TestBoardIncidents(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		at := func(d time.Duration) time.Time { return t0.Add(d) }
		// event appends an event to incident n's timeline.
		event := func(n int64, d time.Duration, internal bool) {
			err := s.Write(t.Context(), func(tx *store.Tx) error {
				return tx.AppendEvent(t.Context(), &incident.Event{Incident: n, At: at(d), Actor: "ana", Kind: incident.EventChanged, Internal: internal})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// mk makes an incident last changed at updated, a change viewers see.
		mk := func(ph incident.Phase, closed, updated time.Duration, vis incident.Visibility, svc string) int64 {
			n := newIncident(t, s, func(inc *incident.Incident) {
				inc.Phase, inc.Visibility, inc.Services, inc.UpdatedAt = ph, vis, []string{svc}, at(updated)
				if ph == incident.Closed {
					inc.EnteredAt[incident.Closed] = at(closed)
				}
			}).Number
			event(n, updated, false)
			return n
		}
		oldClosed := mk(incident.Closed, -40*24*time.Hour, -40*24*time.Hour, incident.Public, "db")
		recentClosed := mk(incident.Closed, -2*24*time.Hour, -time.Hour, incident.Public, "db")
		active := mk(incident.Active, 0, -3*time.Hour, incident.Public, "web")
		confidential := mk(incident.Mitigated, 0, -2*time.Hour, incident.Confidential, "db")
		// Closed long ago, changed since: still off the board.
		touched := mk(incident.Closed, -50*24*time.Hour, -time.Minute, incident.Public, "db")
		// An internal change since: the newest change for the team, not
		// for viewers.
		event(active, 0, true)
		err := s.Write(t.Context(), func(tx *store.Tx) error {
			inc, err := tx.Incident(t.Context(), active)
			if err != nil {
				return err
			}
			inc.UpdatedAt = at(0)
			return tx.SaveIncident(t.Context(), inc, inc.Phase, false)
		})
		if err != nil {
			t.Fatal(err)
		}
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
			{"all", store.IncidentFilter{}, []int64{active, recentClosed, confidential}},
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
