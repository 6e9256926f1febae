package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func (s *Store) migrations() ([]migration, error) {
	dir := path.Join("migrations", string(s.dialect))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s is not NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1..n: %d at position %d", m.version, i+1)
		}
	}
	return out, nil
}

// SchemaVersion returns the applied version and the newest this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	ms, err := s.migrations()
	if err != nil {
		return 0, 0, err
	}
	current, err = s.currentVersion(ctx, s.read)
	return current, len(ms), err
}

func (s *Store) currentVersion(ctx context.Context, q querier) (int, error) {
	var exists int
	var probe string
	if s.dialect == Postgres {
		probe = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	} else {
		probe = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	}
	if err := q.QueryRowContext(ctx, probe).Scan(&exists); err != nil {
		return 0, s.classify(err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, s.classify(err)
}

// CheckSchema refuses a database whose schema is not the one this binary
// was built for: older needs `quench migrate`, newer needs a newer Quench.
func (s *Store) CheckSchema(ctx context.Context) error {
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case cur > latest:
		return fmt.Errorf("database schema version %d is newer than this Quench knows (%d): upgrade Quench", cur, latest)
	case cur < latest:
		return fmt.Errorf("database schema version %d is older than %d: run `quench migrate`", cur, latest)
	}
	return nil
}

// Migrate applies pending migrations, each in its own transaction together
// with its version row, under a lock so replicas starting at once do not
// race; a crash mid-way leaves the last complete version. It refuses a
// schema newer than this binary knows.
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := s.migrations()
	if err != nil {
		return 0, err
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return 0, s.classify(err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		// Session-level advisory lock: held across the per-migration
		// transactions below, released when the connection returns.
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7253011)`); err != nil {
			return 0, s.classify(err)
		}
		defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(7253011)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, s.classify(err)
	}
	for {
		cur, err := s.currentVersion(ctx, conn)
		if err != nil {
			return applied, err
		}
		if cur > len(ms) {
			return applied, fmt.Errorf("database schema version %d is newer than this Quench knows (%d): upgrade Quench", cur, len(ms))
		}
		if cur == len(ms) {
			return applied, nil
		}
		m := ms[cur]
		// On SQLite the write connection begins IMMEDIATE: the lock.
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, s.classify(err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, micros(nowUTC())); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("record migration %d: %w", m.version, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, s.classify(err)
		}
		applied++
		s.log.Info("migration applied", "version", m.version, "name", m.name)
	}
}

func nowUTC() time.Time { return time.Now().UTC() }
