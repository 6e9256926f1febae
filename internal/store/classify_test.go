package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/quenchhq/quench/internal/problem"
)

// Errors that mean "the database is away for a moment" are 503s with
// Retry-After, so senders retry; found by the fault suite restarting
// PostgreSQL under load, where each of these was a 500.
func TestClassifyTransient(t *testing.T) {
	s := &Store{dialect: Postgres}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: fmt.Errorf("read: %w", syscall.ECONNRESET)}
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"connection reset under a statement", fmt.Errorf("insert alert: %w", reset), "unavailable"},
		{"transaction ended by database/sql", fmt.Errorf("commit: %w", sql.ErrTxDone), "unavailable"},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, "unavailable"},
		{"disk full", &pgconn.PgError{Code: "53100"}, "storage_full"},
	} {
		err := s.classify(tc.err)
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Unavailable || p.Code != tc.code {
			t.Errorf("%s: classified as %v, want Unavailable %s", tc.name, err, tc.code)
		}
	}
	if err := s.CheckSpace(); !problem.Is(err, "storage_full") {
		t.Errorf("readiness after PostgreSQL's disk_full: %v, want storage_full", err)
	}
	if err := s.classify(&pgconn.PgError{Code: "23505"}); problem.Is(err, "unavailable") || !errors.As(err, new(*pgconn.PgError)) {
		t.Errorf("a unique violation is no outage: %v", err)
	}
}

// Readiness names a full disk even when the database can no longer be
// reached for the same reason: on a full disk PostgreSQL refuses new
// sessions ("could not write init file"), and the fault suite's readiness
// then said "database unavailable" instead of "storage full".
func TestReadyNamesFullStorageFirst(t *testing.T) {
	s, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ready(context.Background()); err == nil || problem.Is(err, "storage_full") {
		t.Fatalf("readiness of a closed store: %v, want an error other than storage_full", err)
	}
	s.noteFull()
	if err := s.Ready(context.Background()); !problem.Is(err, "storage_full") {
		t.Errorf("readiness of a closed store just after a write was refused for lack of space: %v, want storage_full", err)
	}
}
