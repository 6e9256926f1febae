package store

import (
	"context"
	"database/sql"
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

func (m migration) String() string { return fmt.Sprintf("%04d_%s", m.version, m.name) }

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

// SchemaVersion returns the highest applied version and the newest this
// binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	ms, err := s.migrations()
	if err != nil {
		return 0, 0, err
	}
	applied, err := s.applied(ctx, s.read)
	if err != nil {
		return 0, 0, err
	}
	if len(applied) > 0 {
		current = applied[len(applied)-1].version
	}
	return current, len(ms), nil
}

// applied lists the migrations recorded in the database by version; none
// when it has no schema yet.
func (s *Store) applied(ctx context.Context, q querier) ([]migration, error) {
	var exists int
	var probe string
	if s.dialect == Postgres {
		probe = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	} else {
		probe = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	}
	if err := q.QueryRowContext(ctx, probe).Scan(&exists); err != nil {
		return nil, s.classify(err)
	}
	if exists == 0 {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	var out []migration
	for rows.Next() {
		var m migration
		if err := rows.Scan(&m.version, &m.name); err != nil {
			return nil, s.classify(err)
		}
		out = append(out, m)
	}
	return out, s.classify(rows.Err())
}

// matchSchema compares the migrations a database records with the ones
// this binary embeds, by version and name. It returns how many of known
// are applied when they are a prefix of known, and otherwise why this
// binary must not touch the database: a version it does not know (a newer
// Quench migrated it), a hole, or a different migration under a known
// number (another build migrated it). Only the prefix case can be
// migrated forward.
func matchSchema(applied, known []migration) (int, error) {
	if n := len(applied); n > 0 && applied[n-1].version > len(known) {
		return 0, fmt.Errorf("the database schema is newer than this quench knows (%d > %d); use a newer quench",
			applied[n-1].version, len(known))
	}
	for i, a := range applied {
		want := known[i]
		if a.version != want.version {
			return 0, fmt.Errorf("the database schema lacks migration %s although later ones are applied (%d): "+
				"it was not migrated by quench; restore it from a backup", want, a.version)
		}
		if a.name != want.name {
			return 0, fmt.Errorf("the database's migration %d is %q but this quench's is %q: "+
				"it was migrated by a different build; use that build's quench", a.version, a.name, want.name)
		}
	}
	return len(applied), nil
}

// CheckSchema refuses a database whose schema is not exactly the one this
// binary was built for. Every command but serve and migrate checks, never
// migrates: a newer binary must not upgrade the schema under a running
// older server.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return err
	}
	applied, err := s.applied(ctx, s.read)
	if err != nil {
		return err
	}
	n, err := matchSchema(applied, ms)
	switch {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("the database has no quench schema yet (this quench needs version %d): run `quench migrate` (or start `quench serve`)", len(ms))
	case n < len(ms):
		return fmt.Errorf("the database schema is at version %d but this quench needs %d: run `quench migrate` (or start `quench serve`)", n, len(ms))
	}
	return nil
}

// Migrate applies pending migrations, each in its own transaction together
// with its version row, under a lock so replicas starting at once do not
// race; a crash mid-way leaves the last complete version. It refuses a
// schema it cannot bring forward (see matchSchema).
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	return s.migrate(ctx, -1)
}

// migrationLock is the PostgreSQL advisory lock key held while migrating.
const migrationLock = 7253011

// migrationLockWait bounds the wait for another replica's migration: a
// replica stuck holding the lock then stops the others with a clear error
// instead of hanging their start.
const migrationLockWait = 30 * time.Second

// migrate applies pending migrations up to version target (all when
// negative).
func (s *Store) migrate(ctx context.Context, target int) (applied int, err error) {
	ms, err := s.migrations()
	if err != nil {
		return 0, err
	}
	if target >= 0 && target < len(ms) {
		ms = ms[:target]
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return 0, s.classify(err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		// Session-level advisory lock: held across the per-migration
		// transactions below, released before the connection returns.
		if err := s.lockMigrations(ctx, conn); err != nil {
			return 0, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, s.classify(err)
	}
	for {
		// On SQLite the write connection begins IMMEDIATE: the lock, taken
		// before reading what is applied.
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, s.classify(err)
		}
		done, err := s.applied(ctx, tx)
		if err != nil {
			tx.Rollback()
			return applied, err
		}
		n, err := matchSchema(done, ms)
		if err != nil || n == len(ms) {
			tx.Rollback()
			return applied, err
		}
		m := ms[n]
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migration %s: %w", m, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, micros(nowUTC())); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("record migration %s: %w", m, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, s.classify(err)
		}
		applied++
		s.log.Info("migration applied", "version", m.version, "name", m.name)
	}
}

// lockMigrations takes the advisory lock on conn, trying again until
// another replica's migration ends, ctx ends or s.lockWait (30 s unless a
// test shortens it) has passed. pg_try_advisory_lock leaves no session
// setting behind on the pooled connection, as lock_timeout would.
func (s *Store) lockMigrations(ctx context.Context, conn *sql.Conn) error {
	wait := s.lockWait
	if wait <= 0 {
		wait = migrationLockWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	retry := time.NewTicker(200 * time.Millisecond)
	defer retry.Stop()
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, migrationLock).Scan(&ok); err != nil {
			return s.classify(err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for another quench to finish migrating (PostgreSQL advisory lock %d): %w", migrationLock, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("another quench has held the migration lock for %s (PostgreSQL advisory lock %d): "+
				"wait for its migration to finish, or end the session holding it (see pg_locks)", wait, migrationLock)
		case <-retry.C:
		}
	}
}

func nowUTC() time.Time { return time.Now().UTC() }
