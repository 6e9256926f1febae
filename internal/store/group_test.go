package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Grouped writes from many goroutines: each that returns nil is committed,
// each that fails leaves nothing behind, whoever shared its transaction;
// one whose client left before it ran says truly whether it committed.
func TestWriteGroupedFailsAlone(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now()
		errBad := errors.New("bad request")
		var wg sync.WaitGroup
		results := make([]error, 200)
		for i := range results {
			wg.Go(func() {
				results[i] = s.WriteGrouped(ctx, func(tx *store.Tx) error {
					if _, err := tx.ClaimLease(ctx, fmt.Sprintf("job-%d", i), "writer", now, now.Add(time.Hour)); err != nil {
						return err
					}
					if i%3 == 0 {
						return errBad
					}
					return nil
				})
			})
		}
		wg.Wait()
		gone, cctx := context.WithCancel(ctx)
		cctx()
		goneErr := s.WriteGrouped(gone, func(tx *store.Tx) error {
			_, err := tx.ClaimLease(ctx, "job-gone", "writer", now, now.Add(time.Hour))
			return err
		})
		for i, err := range results {
			if want := i%3 == 0; (err != nil) != want || (want && !errors.Is(err, errBad)) {
				t.Errorf("write %d: %v", i, err)
			}
		}
		for i := range len(results) + 1 {
			name := fmt.Sprintf("job-%d", i)
			if i == len(results) {
				name = "job-gone"
			}
			var free bool
			if err := s.Write(ctx, func(tx *store.Tx) (err error) {
				free, err = tx.ClaimLease(ctx, name, "checker", now, now.Add(time.Hour))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			want := i%3 != 0
			if i == len(results) {
				want = goneErr == nil
			}
			if committed := !free; committed != want {
				t.Errorf("%s committed: %v", name, committed)
			}
		}
	})
}
