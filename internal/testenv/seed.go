package testenv

import (
	"context"
	"testing"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
)

// Seed writes n incidents straight into st, a thousand per transaction,
// for tests and benchmarks that need a long history fast: build returns
// the i-th incident (Seed numbers it), and then, if not nil, adds what
// belongs to it in the same transaction (events, checklist items, alerts).
// Owners and creators must be existing users.
func Seed(tb testing.TB, st *store.Store, n int, build func(i int) *incident.Incident, then func(tx *store.Tx, i int, inc *incident.Incident) error) {
	tb.Helper()
	ctx := context.Background()
	for first := 0; first < n; first += 1000 {
		err := st.Write(ctx, func(tx *store.Tx) error {
			for i := first; i < min(first+1000, n); i++ {
				inc := build(i)
				num, err := tx.NextIncidentNumber(ctx)
				if err != nil {
					return err
				}
				inc.Number = num
				if err := tx.InsertIncident(ctx, inc); err != nil {
					return err
				}
				if then != nil {
					if err := then(tx, i, inc); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}
