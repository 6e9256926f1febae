package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// adder is deferred work of the test: it adds n to the counter "sum".
type adder struct {
	n       int64
	flushes *atomic.Int64
}

func (a *adder) Merge(later store.Deferred) { a.n += later.(*adder).n }

func (a *adder) Flush(ctx context.Context, tx *store.Tx) error {
	a.flushes.Add(1)
	return tx.Exec(ctx, `UPDATE counters SET value = value + $1 WHERE name = 'sum'`, a.n)
}

// Work deferred to the commit of a group transaction (Tx.Defer) is done
// once per transaction for all its jobs, and a job that fails takes its
// deferred work with it, whoever shared its transaction: the sum holds
// exactly what the jobs that returned nil added. Where nothing is
// deferred (SQLite), the job does the work itself, with the same sum.
func TestWriteGroupedDeferredFailsAlone(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.Write(ctx, func(tx *store.Tx) error {
			return tx.Exec(ctx, `INSERT INTO counters (name, value) VALUES ('sum', 0)`)
		}); err != nil {
			t.Fatal(err)
		}
		errBad := errors.New("bad request")
		var flushes atomic.Int64
		var wg sync.WaitGroup
		results := make([]error, 200)
		for i := range results {
			wg.Go(func() {
				results[i] = s.WriteGrouped(ctx, func(tx *store.Tx) error {
					if err := tx.Exec(ctx, `INSERT INTO counters (name, value) VALUES ($1, $2)`, fmt.Sprintf("w%d", i), i); err != nil {
						return err
					}
					a := &adder{n: int64(i), flushes: &flushes}
					if !tx.Defer("test.sum", a) {
						if err := a.Flush(ctx, tx); err != nil {
							return err
						}
					}
					if i%3 == 0 {
						return errBad
					}
					return nil
				})
			})
		}
		wg.Wait()
		want, committed := int64(0), int64(0)
		for i, err := range results {
			if bad := i%3 == 0; (err != nil) != bad || (bad && !errors.Is(err, errBad)) {
				t.Errorf("write %d: %v", i, err)
			}
			if err == nil {
				want += int64(i)
				committed++
			}
		}
		var names []string
		if err := s.Read(ctx, func(tx *store.Tx) (err error) {
			names, err = tx.Names(ctx, `SELECT CAST(value AS TEXT) FROM counters WHERE name = 'sum'`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(names) != fmt.Sprintf("[%d]", want) {
			t.Errorf("sum %v, the jobs that committed added %d", names, want)
		}
		t.Logf("%d jobs committed, %d flushes (those of rolled-back transactions included)", committed, flushes.Load())
	})
}
