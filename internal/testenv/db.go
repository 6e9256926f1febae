// Package testenv runs Quench's real parts in tests: a fresh database per
// test on SQLite and PostgreSQL, and the whole app in-process behind a real
// listener with a clock the test controls.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/store"
)

// RequireAll is set in CI: a missing component fails the test instead of
// skipping it.
func RequireAll() bool { return os.Getenv("QUENCH_TEST_REQUIRE_ALL") == "1" }

// PostgresAdminURL is a database the tests may create databases from; the
// test script starts a private cluster and sets it.
func PostgresAdminURL() string { return os.Getenv("QUENCH_TEST_POSTGRES_URL") }

// Dialects lists the databases a store test runs on.
func Dialects(t testing.TB) []store.Dialect {
	if PostgresAdminURL() == "" {
		if RequireAll() {
			t.Fatal("QUENCH_TEST_POSTGRES_URL is not set but QUENCH_TEST_REQUIRE_ALL=1: run ./scripts/test")
		}
		t.Log("PostgreSQL not configured (QUENCH_TEST_POSTGRES_URL): running on SQLite only")
		return []store.Dialect{store.SQLite}
	}
	return []store.Dialect{store.SQLite, store.Postgres}
}

// EachStore runs fn once per database, each with a fresh migrated store.
func EachStore(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			fn(t, NewStore(t, d))
		})
	}
}

// NewStore opens a fresh, migrated store of dialect d, closed at cleanup.
func NewStore(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	return openStore(t, StoreOptions(t, d))
}

func openStore(t testing.TB, opt store.Options) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// StoreOptions points at a fresh empty database of dialect d.
func StoreOptions(t testing.TB, d store.Dialect) store.Options {
	if d == store.Postgres {
		return store.Options{URL: FreshPostgres(t)}
	}
	return store.Options{DataDir: t.TempDir()}
}

// FreshPostgres creates an empty database for this test and drops it at
// cleanup; it returns the database's URL.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	admin := PostgresAdminURL()
	if admin == "" {
		if RequireAll() {
			t.Fatal("QUENCH_TEST_POSTGRES_URL is not set but QUENCH_TEST_REQUIRE_ALL=1")
		}
		t.Skip("PostgreSQL not configured (QUENCH_TEST_POSTGRES_URL)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "quench_test_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// EachApp runs fn once per database with a fresh app.
func EachApp(t *testing.T, fn func(t *testing.T, app *App)) {
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			fn(t, StartApp(t, d))
		})
	}
}
