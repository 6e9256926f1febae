package store

import (
	"context"
	"time"
)

// Test-only access to the package's internals, for the external tests.

// ErrShuttingDown is what Write returns after Close.
var ErrShuttingDown = errShuttingDown

// MigrateTo applies the migrations up to version target only: a database
// an older quench left.
func MigrateTo(ctx context.Context, s *Store, target int) (int, error) { return s.migrate(ctx, target) }

// SetMigrationLockWait shortens how long Migrate waits for the lock.
func SetMigrationLockWait(s *Store, d time.Duration) { s.lockWait = d }

// CheckpointStep runs one step of the SQLite checkpointer now, with limit
// in place of maxWAL, and returns the WAL's frames before it.
func CheckpointStep(s *Store, limit int64) int64 { return s.checkpointStep(s.ckpt, limit) }

// Exec runs a statement.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.q.ExecContext(ctx, query, args...)
	return err
}

// QueryCount scans a single integer.
func (t *Tx) QueryCount(ctx context.Context, query string, dst *int, args ...any) error {
	return t.q.QueryRowContext(ctx, query, args...).Scan(dst)
}

// Names scans a single column of strings.
func (t *Tx) Names(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// EachRow runs query, whose rows are one integer each, and calls fn with
// each row's number (from 0) after reading the row and before scanning it.
func (t *Tx) EachRow(ctx context.Context, query string, fn func(i int)) error {
	rows, err := t.q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		fn(i)
		var n int64
		if err := rows.Scan(&n); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetMergeAt lowers how many recent alert keys make the SQLite writer
// merge a slice into alert_keys; call it before writing.
func SetMergeAt(s *Store, n int) { s.recent.mergeAt = n }

// AlertKey is the hash alert_keys stores.
var AlertKey = alertKey

// SetKeyFilter lowers the smallest capacity of the SQLite writer's
// filter of alert_keys and the keys it reads into it between batches.
func SetKeyFilter(s *Store, min, chunk int) { s.recent.filterMin, s.recent.fillChunk = min, chunk }

// KeyFilter reports whether the filter of alert_keys is in use and how
// many keys it holds and has room for, read on the writer's goroutine.
func KeyFilter(s *Store) (ready bool, keys, capacity int) {
	s.Write(context.Background(), func(*Tx) error {
		if f := s.recent.filter; f != nil {
			ready, keys, capacity = f.ready, f.n, f.capacity
		}
		return nil
	})
	return ready, keys, capacity
}

// RefillKeyFilter drops the filter of alert_keys: the writer fills a new
// one from the table after its next batch.
func RefillKeyFilter(s *Store) {
	s.Write(context.Background(), func(*Tx) error {
		s.recent.filter, s.recent.filling = nil, nil
		return nil
	})
}

// KeyFilterMayHold asks the filter in use whether alert_keys may hold the
// key of integration and fingerprint, on the writer's goroutine.
func KeyFilterMayHold(s *Store, integration, fingerprint string) (may bool) {
	s.Write(context.Background(), func(*Tx) error {
		may = s.recent.mayBeMerged(alertKey(integration, fingerprint))
		return nil
	})
	return may
}

// OpenIncidentForGroupPg is the query OpenIncidentForGroup runs on
// PostgreSQL.
const OpenIncidentForGroupPg = openIncidentForGroupPg + openIncidentForGroupPgHeld

// IsForeignKey reports a refused reference to a row that does not exist.
var IsForeignKey = isForeignKey

// QueuedWrites is how many SQLite writes wait for the writer.
func QueuedWrites(s *Store) int { return len(s.jobs) }
