package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Writes racing Close either run and report their outcome, or are refused
// as shutting down without having run: none waits forever, and none that
// returned nil is missing from the database afterwards.
func TestWriteRacesClose(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			opt := testenv.StoreOptions(t, d)
			rounds, writers := 60, 48
			if d == store.Postgres {
				rounds = 15 // each round opens a pool of real connections
			}
			committed := map[string]bool{}
			for round := range rounds {
				s, err := store.Open(ctx, opt)
				if err != nil {
					t.Fatal(err)
				}
				if round == 0 {
					if _, err := s.Migrate(ctx); err != nil {
						t.Fatal(err)
					}
				}
				start := make(chan struct{})
				errs := make([]error, writers)
				ran := make([]atomic.Bool, writers)
				var wg sync.WaitGroup
				for i := range writers {
					wg.Go(func() {
						<-start
						errs[i] = s.Write(ctx, func(tx *store.Tx) error {
							ran[i].Store(true)
							return tx.Exec(ctx, `INSERT INTO counters (name, value) VALUES ($1, $2)`, fmt.Sprintf("w%d-%d", round, i), i)
						})
					})
				}
				wg.Go(func() {
					<-start
					if err := s.Close(); err != nil {
						t.Error(err)
					}
				})
				close(start)
				wg.Wait()
				for i, err := range errs {
					name := fmt.Sprintf("w%d-%d", round, i)
					switch {
					case err == nil:
						committed[name] = true
					case !isShuttingDown(err):
						t.Fatalf("round %d: write %d: %v", round, i, err)
					case ran[i].Load():
						t.Fatalf("round %d: write %d ran, then was told the server is shutting down", round, i)
					}
				}
				if err := s.Write(ctx, func(tx *store.Tx) error { return nil }); !isShuttingDown(err) {
					t.Fatalf("write after close: %v", err)
				}
			}
			s, err := store.Open(ctx, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			stored := map[string]bool{}
			must(t, s.Read(ctx, func(tx *store.Tx) error {
				rows, err := tx.Names(ctx, `SELECT name FROM counters WHERE name LIKE 'w%'`)
				for _, n := range rows {
					stored[n] = true
				}
				return err
			}))
			for name := range committed {
				if !stored[name] {
					t.Errorf("write %s returned nil but is not in the database", name)
				}
			}
			for name := range stored {
				if !committed[name] {
					t.Errorf("write %s was refused but is in the database", name)
				}
			}
			t.Logf("%d of %d writes committed", len(committed), rounds*writers)
		})
	}
}

// isShuttingDown reports the refusal of a write that did not run: a 503,
// so clients retry against another replica or after the restart.
func isShuttingDown(err error) bool {
	p, ok := problem.As(err)
	return errors.Is(err, store.ErrShuttingDown) && ok && p.Kind == problem.Unavailable
}
