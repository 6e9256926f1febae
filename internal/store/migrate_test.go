package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// openBare opens a fresh database of dialect d without migrating it.
func openBare(t *testing.T, d store.Dialect) (*store.Store, store.Options) {
	t.Helper()
	opt := testenv.StoreOptions(t, d)
	s, err := store.Open(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, opt
}

func TestMigrate(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if n, err := s.Migrate(ctx); err != nil || n != 0 {
			t.Fatalf("second migrate applied %d, %v", n, err)
		}
		if err := s.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		cur, latest, _ := s.SchemaVersion(ctx)
		if cur != latest || cur < 1 {
			t.Fatalf("version %d of %d", cur, latest)
		}
	})
}

// A database an older quench left is refused by the check, which changes
// nothing, and brought forward by Migrate.
func TestMigrateFromOlder(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			s, _ := openBare(t, d)
			err := s.CheckSchema(ctx)
			if err == nil || !strings.Contains(err.Error(), "no quench schema yet") || !strings.Contains(err.Error(), "run `quench migrate` (or start `quench serve`)") {
				t.Fatalf("empty database: %v", err)
			}
			if n, err := store.MigrateTo(ctx, s, 2); err != nil || n != 2 {
				t.Fatalf("migrate to 2: %d %v", n, err)
			}
			_, latest, err := s.SchemaVersion(ctx)
			must(t, err)
			want := fmt.Sprintf("the database schema is at version 2 but this quench needs %d: run `quench migrate` (or start `quench serve`)", latest)
			if err := s.CheckSchema(ctx); err == nil || err.Error() != want {
				t.Fatalf("older schema: %v", err)
			}
			if cur, _, _ := s.SchemaVersion(ctx); cur != 2 {
				t.Fatalf("checking moved the schema to %d", cur)
			}
			if n, err := s.Migrate(ctx); err != nil || n != latest-2 {
				t.Fatalf("migrate applied %d, %v", n, err)
			}
			must(t, s.CheckSchema(ctx))
		})
	}
}

// A database this quench cannot account for, migration by migration, is
// refused by the check and by Migrate, and left as it was.
func TestSchemaMismatchRefused(t *testing.T) {
	tests := []struct {
		name   string
		change func(latest int) string
		want   func(latest int) string
	}{
		{"newer", func(l int) string {
			return fmt.Sprintf(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'future', 0)`, l+1)
		}, func(l int) string {
			return fmt.Sprintf("the database schema is newer than this quench knows (%d > %d); use a newer quench", l+1, l)
		}},
		{"far newer", func(l int) string {
			return `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`
		}, func(l int) string { return fmt.Sprintf("(999 > %d)", l) }},
		{"missing in the middle", func(int) string { return `DELETE FROM schema_migrations WHERE version = 2` },
			func(int) string { return "lacks migration 0002_intake although later ones are applied (3)" }},
		{"renamed", func(int) string { return `UPDATE schema_migrations SET name = 'accounts_v2' WHERE version = 3` },
			func(int) string { return `migration 3 is "accounts_v2" but this quench's is "accounts"` }},
	}
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, latest, err := s.SchemaVersion(ctx)
		must(t, err)
		applied := func() []string {
			return read(t, s, func(tx *store.Tx) ([]string, error) {
				return tx.Names(ctx, `SELECT CAST(version AS TEXT) || ' ' || name FROM schema_migrations ORDER BY version`)
			})
		}
		orig := applied()
		for _, tt := range tests {
			must(t, s.Write(ctx, func(tx *store.Tx) error { return tx.Exec(ctx, tt.change(latest)) }))
			before := applied()
			for what, err := range map[string]error{"CheckSchema": s.CheckSchema(ctx), "Migrate": func() error { _, err := s.Migrate(ctx); return err }()} {
				if err == nil || !strings.Contains(err.Error(), tt.want(latest)) {
					t.Errorf("%s: %s: %v, want %q", tt.name, what, err, tt.want(latest))
				}
			}
			if after := applied(); !slices.Equal(after, before) {
				t.Errorf("%s: schema_migrations changed from %v to %v", tt.name, before, after)
			}
			// Put the list back for the next case.
			must(t, s.Write(ctx, func(tx *store.Tx) error { return tx.Exec(ctx, `DELETE FROM schema_migrations`) }))
			for _, row := range orig {
				v, name, _ := strings.Cut(row, " ")
				must(t, s.Write(ctx, func(tx *store.Tx) error {
					return tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)`, v, name)
				}))
			}
			must(t, s.CheckSchema(ctx))
		}
	})
}

// A replica that cannot get the migration lock gives up with a clear
// error instead of waiting forever, and migrates once the lock is free.
func TestMigrationLockWait(t *testing.T) {
	ctx := context.Background()
	s, opt := openBare(t, store.Postgres)
	holder, err := sql.Open("pgx", opt.URL)
	must(t, err)
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	must(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `SELECT pg_advisory_lock(7253011)`)
	must(t, err)

	store.SetMigrationLockWait(s, 300*time.Millisecond)
	_, err = s.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "another quench has held the migration lock for 300ms") {
		t.Fatalf("held lock: %v", err)
	}
	store.SetMigrationLockWait(s, time.Hour)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := s.Migrate(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context ended while waiting: %v", err)
	}
	if cur, _, _ := s.SchemaVersion(ctx); cur != 0 {
		t.Fatalf("migrated without the lock to %d", cur)
	}

	_, err = conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7253011)`)
	must(t, err)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, s.CheckSchema(ctx))
}
