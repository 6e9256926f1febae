package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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

// Deliveries of new alerts sharing a group transaction learn exactly what
// their own INSERT would have told them: each new fingerprint is stored
// once, for the first job that sent it, a fingerprint stored already is
// not stored again (ID 0), a job that fails leaves nothing, and a job
// whose alert names an integration that does not exist fails alone
// (SQLSTATE 23503 on PostgreSQL), whoever shared its transaction. On
// PostgreSQL the jobs' new alerts are written by one statement per
// transaction, not one per job.
func TestWriteGroupedNewAlerts(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		old := insertAlert(t, s, newRecord("a1", "fp-old", 0))
		// Deliveries that all succeed: on PostgreSQL a group transaction
		// writes their new alerts with one statement.
		const clean = 100
		before := s.Work().Statements
		var wg sync.WaitGroup
		for i := range clean {
			wg.Go(func() {
				must(t, s.WriteGrouped(ctx, func(tx *store.Tx) error {
					_, err := tx.InsertNewAlerts(ctx, []store.AlertRow{{Record: newRecord("a1", fmt.Sprintf("fp-clean-%d", i), 0)}})
					return err
				}))
			})
		}
		wg.Wait()
		statements := s.Work().Statements - before
		if s.Dialect() == store.Postgres && statements >= clean/2 {
			t.Errorf("%d statements for %d deliveries: their new alerts were not written together", statements, clean)
		}
		t.Logf("%d statements for %d deliveries", statements, clean)

		errBad := errors.New("bad request")
		const jobs = 120
		rows := make([][]store.AlertRow, jobs)
		stored := make([]int, jobs)
		results := make([]error, jobs)
		for i := range jobs {
			in := "a1"
			if i%29 == 5 {
				in = "no-such-integration"
			}
			for _, fp := range []string{fmt.Sprintf("fp-%d", i), fmt.Sprintf("fp-shared-%d", i%10), "fp-old"} {
				rows[i] = append(rows[i], store.AlertRow{Record: newRecord(in, fp, time.Second)})
			}
			wg.Go(func() {
				results[i] = s.WriteGrouped(ctx, func(tx *store.Tx) (err error) {
					stored[i], err = tx.InsertNewAlerts(ctx, rows[i])
					if err == nil && i%7 == 3 {
						err = errBad
					}
					return err
				})
			})
		}
		wg.Wait()

		got := map[string]int64{}
		if err := s.Read(ctx, func(tx *store.Tx) error {
			list, err := tx.Alerts(ctx, store.AlertFilter{Limit: 2000})
			for _, r := range list {
				got[r.Fingerprint] = r.ID
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		sharedBy := map[string]int{}
		for i, err := range results {
			switch {
			case i%29 == 5:
				if err == nil || s.Dialect() == store.Postgres && !isPgCode(err, "23503") {
					t.Errorf("job %d with an unknown integration: %v", i, err)
				}
			case i%7 == 3:
				if !errors.Is(err, errBad) {
					t.Errorf("job %d: %v", i, err)
				}
			case err != nil:
				t.Errorf("job %d: %v", i, err)
			}
			own := rows[i][0]
			if err != nil {
				if got[own.Fingerprint] != 0 {
					t.Errorf("job %d failed, its alert %s is stored", i, own.Fingerprint)
				}
				continue
			}
			if own.ID == 0 || got[own.Fingerprint] != own.ID {
				t.Errorf("job %d: its new alert has id %d, stored %d", i, own.ID, got[own.Fingerprint])
			}
			if rows[i][2].ID != 0 {
				t.Errorf("job %d: the alert stored already got id %d", i, rows[i][2].ID)
			}
			n := 1
			if shared := rows[i][1]; shared.ID != 0 {
				n++
				sharedBy[shared.Fingerprint]++
				if got[shared.Fingerprint] != shared.ID {
					t.Errorf("job %d: %s has id %d, stored %d", i, shared.Fingerprint, shared.ID, got[shared.Fingerprint])
				}
			}
			if stored[i] != n {
				t.Errorf("job %d: stored %d, want %d", i, stored[i], n)
			}
		}
		for k := range 10 {
			fp := fmt.Sprintf("fp-shared-%d", k)
			if sharedBy[fp] != 1 || got[fp] == 0 {
				t.Errorf("%s: stored for %d jobs (id %d), want one", fp, sharedBy[fp], got[fp])
			}
		}
		if got["fp-old"] != old.ID {
			t.Errorf("fp-old is now %d, was %d", got["fp-old"], old.ID)
		}
	})
}

func isPgCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// A client that leaves while its write runs alone (no other write to
// share a group transaction with) never makes the write fail as a server
// fault: database/sql rolling the transaction back under a statement
// whose rows were being read made it fail as "sql: Rows are closed", a
// 500. The write either commits whole or reports that its context ended.
func TestWriteGroupedClientLeaves(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		err := s.WriteGrouped(ctx, func(tx *store.Tx) error {
			if err := tx.Exec(ctx, `INSERT INTO counters (name, value) VALUES ('left', 1)`); err != nil {
				return err
			}
			return tx.EachRow(ctx, `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n`, func(i int) {
				if i == 1 {
					cancel()
					// Time for database/sql to act on the end of the
					// context, between reading a row and scanning it.
					time.Sleep(100 * time.Millisecond)
				}
			})
		})
		var n int
		must(t, s.Read(context.Background(), func(tx *store.Tx) error {
			return tx.QueryCount(context.Background(), `SELECT count(*) FROM counters WHERE name = 'left'`, &n)
		}))
		switch {
		case err == nil && n == 1:
		case errors.Is(err, context.Canceled) && n == 0:
		default:
			t.Errorf("the write whose client left: %v, %d rows committed; want nil and 1, or context.Canceled and 0", err, n)
		}
	})
}
