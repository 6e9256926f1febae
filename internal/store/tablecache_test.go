package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// The small tables the SQLite writer reads for every alert (rules,
// snoozes, checklist templates, status page settings) are read from the
// database once and then from memory, by statements counted, not timed;
// every change is seen by the next write once committed, by the write
// that made it at once, and a rolled-back change is never seen. On
// PostgreSQL every read is a statement, the same test otherwise.
func TestTableCaches(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	n := 0
	tables := []struct {
		name string
		// count reads the table as intake does and counts what it holds.
		count func(ctx context.Context, tx *store.Tx) (int, error)
		// add adds one row (or setting).
		add func(ctx context.Context, tx *store.Tx) error
	}{
		{"rules", func(ctx context.Context, tx *store.Tx) (int, error) {
			l, err := tx.Rules(ctx)
			return len(l), err
		}, func(ctx context.Context, tx *store.Tx) error {
			n++
			return tx.InsertRule(ctx, &alert.Rule{Position: 100 + n, Name: fmt.Sprintf("r%d", n), Action: alert.ActionInbox, CreatedAt: now,
				Matchers: []alert.Matcher{{Name: "team", Op: alert.MatchEqual, Value: "x"}}})
		}},
		{"snoozes", func(ctx context.Context, tx *store.Tx) (int, error) {
			l, err := tx.Snoozes(ctx, now)
			return len(l), err
		}, func(ctx context.Context, tx *store.Tx) error {
			return tx.InsertSnooze(ctx, &alert.Snooze{Matchers: []alert.Matcher{{Name: "team", Op: alert.MatchEqual, Value: "x"}},
				Reason: "deploy", CreatedBy: "ana", CreatedAt: now, EndsAt: now.Add(time.Hour)})
		}},
		{"templates", func(ctx context.Context, tx *store.Tx) (int, error) {
			l, err := tx.Templates(ctx)
			return len(l), err
		}, func(ctx context.Context, tx *store.Tx) error {
			n++
			return tx.InsertTemplate(ctx, &incident.Template{Name: fmt.Sprintf("t%d", n), CreatedBy: "ana", CreatedAt: now,
				Items: []incident.TemplateItem{{Text: "document recovery", Phase: incident.Resolved}}})
		}},
		{"status settings", func(ctx context.Context, tx *store.Tx) (int, error) {
			m, _, err := tx.StatusSettings(ctx)
			return len(m), err
		}, func(ctx context.Context, tx *store.Tx) error {
			n++
			return tx.SetStatusSetting(ctx, fmt.Sprintf("test_%d", n), "on", now)
		}},
	}
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, tb := range tables {
			t.Run(tb.name, func(t *testing.T) {
				// read counts the table in a write of its own, and the
				// statements that took.
				read := func() (int, int64) {
					t.Helper()
					before := s.Work().Statements
					var got int
					if err := s.Write(ctx, func(tx *store.Tx) (err error) { got, err = tb.count(ctx, tx); return err }); err != nil {
						t.Fatal(err)
					}
					return got, s.Work().Statements - before
				}
				first, _ := read()
				again, stmts := read()
				if again != first {
					t.Fatalf("read %d, then %d", first, again)
				}
				wantStmts := int64(0)
				if s.Dialect() == store.Postgres {
					wantStmts = 1
				}
				if stmts != wantStmts {
					t.Fatalf("a second read took %d statements, want %d", stmts, wantStmts)
				}
				mustWrite(t, s, func(tx *store.Tx) error { return tb.add(ctx, tx) })
				if got, _ := read(); got != first+1 {
					t.Fatalf("after a committed add: %d, want %d", got, first+1)
				}
				err := s.Write(ctx, func(tx *store.Tx) error {
					if err := tb.add(ctx, tx); err != nil {
						return err
					}
					if got, err := tb.count(ctx, tx); err != nil || got != first+2 {
						return fmt.Errorf("the write does not see its own add: %d, %v", got, err)
					}
					return errors.New("roll back")
				})
				if err == nil || err.Error() != "roll back" {
					t.Fatal(err)
				}
				if got, _ := read(); got != first+1 {
					t.Fatalf("after a rolled-back add: %d, want %d", got, first+1)
				}
				// And cached again.
				if _, stmts := read(); stmts != wantStmts {
					t.Fatalf("a read after the changes took %d statements, want %d", stmts, wantStmts)
				}
			})
		}
	})
}
